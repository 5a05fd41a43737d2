"""Fill a database of its own with synthetic trials of realistic shape, for benchmarks and load tests.

Every synthetic trial is marked where readers see it: its brief title starts with "[SYNTHETIC] ", its
sponsor is "Synthetic benchmark data", its slug starts with "synthetic-" and its primary identifier is
"SYNTHETIC-<number>" (registry "Other"). Shapes follow the curated trials in trials/data/initial_trials.json:
each group of related fields (design and dates; cells; routes; countries; mechanisms; diabetes types)
is copied from a curated trial drawn at random, dates shifted together by up to three years, and the texts
are made of the curated texts' words at the curated texts' lengths.
"""

import random
import re
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Q

from mechanisms.models import Mechanism
from trials import data_version
from trials.actions import read_records, trial_fields
from trials.models import RegistryIdentifier, SearchEntry, Trial, TrialMechanism
from trials.vocabularies import PRECISE_DATES, CurationState, Registry

TITLE_PREFIX = "[SYNTHETIC] "
SLUG_PREFIX = "synthetic-"
SPONSOR = "Synthetic benchmark data"
IDENTIFIER_PREFIX = "SYNTHETIC-"
SCRATCH_NAME = re.compile(r"bench|loadtest|synthetic|scratch|test", re.IGNORECASE)

GROUPS = {
    "design": [
        "study_type",
        "phase",
        "overall_status",
        "status_confirmed_on",
        "status_confirmed_on_precision",
        "last_reviewed_on",
        "enrollment",
        "enrollment_type",
        "sponsor_class",
        "follow_up_months",
        *(f"{name}{suffix}" for name in PRECISE_DATES for suffix in ("", "_precision", "_type")),
    ],
    "cells": ["cell_source", "cell_origin", "differentiation", "encapsulation", "gene_edited", "immunosuppression"],
}
DATES = [*PRECISE_DATES, "status_confirmed_on", "last_reviewed_on"]
TEXTS = [
    "official_title",
    "summary",
    "population_notes",
    "cell_notes",
    "route_notes",
    "immunosuppression_notes",
    "key_results",
    "enrollment_notes",
    "product_name",
    "acronym",
]


def is_synthetic_q():
    return Q(slug__startswith=SLUG_PREFIX)


def database_name():
    return str(connection.settings_dict["NAME"])


def check_database(alongside_curated):
    """Refuse the default database always, and a database with curated trials unless asked for, by name."""
    name = database_name()
    if Path(name) == Path(settings.BASE_DIR) / "db.sqlite3":
        raise CommandError(
            "Refusing to add synthetic trials to the default database (db.sqlite3). Give a database of "
            "its own, e.g. DATABASE_URL=sqlite:////tmp/loadtest.sqlite3 or postgres://.../registry_bench."
        )
    curated = Trial.objects.exclude(is_synthetic_q()).count()
    if curated and not alongside_curated:
        raise CommandError(
            f"This database ({name}) holds {curated} curated trials. Synthetic trials go into a database of "
            "their own; for the load test's curated-plus-synthetic setup pass --alongside-curated."
        )
    if curated and not SCRATCH_NAME.search(Path(name).name):
        raise CommandError(
            f"--alongside-curated needs a scratch database whose name says so (bench, loadtest, synthetic, "
            f"scratch or test): {name!r} may be a real registry."
        )


class Generator:
    """Draws synthetic trials from the curated records' shapes (deterministic for a given seed)."""

    def __init__(self, records, seed):
        self.random = random.Random(seed)
        self.records = records
        self.fields = [trial_fields(record) for record in records]
        text = " ".join(str(f.get(name) or "") for f in self.fields for name in [*TEXTS, "brief_title"])
        self.words = re.findall(r"[A-Za-z][A-Za-z0-9-]{2,}", text)
        self.mechanisms = {m.slug: m for m in Mechanism.objects.all()}

    def text(self, length):
        if not length:
            return ""
        words, size = [], 0
        while size < length:
            word = self.random.choice(self.words)
            words.append(word)
            size += len(word) + 1
        return " ".join(words)[:length].rstrip().capitalize()

    def pick(self):
        return self.random.randrange(len(self.records))

    def trial(self, number):
        design, cells, texts = self.fields[self.pick()], self.fields[self.pick()], self.fields[self.pick()]
        values = {name: design[name] for name in GROUPS["design"]}
        values.update({name: cells[name] for name in GROUPS["cells"]})
        shift = timedelta(days=self.random.randint(-3 * 365, 3 * 365))
        for name in DATES:
            if values.get(name):
                values[name] = values[name] + shift
        values.update({name: self.text(len(texts[name] or "")) for name in TEXTS})
        values["acronym"] = values["acronym"][:60]
        values["product_name"] = values["product_name"][:200]
        values["enrollment_notes"] = values["enrollment_notes"][:300]
        title = self.text(max(20, len(texts["brief_title"])))
        state = self.random.choices(
            [CurationState.PUBLISHED, CurationState.DRAFT, CurationState.REVIEW], weights=[92, 5, 3]
        )[0]
        return Trial(
            slug=f"{SLUG_PREFIX}{number}",
            brief_title=(TITLE_PREFIX + title)[:300],
            sponsor=SPONSOR,
            curation_state=state,
            curator_notes="Synthetic trial made by manage.py make_synthetic_trials: not a real trial.",
            **values,
        )

    def links(self, trial):
        """The many-valued parts, each from a curated record drawn at random."""
        return {
            "diabetes_types": self.records[self.pick()].get("diabetes_types", []),
            "routes": self.records[self.pick()].get("routes", []),
            "countries": self.records[self.pick()].get("countries", []),
            "mechanisms": self.records[self.pick()].get("mechanisms", []),
        }


