"""A curator's change of a mechanism's or pathway step's public wording waits for an editor (mechanisms/actions.py,
mechanisms/admin.py); readers keep the approved wording until then; an editor's own change is saved at once."""

import pytest
from django.urls import reverse

from mechanisms.models import Mechanism, PathwayStep, WordingChange, WordingChangeStatus
from tests.factories import UserFactory
from tests.test_admin import form_data, messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana():
    return UserFactory(role="Curator", username="ana")


@pytest.fixture
def eve():
    return UserFactory(role="Editor", username="eve")


def edit(client, user, concept, **changes):
    client.force_login(user)
    url = reverse(f"admin:mechanisms_{concept._meta.model_name}_change", args=[concept.pk])
    return client.post(url, form_data(client.get(url)) | changes, follow=True)


def home_and_mechanism(client, mechanism):
    client.logout()
    return client.get("/").content.decode() + client.get(mechanism.get_absolute_url()).content.decode()


def test_a_curators_wording_waits_for_an_editor_then_readers_see_it(client, ana, eve):
    mechanism = Mechanism.objects.get(slug="angiogenesis")
    old = mechanism.summary
    assert old in home_and_mechanism(client, mechanism)
    response = edit(client, ana, mechanism, summary="New blood vessels feed the cells.")
    assert any("waits for an editor's approval" in m for m in messages_of(response))
    pages = home_and_mechanism(client, mechanism)
    assert "New blood vessels feed the cells." not in pages and old in pages
    change = WordingChange.objects.get()
    assert change.changes == {"summary": {"old": old, "new": "New blood vessels feed the cells."}}

    client.force_login(ana)
    url = reverse("admin:mechanisms_wordingchange_change", args=[change.pk])
    page = client.get(url).content.decode()
    assert "New blood vessels feed the cells." in page and 'name="_approve"' not in page  # curators see, not approve
    client.force_login(eve)
    page = client.get(url).content.decode()
    assert old in page and "New blood vessels feed the cells." in page
    response = client.post(url, {"reason": "", "_approve": "1"}, follow=True)
    assert "Approved: readers see the new wording." in messages_of(response)
    assert "New blood vessels feed the cells." in home_and_mechanism(client, mechanism)
    change.refresh_from_db()
    assert change.status == WordingChangeStatus.APPROVED and change.resolved_by == eve


def test_an_editor_sends_wording_back_with_a_reason(client, ana, eve):
    step = PathwayStep.objects.order_by("position").first()
    edit(client, ana, step, summary="Shorter.")
    change = WordingChange.objects.get()
    client.force_login(eve)
    url = reverse("admin:mechanisms_wordingchange_change", args=[change.pk])
    response = client.post(url, {"reason": "", "_send_back": "1"}, follow=True)
    assert any("Say why" in m for m in messages_of(response))
    client.post(url, {"reason": "Keep the document's words.", "_send_back": "1"})
    change.refresh_from_db()
    assert (change.status, change.reason) == (WordingChangeStatus.SENT_BACK, "Keep the document's words.")
    assert PathwayStep.objects.get(pk=step.pk).summary != "Shorter."


def test_an_editors_wording_is_saved_at_once_and_a_second_change_waits(client, ana, eve):
    mechanism = Mechanism.objects.get(slug="angiogenesis")
    edit(client, eve, mechanism, summary="Edited by the editor.")
    assert Mechanism.objects.get(pk=mechanism.pk).summary == "Edited by the editor."
    assert not WordingChange.objects.exists()
    edit(client, ana, mechanism, summary="First.")
    response = edit(client, UserFactory(role="Curator"), mechanism, summary="Second.")
    assert any("A change by ana already waits" in m for m in messages_of(response))
    assert WordingChange.objects.count() == 1
