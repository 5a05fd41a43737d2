"""The API's JSON shapes, which are also its OpenAPI schema's. A trial's fields are the CSV's columns (names and
meanings from trials/exports.py's COLUMNS, so the two cannot drift apart), then its address and its parts."""

from rest_framework import serializers

from trials.api.queries import LIST_COLUMNS, NUMBER_COLUMNS
from trials.exports import COLUMNS
from trials.vocabularies import DatePrecision, OutcomeMeasure, SourceKind


class SiteSerializer(serializers.Serializer):
    facility = serializers.CharField(help_text="The hospital or institution, as the registry names it.")
    city = serializers.CharField(allow_null=True)
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2 code.")
    country_name = serializers.CharField()


class PublicationSerializer(serializers.Serializer):
    citation = serializers.CharField()
    doi = serializers.CharField(allow_null=True)
    pmid = serializers.CharField(allow_null=True, help_text="PubMed identifier.")
    year = serializers.IntegerField(allow_null=True)


class OutcomeSerializer(serializers.Serializer):
    measure = serializers.ChoiceField(choices=OutcomeMeasure.choices)
    measure_label = serializers.CharField()
    result = serializers.CharField(help_text="What was found, as reported.")
    participants = serializers.IntegerField(allow_null=True, help_text="How many participants the result is about.")
    timepoint = serializers.CharField(allow_null=True)
    publication = PublicationSerializer(allow_null=True, help_text="The publication that reports it.")
    source_url = serializers.CharField(allow_null=True, help_text="The source that reports it, when no publication.")


class SourceSerializer(serializers.Serializer):
    url = serializers.CharField()
    title = serializers.CharField(allow_null=True)
    publisher = serializers.CharField(allow_null=True)
    kind = serializers.ChoiceField(choices=SourceKind.choices, allow_null=True)
    date = serializers.CharField(allow_null=True, help_text="Date of the source's content, YYYY-MM-DD.")
    date_precision = serializers.ChoiceField(choices=DatePrecision.choices, allow_null=True)
    date_notes = serializers.CharField(allow_null=True)
    used_for = serializers.CharField(help_text="What this source supports in the record.")


def column_field(column):
    """The serializer field of a CSV column: a list of texts, a whole number, or a text (null when empty)."""
    if column.name in LIST_COLUMNS:
        return serializers.ListField(child=serializers.CharField(), help_text=column.meaning)
    if column.name in NUMBER_COLUMNS:
        return serializers.IntegerField(allow_null=True, help_text=column.meaning)
    return serializers.CharField(allow_null=True, help_text=column.meaning)


TrialSerializer = serializers.SerializerMetaclass(
    "TrialSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "A published trial: the CSV's columns (lists for several values, null for not known), its "
        "address in this API, and its sites, published outcomes and sources.",
        "__module__": __name__,
        **{column.name: column_field(column) for column in COLUMNS},
        "key": serializers.CharField(
            help_text="The trial's address key: its primary identifier, or its slug when it has none."
        ),
        "api_url": serializers.CharField(help_text="This trial in the API."),
        "sites": SiteSerializer(many=True),
        "outcomes": OutcomeSerializer(many=True),
        "sources": SourceSerializer(many=True),
    },
)


class MechanismSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    document_term = serializers.CharField(help_text="The source document's own name for the mechanism.")
    summary = serializers.CharField()
    trial_count = serializers.IntegerField(help_text="Published trials linked to it.")
    url = serializers.CharField(help_text="Its page on this site.")
    trials_url = serializers.CharField(help_text="Its trials in this API.")


class NotUnderstoodSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="For each parameter not understood, what was wrong with it.",
    )


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


def page_of(serializer_class, name):
    """The paginated envelope {"count", "next", "previous", "results"} around `serializer_class`."""
    return serializers.SerializerMetaclass(
        name,
        (serializers.Serializer,),
        {
            "__module__": __name__,
            "count": serializers.IntegerField(help_text="How many in all, on every page."),
            "next": serializers.CharField(allow_null=True, help_text="The next page's address; null on the last."),
            "previous": serializers.CharField(allow_null=True, help_text="The previous page's address."),
            "results": serializer_class(many=True),
        },
    )


TrialPageSerializer = page_of(TrialSerializer, "TrialPage")
MechanismPageSerializer = page_of(MechanismSerializer, "MechanismPage")
