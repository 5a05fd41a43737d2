from django.core.management.base import BaseCommand

from trials.actions import setup_roles


class Command(BaseCommand):
    help = "Create or update the Curator and Editor groups and their permissions (safe to run again)."

    def handle(self, *args, **options):
        result = setup_roles()
        self.stdout.write(", ".join(f"{name}: {count} permissions" for name, count in result.items()))