def compact_search_entries():
    """PostgreSQL, outside a transaction: rewrite the search entries' table without its dead rows.

    Its triggers wrote each new trial's entry once per table that feeds it (the trial, its identifiers, mechanisms,
    diabetes types, routes and countries), so a bulk load leaves five dead versions for each live one, and the live
    ones scattered among them: at 100,000 trials the table took 544 MB instead of 85, and a search that matched
    38,173 trials read 14,014 of its pages (a search with nothing cached: 152 ms p50, 116 once compacted). Any bulk
    load would want the same (`VACUUM (FULL, ANALYZE) trial_search_entry`; it locks the table for a few seconds)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (FULL, ANALYZE) {SearchEntry._meta.db_table}")


class Command(BaseCommand):
    help = (
        "Add N synthetic trials of realistic shape, marked '[SYNTHETIC] ' in their titles, to a database of "
        "their own (never the default db.sqlite3). For the load test's curated-plus-synthetic setup, pass "
        "--alongside-curated on a scratch database whose name says so."
    )

    def add_arguments(self, parser):
        parser.add_argument("count", type=int, help="How many synthetic trials to add.")
        parser.add_argument(
            "--alongside-curated",
            action="store_true",
            help="Allow a database that holds curated trials (its name must contain bench, loadtest, "
            "synthetic, scratch or test).",
        )
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (default %(default)s).")
        parser.add_argument("--batch-size", type=int, default=2000, help="Rows per insert (default %(default)s).")

    def handle(self, *args, count, alongside_curated, seed, batch_size, **options):
        if count < 1:
            raise CommandError("count must be at least 1.")
        check_database(alongside_curated)
        generator = Generator(read_records(), seed)
        with transaction.atomic():
            start = Trial.objects.filter(is_synthetic_q()).count() + 1
            for first in range(start, start + count, batch_size):
                last = min(first + batch_size, start + count)
                self.insert_batch(generator, range(first, last), batch_size)
        compact_search_entries()
        published = Trial.objects.filter(is_synthetic_q(), curation_state=CurationState.PUBLISHED).count()
        self.stdout.write(
            f"Added {count} synthetic trials to {database_name()}: now {Trial.objects.count()} trials "
            f"({published} synthetic ones published)."
        )

    def insert_batch(self, generator, numbers, batch_size):
        trials = Trial.objects.bulk_create([generator.trial(n) for n in numbers], batch_size=batch_size)
        identifiers, mechanism_links = [], []
        through = {name: (getattr(Trial, name).through, []) for name in ("diabetes_types", "routes", "countries")}
        column = {"diabetes_types": "diabetestypeterm_id", "routes": "routeterm_id", "countries": "country_id"}
        for number, trial in zip(numbers, trials, strict=True):
            identifiers.append(
                RegistryIdentifier(
                    trial=trial, registry=Registry.OTHER, value=f"{IDENTIFIER_PREFIX}{number:07d}", is_primary=True
                )
            )
            links = generator.links(trial)
            for name, (model, rows) in through.items():
                rows.extend(model(trial_id=trial.pk, **{column[name]: code}) for code in links[name])
            for item in links["mechanisms"]:
                mechanism_links.append(
                    TrialMechanism(
                        trial=trial,
                        mechanism=generator.mechanisms[item["mechanism"]],
                        role=item.get("role", "PRIMARY"),
                        rationale=generator.text(len(item["rationale"])) or "Synthetic rationale.",
                    )
                )
        RegistryIdentifier.objects.bulk_create(identifiers, batch_size=batch_size)
        TrialMechanism.objects.bulk_create(mechanism_links, batch_size=batch_size)
        for model, rows in through.values():
            model.objects.bulk_create(rows, batch_size=batch_size)
        # bulk_create sends no signal: name the new trials, whose problems are stored once this commits.
        data_version.schedule_refresh(trial_ids=[trial.pk for trial in trials])
