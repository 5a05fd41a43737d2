"""The API fuzzed from its own OpenAPI schema (schemathesis): for every operation, a few hundred requests built from
the schema's parameters, valid and not, against the WSGI application over a small registry. No answer may be a
500, and every answer must be what the schema says (status, content type, body)."""

import datetime

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import PublicationFactory, SourceFactory, trial_with
from trials.models import Outcome, Site
from trials.vocabularies import CurationState, OutcomeMeasure, OverallStatus, Phase

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

EXAMPLES = 150  # per operation: about 450 requests in all, in well under two minutes
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def registry():
    published = trial_with(
        brief_title="Islet cells made from stem cells",
        identifier="NCT07654321",
        mechanisms=["beta-cell-regeneration"],
        diabetes_types=["T1D"],
        countries=["US"],
        routes=["PORTAL_VEIN"],
        phase=Phase.PHASE1_PHASE2,
        overall_status=OverallStatus.RECRUITING,
        start_date=datetime.date(2023, 5, 1),
        start_date_precision="MONTH",
    )
    SourceFactory(trial=published)
    publication = PublicationFactory(trial=published)
    Outcome.objects.create(
        trial=published, measure=OutcomeMeasure.C_PEPTIDE, result="Detectable", publication=publication
    )
    Site.objects.create(trial=published, facility="University Hospital", country_id="US")
    SourceFactory(trial=trial_with(identifier=False, slug="no-identifier", mechanisms=["immune-regulation"]))
    trial_with(brief_title="A draft", curation_state=CurationState.DRAFT)


def test_no_request_built_from_the_schema_gets_a_500_or_an_answer_the_schema_does_not_describe(
    registry, settings_, wsgi_app
):
    app = wsgi_app
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {operation.path for operation in operations} == {
        "/api/v1/trials/",
        "/api/v1/trials/{key}/",
        "/api/v1/mechanisms/",
    }
    calls = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_described(case):
            calls.append(case.call_and_validate(app=app, checks=CHECKS).status_code)

        answers_as_described()
    assert len(calls) >= 2 * EXAMPLES and {200, 400, 404} <= set(calls)


@pytest.fixture
def wsgi_app():
    """The WSGI application, its requests inside the test's transaction: as Django's test client does, the
    connection is not closed at the end of each request (it would close the transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def settings_(settings):
    settings.API_RATE_LIMIT = "100000/minute"  # the fuzzing is one client: the limit is tested in test_api.py
    return settings
