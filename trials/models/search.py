"""PostgreSQL's search entries: each trial's searchable text, in a narrow table of its own."""

from django.contrib.postgres.search import SearchVectorField
from django.db import models

from trials.models.trial import Trial


class SearchEntry(models.Model):
    """A trial's search text on PostgreSQL (table `trial_search_entry`), written by database triggers whoever changes
    the trial or a row that feeds its text, and read by the public search (trials/search.py); never written from
    Python. SQLite has its FTS5 table instead, and no such table. Both are made and kept by trials/search_index.py.

    Apart from the trial's wide row, so that a search reads only what it needs: `document` (every part, weighted
    A title, B tags, C body) is matched through its GIN index and kept out of line (TOAST); `heading` (title and tags
    alone, a few hundred bytes) stays in the row and is what the ranking reads for every match."""

    trial = models.OneToOneField(
        Trial, primary_key=True, on_delete=models.DO_NOTHING, related_name="search_entry", db_constraint=False
    )
    heading = SearchVectorField()
    document = SearchVectorField()

    class Meta:
        managed = False  # made by migration 0018 on PostgreSQL alone (trials/search_index.py: create_entries)
        db_table = "trial_search_entry"

    def __str__(self):
        return f"Search entry of trial {self.trial_id}"
