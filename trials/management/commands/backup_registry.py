from django.core.management.base import BaseCommand

from trials.backup import write_backup


class Command(BaseCommand):
    help = (
        "Back up the whole registry (trials, links, history, mechanisms, users, groups, admin log) to one "
        "JSON file, gzip-compressed when its name ends in .gz. Restore it with restore_registry."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The backup file to write, e.g. backups/registry-2026-11-24.json.gz")

    def handle(self, *args, path, **options):
        counts = write_backup(path)
        self.stdout.write(f"Backed up {summary(counts)} to {path}")


def summary(counts):
    keys = [("trials.Trial", "trials"), ("trials.HistoricalTrial", "trial history records"), ("auth.User", "users")]
    parts = [f"{counts.get(label, 0)} {name}" for label, name in keys]
    return f"{sum(counts.values())} rows ({', '.join(parts)})"
