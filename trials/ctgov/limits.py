"""Limits on what a ClinicalTrials.gov import brings in, so that every draft fits the registry and its admin.

The admin posts a trial's whole page (its fields and every inline row) as one form, which Django refuses
past DATA_UPLOAD_MAX_MEMORY_SIZE bytes (2.5 MB by default) and DATA_UPLOAD_MAX_NUMBER_FIELDS fields (1,000):
an imported draft whose text or rows went past them could never be saved again. So free text is cut at the
lengths below and inline rows are counted, with a warning on the draft and in the import's summary; together
they stay well inside both limits even in the worst case (every character four bytes of UTF-8, sent
percent-encoded: 12 bytes a character), leaving room for the curator's own work. tests/test_ctgov_limits.py
holds the sums to those settings and saves a draft at every limit through the admin.

`cap_record(record, warnings)` applies them to one record of the registry's data format (what
`study_to_record` returns), just before it is saved.
"""

from trials.ctgov import Record

# Free text of the trial: characters kept (ClinicalTrials.gov's own limits, where it has one, are lower:
# official title 600, brief summary 5,000).
TEXT_LIMITS = {
    "official_title": 1_000,
    "summary": 10_000,
    "population_notes": 5_000,
    "cell_notes": 20_000,
    "curator_notes": 20_000,
}
COLLABORATORS_LENGTH = 5_000  # all names, one a line
CITATION_LENGTH = 2_000
MAX_PUBLICATIONS = 30  # inline rows of 8 form fields each
MAX_SECONDARY_IDENTIFIERS = 20  # inline rows of 5 form fields each
DOI_LENGTH = 200  # Publication.doi's max_length (tests/test_ctgov_limits.py checks they agree)
MAX_ENROLLMENT = 1_000_000  # the admin's own bound: a larger number is taken for a typing error

# Characters an import may put into one draft, in all: the sum of the limits above.
MAX_DRAFT_CHARACTERS = (
    sum(TEXT_LIMITS.values())
    + COLLABORATORS_LENGTH
    + MAX_PUBLICATIONS * (CITATION_LENGTH + DOI_LENGTH + 10)
    + (1 + MAX_SECONDARY_IDENTIFIERS) * 100
    + 300  # brief title
    + 60  # acronym
    + 200  # sponsor
    + 200  # product name
    + 1_000  # the source row
)

# What comes in through the admin's import page.
MAX_UPLOAD_FILES = 20
MAX_UPLOAD_BYTES = 20_000_000  # all files of one upload together; each file at most MAX_DOCUMENT_BYTES
MAX_FETCH = 5  # NCT numbers fetched per page request: within the rate limit's burst
NCT_FIELD_LENGTH = 200  # characters in the fetch form's field: five NCT numbers with separators take 60
FETCH_DEADLINE = 4.0  # seconds for all the fetches of one page, whatever their number: the page answers within 5


def cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending with “…” when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cap_record(record: Record, warnings: list[str]) -> list[str]:
    """Cut `record`'s free text and rows at the limits above, in place. `warnings` (plain words, each about
    this record) gets one line per cut, and every warning is written at the top of the curator's notes, so
    that the draft shows them. Returns `warnings`."""
    for name, limit in TEXT_LIMITS.items():
        if name != "curator_notes" and len(record.get(name) or "") > limit:
            warnings.append(
                f"the {name.replace('_', ' ')} is {len(record[name]):,} characters: cut at {limit:,} "
                "(the whole text is on the registry's record)"
            )
            record[name] = cut(record[name], limit)

    collaborators, kept, length = record.get("collaborators") or [], [], 0
    for name in collaborators:
        length += len(name) + 1
        if length > COLLABORATORS_LENGTH:
            break
        kept.append(name)
    if len(kept) < len(collaborators):
        warnings.append(
            f"{len(collaborators):,} collaborators: the first {len(kept)} are listed (the others are on the "
            "registry's record)"
        )
        record["collaborators"] = kept

    identifiers = record.get("identifiers") or []
    secondary = [item for item in identifiers if not item.get("primary")]
    if len(secondary) > MAX_SECONDARY_IDENTIFIERS:
        dropped = [item["value"] for item in secondary[MAX_SECONDARY_IDENTIFIERS:]]
        warnings.append(
            f"{len(secondary):,} further identifiers: the first {MAX_SECONDARY_IDENTIFIERS} are added, not "
            f"{', '.join(dropped[:10])}{' …' if len(dropped) > 10 else ''}"
        )
        record["identifiers"] = [item for item in identifiers if item.get("primary")] + secondary[
            :MAX_SECONDARY_IDENTIFIERS
        ]

    publications = record.get("publications") or []
    if len(publications) > MAX_PUBLICATIONS:
        dropped = [item["pmid"] for item in publications[MAX_PUBLICATIONS:]]
        warnings.append(
            f"{len(publications):,} references with a PMID: the first {MAX_PUBLICATIONS} are added as "
            f"publications, not PMID {', '.join(dropped[:10])}{' …' if len(dropped) > 10 else ''}"
        )
        record["publications"] = publications = publications[:MAX_PUBLICATIONS]
    for item in publications:
        if len(item.get("citation") or "") > CITATION_LENGTH:
            warnings.append(
                f"the citation of PMID {item['pmid']} is {len(item['citation']):,} characters: cut at "
                f"{CITATION_LENGTH:,}"
            )
            item["citation"] = cut(item["citation"], CITATION_LENGTH)
        if len(item.get("doi") or "") > DOI_LENGTH:
            warnings.append(f"the DOI in the citation of PMID {item['pmid']} is too long to be one: left out")
            item["doi"] = ""

    enrollment = record.get("enrollment")
    if enrollment is not None and enrollment > MAX_ENROLLMENT:
        warnings.append(
            f"the enrollment on the registry, {enrollment:,}, is more than the registry accepts "
            f"({MAX_ENROLLMENT:,}): left empty, to check"
        )
        record["enrollment"], record["enrollment_type"] = None, ""

    notes = record.get("curator_notes") or ""
    if warnings:
        notes = "Warnings from the import:\n" + "\n".join(f"- {line}." for line in warnings) + "\n\n" + notes
    record["curator_notes"] = cut(notes, TEXT_LIMITS["curator_notes"])
    return warnings
