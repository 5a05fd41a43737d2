from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


class TrialsConfig(AppConfig):
    name = "trials"
    verbose_name = "Trials registry"

    def ready(self):
        # The data version (trials/data_version.py): a trigger on every table of the project's apps after each
        # migrate, and the public counts counted afresh after each commit that changed the registry.
        from trials import data_version, search_index

        post_migrate.connect(data_version.install_triggers, sender=self, dispatch_uid="registry_data_triggers")
        # The search index's triggers (trials/search_index.py), and every trial's text rebuilt.
        post_migrate.connect(search_index.install, sender=self, dispatch_uid="registry_search_index")
        for signal in (post_save, post_delete, m2m_changed):
            signal.connect(data_version.registry_written, dispatch_uid=f"registry_written_{id(signal)}")
