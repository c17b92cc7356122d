"""What the customer hears from us, over the API: messages listed, written, sent; the survey answer."""

import pytest
from django.utils import timezone

from incidents.models import Customer
from outreach import services as outreach
from outreach import survey
from outreach.models import Message
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(frontline, location, customer, clock_at_start):
    return factories.log_incident(user=frontline, location=location, customer=customer)


def test_a_helpdesk_writes_a_draft_then_sends_it(api, logged, clock_at_start):
    url = f"/api/v1/incidents/{logged.pk}/messages/"

    drafted = api.post(url, {"kind": "thank_you", "body": "Thank you for telling us, Ada."}, format="json")

    assert drafted.status_code == 201, drafted.json()
    draft = drafted.json()
    assert (draft["status"], draft["channel"], draft["to"]) == ("draft", "email", "ada@example.com")
    assert api.get(url).json() == [draft]

    sent = api.post(f"{url}{draft['id']}/send/", {}, format="json")

    assert sent.status_code == 200, sent.json()
    assert sent.json()["status"] == "scheduled" and sent.json()["author"] == Message.objects.get().author.username
    Message.objects.filter(pk=draft["id"]).update(status=Message.Status.SENT, sent_at=timezone.now())
    again = api.post(f"{url}{draft['id']}/send/", {}, format="json")
    assert again.status_code == 400 and "already" in again.json()["detail"]
    assert Message.objects.get().status == Message.Status.SENT


def test_a_customer_who_opted_out_is_not_messaged_and_the_answer_says_why(api, logged, customer):
    Customer.objects.filter(pk=customer.pk).update(opted_out_at=timezone.now())
    url = f"/api/v1/incidents/{logged.pk}/messages/"

    thanks = api.post(url, {"kind": "thank_you", "body": "Thank you, Ada.", "send": True}, format="json")
    wrap_up = api.post(url, {"kind": "wrap_up", "body": "Thank you, Ada.", "send": True}, format="json")

    assert thanks.status_code == 201
    assert thanks.json()["status"] == "not_sent" and thanks.json()["status_note"]
    # A follow-up is refused before anything is written, so the owner can phone or write instead.
    assert wrap_up.status_code == 400 and "channel" in wrap_up.json()["errors"]
    assert list(Message.objects.values_list("kind", flat=True)) == ["thank_you"]


def test_a_drafted_progress_report_sent_over_the_api_counts_as_the_day_s_follow_up(api, logged, frontline):
    from incidents import services
    from incidents.models import FollowUp

    services.record_apology(logged, by=frontline, channel="in_person", text="I am so sorry.")
    draft = outreach.draft_message(logged, kind=Message.Kind.PROGRESS_REPORT, body="Today we found your bag.")

    sent = api.post(f"/api/v1/incidents/{logged.pk}/messages/{draft.pk}/send/", {}, format="json")

    assert sent.status_code == 200, sent.json()
    assert FollowUp.objects.get(incident=logged).kind == FollowUp.Kind.PROGRESS


@pytest.mark.parametrize("body, field", [
    ({"kind": "satisfaction_check", "body": "How did we do?"}, "kind"),
    ({"kind": "wrap_up"}, "body"),
    ({"kind": "wrap_up", "body": "Hi", "channel": "pigeon"}, "channel"),
    ({"kind": "wrap_up", "body": "Hi", "at": "soon"}, "at"),
    ({"kind": "wrap_up", "body": "Hi", "tone": "warm"}, "tone"),
])
def test_a_bad_message_is_a_field_error_and_nothing_is_kept(api, logged, body, field):
    answer = api.post(f"/api/v1/incidents/{logged.pk}/messages/", body, format="json")

    assert answer.status_code == 400 and field in answer.json()["errors"]
    assert not Message.objects.exists()


def test_only_the_people_on_the_recovery_write_to_its_customer(logged, colleague):
    from rest_framework.test import APIClient

    http = APIClient()
    http.force_login(colleague)
    answer = http.post(f"/api/v1/incidents/{logged.pk}/messages/", {"kind": "wrap_up", "body": "Hi"}, format="json")

    assert answer.status_code == 403 and not Message.objects.exists()


def test_a_read_only_token_does_not_write_to_a_customer(logged, organization):
    from rest_framework.test import APIClient

    from helpdesk import services as api_services

    _, key = api_services.create_api_client(organization=organization, name="Reader", scope="read")
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert http.post(f"/api/v1/incidents/{logged.pk}/messages/", {"kind": "wrap_up", "body": "Hi"},
                     format="json").status_code == 403
    assert http.get(f"/api/v1/incidents/{logged.pk}/messages/").status_code == 200


def test_the_survey_answer_is_read_once_the_customer_answered(api, logged, clock_at_start):
    url = f"/api/v1/incidents/{logged.pk}/survey/"
    assert api.get(url).status_code == 404

    survey.record_answer(logged, feeling=5, would_recommend=10, suggestion="Warm the bowls.")

    answer = api.get(url)
    assert answer.status_code == 200
    assert answer.json()["feeling"] == 5 and answer.json()["suggestion"] == "Warm the bowls."
    assert answer.json()["customer_outcome"] == "champion"


def test_another_organization_s_messages_are_not_found(other_api, logged):
    message = outreach.draft_message(logged, kind=Message.Kind.THANK_YOU, body="Thanks")
    assert other_api.get(f"/api/v1/incidents/{logged.pk}/messages/").status_code == 404
    assert other_api.post(f"/api/v1/incidents/{logged.pk}/messages/{message.pk}/send/", {}, format="json").status_code == 404
    assert other_api.get(f"/api/v1/incidents/{logged.pk}/survey/").status_code == 404
