from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict
from django.utils import timezone

from trials.exports import csv_lines, export_rows
from trials.filters import TrialFilter, filtered_trials

LIST_OPTIONS = ["sort"]  # the list's own parameter that changes the file (page and page_size do not)


class Command(BaseCommand):
    help = (
        "Write the CSV export of the published trials, with the filters of /trials/, to stdout or a file: "
        "the same file as /trials/export.csv. Filters as options (--status RECRUITING --status COMPLETED "
        "--phase PHASE1) or as a query string copied from the list's address (--query 'status=RECRUITING')."
    )

    def add_arguments(self, parser):
        for name, filter_ in TrialFilter.base_filters.items():
            repeatable = name not in {"q", "started_after", "started_before"}
            parser.add_argument(
                f"--{name}",
                action="append" if repeatable else "store",
                metavar="VALUE",
                help=f"{filter_.label}{' (repeatable)' if repeatable else ''}.",
            )
        parser.add_argument("--sort", help="Order, as the list's sort parameter (e.g. -start, title).")
        parser.add_argument("--query", default="", help="A query string of /trials/, e.g. 'phase=PHASE1&sort=title'.")
        parser.add_argument("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
        parser.add_argument("--bom", action="store_true", help="Start with a UTF-8 byte-order mark (for Excel).")

    def handle(self, *args, query, output, bom, **options):
        data = QueryDict(query, mutable=True)
        for name in [*TrialFilter.base_filters, *LIST_OPTIONS]:
            value = options.get(name)
            if value is not None:
                data.setlist(name, value if isinstance(value, list) else [value])
        today = timezone.localdate()
        filterset, trials = filtered_trials(data, today=today)
        if trials is None:
            problems = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in filterset.errors.items())
            raise CommandError(f"Nothing exported: {problems}")
        lines = csv_lines(export_rows(trials, today=today), bom=bom)
        if output:
            count = -1  # the header is not a trial
            with open(output, "w", encoding="utf-8", newline="") as file:
                for line in lines:
                    file.write(line)
                    count += 1
            self.stdout.write(f"Exported {count} trial{'s' if count != 1 else ''} to {output}.")
        else:
            for line in lines:
                self.stdout.write(line, ending="")
