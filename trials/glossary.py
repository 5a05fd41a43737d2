"""The field's terms and abbreviations in plain words: the glossary page (/glossary/) and the links that explain
them where they appear in curated texts (the `explain` template filter, trials/templatetags/registry.py).

Each term: its anchor, the words as written (the first is the heading), its expansion when it is an abbreviation,
and what it means. Definitions are this registry's own plain wording of standard usage.
"""

import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Term:
    slug: str
    words: tuple[str, ...]  # as readers meet them; matched whole, case as given for abbreviations
    expansion: str  # what an abbreviation stands for, or ""
    meaning: str

    @property
    def name(self):
        return self.words[0]


TERMS = [
    Term(
        "allogeneic",
        ("allogeneic", "allogenic"),
        "",
        "From another person (a donor) or from a cell line, not from the patient. Such cells can be rejected by "
        "the immune system, so many allogeneic treatments need drugs that suppress it.",
    ),
    Term(
        "autologous",
        ("autologous",),
        "",
        "From the patient's own body, such as their own bone marrow or fat. Such cells are not rejected.",
    ),
    Term(
        "beta-cell",
        ("beta cell", "beta cells", "β cells"),
        "",
        "The cells of the pancreas that make insulin. In type 1 diabetes the immune system destroys them.",
    ),
    Term(
        "c-peptide",
        ("C-peptide",),
        "",
        "A small protein released with every molecule of insulin the body makes itself. Measuring it shows how "
        "much insulin a person still makes, even when they inject insulin too.",
    ),
    Term(
        "encapsulation",
        ("encapsulated", "encapsulation"),
        "",
        "Putting cells inside a device or capsule that lets insulin and nutrients through but is meant to keep "
        "immune cells out.",
    ),
    Term(
        "esc",
        ("ESC", "embryonic stem cells"),
        "embryonic stem cells",
        "Stem cells from an early embryo, which can become almost any cell type, including insulin-making cells.",
    ),
    Term(
        "hba1c",
        ("HbA1c",),
        "glycated haemoglobin",
        "A blood test of average blood sugar over the last two to three months. Lower is better, down to the "
        "target a person's diabetes team sets.",
    ),
    Term(
        "hsct",
        ("HSCT", "AHST", "AHSCT"),
        "haematopoietic stem cell transplantation",
        "Collecting a person's blood-forming stem cells, suppressing or resetting their immune system with "
        "drugs, then giving the cells back. Tested in new type 1 diabetes to stop the immune attack.",
    ),
    Term(
        "hypoglycaemia",
        ("hypoglycaemia", "hypoglycemia", "hypoglycaemic", "hypoglycemic"),
        "",
        "Low blood sugar. Severe episodes, where a person needs someone else's help, are dangerous; islet "
        "treatments often aim to stop them.",
    ),
    Term(
        "immunosuppression",
        ("immunosuppression", "immunosuppressive", "immunosuppressants"),
        "",
        "Medicines that damp the immune system so that it does not reject transplanted cells. They have side "
        "effects of their own, such as infections.",
    ),
    Term(
        "insulin-independence",
        ("insulin independence", "insulin-independent", "insulin independent"),
        "",
        "No longer needing insulin injections, at least for a time. It does not by itself mean a cure.",
    ),
    Term(
        "ipsc",
        ("iPSC", "iPS cells", "induced pluripotent stem cells"),
        "induced pluripotent stem cells",
        "Adult cells, such as skin or blood cells, reprogrammed in the laboratory to behave like embryonic stem "
        "cells; they can then be guided to become insulin-making cells.",
    ),
    Term(
        "islet",
        ("islet", "islets"),
        "",
        "Small clusters of cells in the pancreas, including the beta cells, that control blood sugar.",
    ),
    Term(
        "msc",
        ("MSC", "MSCs", "mesenchymal stromal cells", "mesenchymal stem cells"),
        "mesenchymal stromal (or stem) cells",
        "Support cells found in bone marrow, fat and umbilical cord (Wharton's jelly). They do not become beta "
        "cells; trials test whether they calm the immune attack or help other cells survive.",
    ),
    Term(
        "phase",
        ("Phase 1", "Phase 2", "Phase 3"),
        "",
        "The stage of testing: phase 1 checks safety in a few people, phase 2 looks for signs that it works and "
        "the right dose, phase 3 compares it with standard care in many people.",
    ),
    Term(
        "placebo",
        ("placebo",),
        "",
        "A dummy treatment given to a comparison group, so that the real treatment's effect can be told apart.",
    ),
    Term(
        "randomised",
        ("randomised", "randomized"),
        "",
        "Participants are put into the treatment or comparison group by chance, which makes a fair comparison.",
    ),
    Term(
        "sae",
        ("serious adverse event", "serious adverse events", "SAE", "SAEs"),
        "serious adverse event",
        "A harmful event during a trial that leads to hospital, disability or death, whether or not the "
        "treatment caused it.",
    ),
    Term(
        "time-in-range",
        ("time in range", "time-in-range"),
        "",
        "The share of the day a continuous glucose monitor shows blood sugar within the target range, usually "
        "3.9 to 10 mmol/L (70 to 180 mg/dL).",
    ),
    Term(
        "t1d",
        ("T1D", "type 1 diabetes"),
        "type 1 diabetes",
        "Diabetes in which the immune system destroys the beta cells, so the body makes little or no insulin.",
    ),
    Term(
        "t2d",
        ("T2D", "type 2 diabetes"),
        "type 2 diabetes",
        "Diabetes in which the body does not respond well to insulin and, over time, makes too little of it.",
    ),
]

_BY_WORD = {word.lower(): term for term in TERMS for word in term.words}
_PATTERN = re.compile(
    # Whole words only: not "MSC" in "UC-MSC", nor "Phase 1" in "Phase 1/2".
    r"(?<![\w/-])(" + "|".join(re.escape(w) for w in sorted(_BY_WORD, key=len, reverse=True)) + r")(?![\w/-])",
    re.IGNORECASE,
)


def explain(text: str, url: str = "/glossary/") -> SafeString:
    """`text` escaped, line breaks kept, each glossary term's first appearance linked to its entry (with its
    expansion as a title)."""
    seen: set[str] = set()

    def link(match):
        term = _BY_WORD[match.group(1).lower()]
        if term.slug in seen:
            return match.group(0)
        seen.add(term.slug)
        title = term.expansion or term.meaning.split(". ")[0]
        return f'<a class="term" href="{url}#{term.slug}" title="{escape(title)}">{match.group(1)}</a>'

    escaped = str(escape(text or ""))
    return mark_safe(_PATTERN.sub(link, escaped).replace("\n", "<br>"))  # noqa: S308 (escaped first)
