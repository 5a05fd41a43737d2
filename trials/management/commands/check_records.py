from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from trials import integrity
from trials.models import Trial


class Command(BaseCommand):
    help = (
        "Check every trial against the record integrity rules (trials/integrity.py) and print each problem. "
        "Exits with an error when a problem is blocking (it stops publication)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--published", action="store_true", help="Only the published trials.")

    def handle(self, *args, published, **options):
        today = timezone.localdate()
        trials = Trial.objects.published() if published else Trial.objects.all()
        trials = trials.order_by("slug").prefetch_related(*integrity.PREFETCH)
        counts = {"trials": 0, "with problems": 0, "problems": 0, "blocking": 0}
        for trial in trials:
            counts["trials"] += 1
            found = integrity.problems(integrity.facts_of(trial), today)
            if found:
                counts["with problems"] += 1
            for problem in found:
                counts["problems"] += 1
                counts["blocking"] += problem.blocking
                mark = "BLOCKING " if problem.blocking else ""
                self.stdout.write(f"{trial.slug}: {mark}{problem.rule}: {problem.message}")
        summary = (
            f"{counts['trials']} trial(s) checked: {counts['problems']} problem(s) in {counts['with problems']} "
            f"trial(s), {counts['blocking']} blocking."
        )
        if counts["blocking"]:
            raise CommandError(summary)
        self.stdout.write(summary)
