from django.core.management.base import BaseCommand, CommandError

from trials.actions import import_ctgov_files


class Command(BaseCommand):
    help = (
        'Import ClinicalTrials.gov API v2 study JSON (one study per file, or a page {"studies": [...]}). '
        "A new NCT number becomes a draft trial; for one already in the registry the differences are "
        "recorded as a registry update for curators. Nothing is overwritten or published."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="Study JSON files.")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; write nothing.")

    def handle(self, *args, files, dry_run, **options):
        summary = import_ctgov_files(files, dry_run=dry_run)
        for message in summary.errors:
            self.stderr.write(message)
        prefix = "Dry run, nothing written: " if dry_run else "ClinicalTrials.gov import: "
        self.stdout.write(prefix + str(summary))
        if summary.errors and not (summary.created or summary.updates or summary.unchanged):
            raise CommandError("No record could be imported.")
