"""The integrity flags a list's card shows: the rules of trials/integrity.py that change what a reader should
believe and read only the trial's own fields (no query per card): an active status after the completion date, not
yet recruiting after the start date, a programme its sponsor stopped while the status is still active.
"""

from datetime import date
from typing import Any

from trials import integrity

CARD_RULES = (
    integrity.active_after_completion,
    integrity.not_yet_recruiting_after_start,
    integrity.discontinued_but_active,
)


def card_flags(trial: Any, today: date) -> list[str]:
    """The plain-words flags of `trial` (a Trial: its own fields only), in the rules' order."""
    found = (check(trial, today) for check in CARD_RULES)
    return [problem.public for problem in found if problem is not None and problem.public]
