from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from trials.actions import INITIAL_DATA, RecordError, load_trials, read_data_file


class Command(BaseCommand):
    help = (
        "Load the registry's curated trials (trials/data/initial_trials.json; its README says how). Idempotent "
        "and all or nothing: creates the trials not in the database yet, brings those no curator changed since "
        "they were loaded to the file's version, and for those a curator changed keeps the curator's values and "
        "proposes the file's differences for review (Registry updates)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", default=INITIAL_DATA, help="Data file (default: %(default)s).")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; write nothing.")

    def handle(self, *args, file, dry_run, **options):
        try:
            summary = load_trials(read_data_file(file), dry_run=dry_run)
        except (OSError, ValueError, KeyError, RecordError, IntegrityError) as error:
            raise CommandError(f"Nothing loaded from {file}: {error}") from error
        prefix = "Dry run, nothing written: " if dry_run else "Initial data: "
        self.stdout.write(prefix + str(summary))
