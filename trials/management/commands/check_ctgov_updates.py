from django.core.management.base import BaseCommand

from trials.actions import check_ctgov_updates
from trials.ctgov.client import CtgovClient


class Command(BaseCommand):
    help = (
        "Fetch the ClinicalTrials.gov record of every published trial with an NCT number, compare it with "
        "the curated trial and record the differences as registry updates for curators (never changing a "
        "trial). Meant for a daily cron job; stays under the API's rate limit."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Fetch and compare; record nothing.")

    def handle(self, *args, dry_run, **options):
        summary = check_ctgov_updates(client=CtgovClient(), dry_run=dry_run)
        for message in summary.errors:
            self.stderr.write(message)
        prefix = "Dry run, nothing recorded: " if dry_run else ""
        self.stdout.write(prefix + str(summary))
        if summary.errors and not (summary.updates or summary.unchanged):
            # Nothing could be checked: let cron report it.
            raise SystemExit(1)
