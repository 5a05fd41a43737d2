from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from trials.actions import import_ctgov_files


class Command(BaseCommand):
    help = (
        'Import ClinicalTrials.gov API v2 study JSON (one study per file, or a page {"studies": [...]}). '
        "A new NCT number becomes a draft trial; for one already in the registry the differences are "
        "recorded as a registry update for curators. Nothing is overwritten or published. Prints one line per "
        "record, then a summary; exits with status 1 if any record failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="Study JSON files.")
        parser.add_argument(
            "--user", metavar="USERNAME", help="The curator importing: named in the drafts' history as their author."
        )
        parser.add_argument("--dry-run", action="store_true", help="Check and report; write nothing.")

    def handle(self, *args, files, user, dry_run, **options):
        try:
            account = self.account(user) if user else None
            summary = import_ctgov_files(files, user=account, dry_run=dry_run)
        except DatabaseError as error:
            raise CommandError(f"Nothing imported: the database cannot be used ({error}).".strip()) from None
        for line in summary.outcomes:
            self.stdout.write(line)
        for message in summary.warnings:
            self.stdout.write(f"Warning: {message}")
        for message in summary.errors:
            self.stderr.write(message)
        prefix = "Dry run, nothing written: " if dry_run else "ClinicalTrials.gov import: "
        self.stdout.write(prefix + str(summary))
        if summary.errors:
            raise CommandError(f"{len(summary.errors)} of {summary.total} record(s) failed (see above).")

    def account(self, username):
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No account with the user name {username!r}: give a curator's user name.") from None
