"""Which database a query runs on, for the few places that use PostgreSQL's own features."""

from django.db import connections


def is_postgresql(using: str = "default") -> bool:
    """Whether the database `using` (an alias, e.g. `queryset.db`) is PostgreSQL."""
    return connections[using].vendor == "postgresql"
