"""Bulk actions on the managers' incident list: tick, choose, confirm once; each change through the
single-incident service, refusals listed per incident."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from incidents import services
from tests import factories


@pytest.fixture
def three(frontline, location, clock_at_start):
    return [factories.log_incident(user=frontline, location=location, summary=f"Soup {n}") for n in range(3)]


@pytest.fixture
def signed_in(client, manager):
    client.force_login(manager)
    return client


def test_the_list_offers_ticks_and_the_actions(signed_in, three):
    page = signed_in.get(reverse("insights:incidents")).content.decode()
    for incident in three:
        assert f'name="incident" value="{incident.pk}"' in page
    assert reverse("insights:bulk_review") in page


def test_the_confirmation_lists_what_would_change_and_changes_nothing(signed_in, three, colleague, frontline):
    response = signed_in.post(reverse("insights:bulk_review"), {
        "incident": [three[0].pk, three[1].pk], "action": "reassign", "person": colleague.pk})
    assert response.status_code == 200
    text = response.content.decode()
    assert three[0].reference in text and three[1].reference in text and three[2].reference not in text
    assert f"owner {frontline.display_name()} → {colleague.display_name()}" in text
    assert all(incident.owner_id == frontline.pk for incident in type(three[0]).objects.filter(pk__in=[i.pk for i in three]))


def test_confirming_reassigns_each_through_the_service(signed_in, manager, three, colleague):
    response = signed_in.post(reverse("insights:bulk_apply"), {
        "incident": [three[0].pk, three[1].pk], "action": "reassign", "person": colleague.pk,
        "next": "/manage/incidents/?overdue=on"})
    assert response.status_code == 302 and response["Location"] == "/manage/incidents/?overdue=on"
    for incident in three[:2]:
        incident.refresh_from_db()
        assert incident.owner == colleague
        assert incident.events.filter(kind="reassigned", actor=manager).exists()
    three[2].refresh_from_db()
    assert three[2].owner != colleague


def test_adding_a_helper_to_several(signed_in, three, colleague):
    signed_in.post(reverse("insights:bulk_apply"), {"incident": [i.pk for i in three], "action": "add_helper",
                                                     "person": colleague.pk})
    for incident in three:
        assert list(incident.helpers.all()) == [colleague]
        assert incident.events.filter(kind="helper_added").count() == 1


def test_a_refusal_is_listed_for_its_incident_and_the_others_are_changed(signed_in, manager, three, colleague, frontline):
    services.record_apology(three[1], by=frontline, channel="in_person", text="Sorry")
    closed = three[1]
    type(closed).objects.filter(pk=closed.pk).update(closed_at=closed.logged_at)  # closed meanwhile
    response = signed_in.post(reverse("insights:bulk_apply"), {
        "incident": [i.pk for i in three], "action": "reassign", "person": colleague.pk})
    notes = [str(message) for message in get_messages(response.wsgi_request)]
    assert any(closed.reference in note and "closed" in note for note in notes)
    assert any("2 incidents changed" in note for note in notes)
    owners = {i.pk: i.owner_id for i in type(closed).objects.filter(pk__in=[i.pk for i in three])}
    assert owners == {three[0].pk: colleague.pk, closed.pk: frontline.pk, three[2].pk: colleague.pk}
    assert not closed.events.filter(kind="reassigned").exists()


def test_a_person_who_left_between_review_and_confirm_changes_nothing(signed_in, three, organization, location):
    left = factories.UserFactory(organization=organization, locations=[location])
    assert signed_in.post(reverse("insights:bulk_review"), {
        "incident": [three[0].pk], "action": "reassign", "person": left.pk}).status_code == 200
    left.is_active = False
    left.save()
    response = signed_in.post(reverse("insights:bulk_apply"), {
        "incident": [three[0].pk], "action": "reassign", "person": left.pk})
    assert response.status_code == 400
    assert not type(left).objects.get(pk=left.pk).incidents_owned.exists()


def test_incidents_beyond_the_managers_locations_cannot_be_ticked(signed_in, three, colleague, organization, other_location):
    clerk = factories.UserFactory(organization=organization, locations=[other_location])
    elsewhere = factories.log_incident(user=clerk, location=other_location)
    for url in (reverse("insights:bulk_review"), reverse("insights:bulk_apply")):
        response = signed_in.post(url, {"incident": [three[0].pk, elsewhere.pk], "action": "add_helper",
                                        "person": colleague.pk})
        assert response.status_code == 400
        assert elsewhere.reference not in response.content.decode()
    assert not three[0].helpers.exists() and not elsewhere.helpers.exists()


def test_nothing_ticked_or_no_person_is_a_clear_refusal(signed_in, three, colleague):
    response = signed_in.post(reverse("insights:bulk_review"), {"action": "reassign", "person": colleague.pk})
    assert response.status_code == 400 and "Tick at least one incident" in response.content.decode()
    response = signed_in.post(reverse("insights:bulk_review"), {"incident": [three[0].pk], "action": "reassign"})
    assert response.status_code == 400 and "Choose a person" in response.content.decode()
    response = signed_in.post(reverse("insights:bulk_review"), {"incident": ["x"], "action": "fire", "person": "y"})
    assert response.status_code == 400


def test_frontline_staff_cannot_use_bulk_actions(client, frontline, three, colleague):
    client.force_login(frontline)
    assert client.post(reverse("insights:bulk_apply"), {"incident": [three[0].pk], "action": "add_helper",
                                                        "person": colleague.pk}).status_code == 403
    assert not three[0].helpers.exists()


def test_an_unsafe_next_is_not_followed(signed_in, three, colleague):
    response = signed_in.post(reverse("insights:bulk_apply"), {"incident": [three[0].pk], "action": "add_helper",
                                                                "person": colleague.pk, "next": "//evil.example.com/manage/"})
    assert response["Location"] == reverse("insights:incidents")
