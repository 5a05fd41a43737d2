import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trials import curation_format, records

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


class Command(BaseCommand):
    help = (
        "Convert a curation (curated-trials.json, format version 2, as described by its SCHEMA.md) into the "
        "registry's data file (trials/data/initial_trials.json), which load_initial_data reads. The previous "
        "data file gives the facts the curation does not carry and the fingerprints of the records it held, "
        "so that databases loaded from it upgrade with nothing lost."
    )

    def add_arguments(self, parser):
        parser.add_argument("curation", help="The curation's JSON file (a list of trial records).")
        parser.add_argument("--reviewed-on", required=True, help="The date the curation was reviewed (YYYY-MM-DD).")
        parser.add_argument(
            "--previous", default=DATA_DIR / "initial_trials.json", help="The previous data file (%(default)s)."
        )
        parser.add_argument(
            "--earlier",
            action="append",
            default=[],
            help="An earlier version of the data file whose records databases may still hold (repeatable).",
        )
        parser.add_argument("-o", "--output", default=DATA_DIR / "initial_trials.json", help="(%(default)s)")

    def handle(self, *args, curation, reviewed_on, previous, earlier, output, **options):
        try:
            given = json.loads(Path(curation).read_text(encoding="utf-8"))
            before = json.loads(Path(previous).read_text(encoding="utf-8")) if previous else {"trials": []}
            older = [json.loads(Path(path).read_text(encoding="utf-8")) for path in earlier]
            countries = json.loads((DATA_DIR / "countries.json").read_text(encoding="utf-8"))["countries"]
            lookup = {country["name"].lower(): country["code"] for country in countries}
            data = curation_format.convert(given, countries=lookup, previous=before["trials"], reviewed_on=reviewed_on)
        except (OSError, ValueError, KeyError) as error:
            raise CommandError(f"Nothing written: {error}") from error
        # Every version of a record that databases may hold, so the loader can tell an untouched trial.
        loaded_before = {slug: list(prints) for slug, prints in before.get("loaded_before", {}).items()}
        for record in [record for data_file in (*older, before) for record in data_file["trials"]]:
            prints = loaded_before.setdefault(record["slug"], [])
            if (fingerprint := records.fingerprint(record)) not in prints:
                prints.append(fingerprint)
        data["loaded_before"] = dict(sorted(loaded_before.items()))
        text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
        Path(output).write_text(text, encoding="utf-8")
        self.stdout.write(f"{len(data['trials'])} trials written to {output} (version {reviewed_on}).")
