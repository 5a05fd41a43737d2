from django.core.management.base import BaseCommand, CommandError

from trials.backup import RestoreError, restore_backup

from .backup_registry import summary


class Command(BaseCommand):
    help = (
        "Restore a backup written by backup_registry into a migrated database. Refuses a database that "
        "holds trials or users unless --replace is given. All or nothing, checked row count by row count."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The backup file (.json or .json.gz).")
        parser.add_argument(
            "--replace", action="store_true", help="Delete everything in this database first (irreversible)."
        )

    def handle(self, *args, path, replace, **options):
        try:
            counts = restore_backup(path, replace=replace)
        except RestoreError as error:
            raise CommandError(f"Nothing restored: {error}") from error
        self.stdout.write(f"Restored {summary(counts)} from {path}")
