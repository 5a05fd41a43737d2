"""The filters in force on the list, in words, each with the address of the same list without it."""

from typing import Any

from django.http import QueryDict

from trials.filters import TrialFilter


def without(data: QueryDict, name: str, value: str | None = None) -> str:
    """The query string of `data` without parameter `name` (or only its `value`), and back on the first page."""
    remaining = data.copy()
    remaining.pop("page", None)
    if value is None:
        remaining.pop(name, None)
    else:
        remaining.setlist(name, [v for v in remaining.getlist(name) if v != value])
    encoded = remaining.urlencode()
    return "?" + encoded if encoded else "?"


def filters_in_force(filterset: TrialFilter, facets: list[dict[str, Any]]) -> list[dict[str, str]]:
    """[{"label", "value", "remove"}]: each value asked for and understood (the search, each facet's values, the
    dates), in the form's order, with the address that removes it. No query: labels come from `facets`."""
    data = filterset.data if isinstance(filterset.data, QueryDict) else QueryDict()
    cleaned = getattr(filterset.form, "cleaned_data", {})
    labels = {(facet["name"], option["value"]): option["label"] for facet in facets for option in facet["options"]}
    summary = []
    for name, item in filterset.filters.items():
        value = cleaned.get(name)
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            given = {v.strip().upper() if name in ("country", "diabetes_type", "status") else v.strip(): v
                     for v in data.getlist(name)}  # fmt: skip
            for code in value:
                summary.append(
                    {
                        "label": str(item.label),
                        "value": labels.get((name, code), code),
                        "remove": without(data, name, given.get(code, code)),
                    }
                )
        else:
            shown = value.isoformat() if hasattr(value, "isoformat") else f"“{value}”"
            summary.append({"label": str(item.label), "value": shown, "remove": without(data, name)})
    return summary
