from django.core.management.base import BaseCommand, CommandError

from trials.actions import INITIAL_DATA, RecordError, load_trials, read_records


class Command(BaseCommand):
    help = (
        "Load the registry's initial curated trials (trials/data/initial_trials.json). Idempotent: creates "
        "the trials not in the database yet and never overwrites one a curator may have changed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", default=INITIAL_DATA, help="Data file (default: %(default)s).")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; write nothing.")

    def handle(self, *args, file, dry_run, **options):
        try:
            summary = load_trials(read_records(file), dry_run=dry_run)
        except (OSError, ValueError, KeyError, RecordError) as error:
            raise CommandError(f"Nothing loaded from {file}: {error}") from error
        prefix = "Dry run, nothing written: " if dry_run else "Initial data: "
        self.stdout.write(prefix + str(summary))
