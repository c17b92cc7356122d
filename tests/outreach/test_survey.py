"""The customer's verdict: one satisfaction check after the wrap-up, a signed link that only opens that
incident's page for a while, and the answer on the incident, its timeline and its customer-confirmed outcome."""

import datetime
import re

import pytest
import time_machine
from django.core import mail, signing

from helpdesk import services as api_services
from helpdesk.models import WebhookDelivery
from incidents.customer_data import REDACTED, anonymize_customer
from incidents.models import EventKind, Outcome
from outreach import services as sending
from outreach import survey, survey_tasks
from outreach.models import Message, SurveyAnswer
from recovery.celery import app as celery_app
from tests import factories
from tests.conftest import START

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)
HOUR = datetime.timedelta(hours=1)
LINK = re.compile(r"http://[^\s]+/feedback/([^/\s]+)/")


def wrap_up_sent(user, *, at=START, customer=None):
    """An incident whose wrap-up note went out by email at `at`, through the sending pipeline."""
    incident = factories.log_incident(user=user, customer=customer, now=at - datetime.timedelta(hours=2))
    message = sending.draft_message(incident, kind=Message.Kind.WRAP_UP, body="Thank you for bearing with us.",
                                    author=user)
    sending.send_message(message, by=user, now=at)
    assert sending.send_due(now=at).sent == 1
    return incident


def checks_of(incident):
    return Message.objects.filter(incident=incident, kind=Message.Kind.SATISFACTION_CHECK)


def link_in_mail(incident):
    sent = [m for m in mail.outbox if m.to == [incident.customer.email] and "feedback/" in m.body]
    assert len(sent) == 1
    return "/feedback/" + LINK.search(sent[0].body).group(1) + "/"


def answer(client, path, **values):
    data = {"feeling": 5, "would_recommend": 10, "suggestion": ""}
    data.update(values)
    return client.post(path, data)


@pytest.fixture
def path(frontline, customer):
    """The page a satisfaction check links to, for a wrap-up sent at START."""
    incident = wrap_up_sent(frontline, customer=customer)
    return f"/feedback/{survey.link_token(incident)}/"


# --- The mapping from answers to an outcome -----------------------------------------------------------

@pytest.mark.parametrize("feeling,recommend,outcome", [
    (5, 10, Outcome.CHAMPION), (4, 9, Outcome.CHAMPION),
    (4, 8, Outcome.RETAINED), (3, 9, Outcome.RETAINED), (5, 7, Outcome.RETAINED), (3, 7, Outcome.RETAINED),
    (5, 6, Outcome.PARTIAL), (2, 9, Outcome.PARTIAL), (3, 5, Outcome.PARTIAL), (2, 5, Outcome.PARTIAL),
    (5, 4, Outcome.LOST), (3, 0, Outcome.LOST), (1, 10, Outcome.LOST), (1, 0, Outcome.LOST),
])
def test_the_customers_answers_give_the_outcome_at_its_edges(feeling, recommend, outcome):
    assert survey.customer_outcome_for(feeling, recommend) == outcome


# --- One check, a while after the wrap-up ---------------------------------------------------------------

def test_the_check_goes_once_the_wrap_up_has_been_out_for_the_organizations_delay(frontline, customer, organization):
    assert organization.satisfaction_check_after == DAY
    incident = wrap_up_sent(frontline, customer=customer)
    assert survey.send_satisfaction_checks(now=START + DAY - SECOND) == 0
    assert survey.send_satisfaction_checks(now=START + DAY) == 1
    check = checks_of(incident).get()
    assert check.status == Message.Status.SCHEDULED and check.author == frontline and check.to == customer.email
    assert sending.send_due(now=START + DAY).sent == 1
    token = link_in_mail(incident).split("/")[2]
    assert survey.incident_for_token(token) == incident
    assert frontline.display_name() in mail.outbox[-1].body


def test_the_pass_run_again_drafts_no_second_check_for_the_same_incident(frontline, customer):
    incident = wrap_up_sent(frontline, customer=customer)
    assert survey.send_satisfaction_checks(now=START + DAY) == 1
    assert survey.send_satisfaction_checks(now=START + DAY) == 0
    sending.send_due(now=START + DAY)
    assert survey.send_satisfaction_checks(now=START + 2 * DAY) == 0
    assert survey.send_check(incident.pk, now=START + 2 * DAY) is None  # even asked directly
    assert checks_of(incident).count() == 1


def test_the_delay_is_the_organizations_setting(frontline, customer, organization):
    organization.satisfaction_check_after = datetime.timedelta(hours=3)
    organization.save()
    wrap_up_sent(frontline, customer=customer)
    assert survey.send_satisfaction_checks(now=START + datetime.timedelta(hours=3) - SECOND) == 0
    assert survey.send_satisfaction_checks(now=START + datetime.timedelta(hours=3)) == 1


def test_a_check_more_than_a_week_overdue_is_not_sent_late(frontline, customer):
    wrap_up_sent(frontline, customer=customer)
    assert survey.send_satisfaction_checks(now=START + DAY + survey.CATCH_UP) == 0


def test_no_check_goes_before_a_wrap_up_was_actually_sent(frontline, customer):
    incident = factories.log_incident(user=frontline, customer=customer, now=START)
    sending.draft_message(incident, kind=Message.Kind.WRAP_UP, body="Thank you", author=frontline)  # a draft only
    assert survey.send_satisfaction_checks(now=START + 2 * DAY) == 0


def test_a_wrap_up_done_by_hand_brings_the_check_too(frontline, customer):
    """A card or a call, which the method prefers where customers are met in person."""
    from incidents import services

    incident = factories.log_incident(user=frontline, customer=customer, now=START - datetime.timedelta(hours=2))
    services.record_apology(incident, by=frontline, channel="in_person", text="I am so sorry.", now=START - HOUR)
    services.record_review(incident, by=frontline, customer_account="Cold soup.", customer_needs="A hot meal.",
                           now=START - HOUR)
    services.record_fix(incident, by=frontline, description="Fresh soup", fixed=True, now=START - HOUR)
    services.record_follow_up(incident, by=frontline, kind="wrap_up", channel="in_person", note="Wrote her a card.",
                              now=START)

    assert survey.send_satisfaction_checks(now=START + DAY - SECOND) == 0
    assert survey.send_satisfaction_checks(now=START + DAY) == 1
    assert survey.send_satisfaction_checks(now=START + DAY + HOUR) == 0
    assert checks_of(incident).count() == 1


def test_a_customer_who_opted_out_or_cannot_be_reached_gets_no_check(frontline, organization):
    opted_out = factories.CustomerFactory(organization=organization)
    wrap_up_sent(frontline, customer=opted_out)
    sending.opt_out(type(opted_out).objects.filter(pk=opted_out.pk), now=START + SECOND)
    no_address = factories.CustomerFactory(organization=organization)
    wrap_up_sent(frontline, customer=no_address)
    type(no_address).objects.filter(pk=no_address.pk).update(email="", phone="")  # removed since
    assert survey.send_satisfaction_checks(now=START + DAY) == 0
    assert not Message.objects.filter(kind=Message.Kind.SATISFACTION_CHECK).exists()


def test_the_celery_task_delegates_to_the_pass_and_beat_runs_it(frontline, customer, clock_at_start):
    incident = wrap_up_sent(frontline, customer=customer)
    clock_at_start.shift(DAY)
    survey_tasks.send_satisfaction_checks()
    assert checks_of(incident).count() == 1
    schedule = celery_app.conf.beat_schedule["satisfaction-checks"]
    assert schedule["task"] == "outreach.survey_tasks.send_satisfaction_checks"


# --- The signed link ----------------------------------------------------------------------------------

def test_the_page_opens_without_signing_in_and_asks_the_three_questions(client, path):
    page = client.get(path)
    assert page.status_code == 200
    text = page.content.decode()
    assert "How do you feel about us now" in text
    assert "come back and recommend us" in text and "Is there anything we could do better?" in text
    assert 'type="radio" name="feeling"' in text and 'value="10"' in text
    assert "Harbour Hotels" in text


def test_an_altered_link_answers_a_clear_page_and_changes_nothing(client, path, customer):
    token = path.split("/")[2]
    other_id = str(int(token.split(":")[0]) + 1)
    for bad in (other_id + token[token.index(":"):], token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
                token.split(":")[0], "nonsense"):
        for method in (client.get, client.post):
            page = method(f"/feedback/{bad}/", {"feeling": 5, "would_recommend": 10})
            assert page.status_code == 404
            assert "This link does not work" in page.content.decode() and "Nothing has been changed" in page.content.decode()
    assert not SurveyAnswer.objects.exists()


def test_an_answer_without_the_pages_csrf_token_is_refused(path):
    from django.test import Client

    assert Client(enforce_csrf_checks=True).post(path, {"feeling": 5, "would_recommend": 10}).status_code == 403
    assert not SurveyAnswer.objects.exists()


def test_a_link_signed_with_another_key_or_for_another_purpose_does_not_open(client, path, settings):
    incident_id = path.split("/")[2].split(":")[0]
    forged = signing.TimestampSigner(key="not-our-secret", salt=survey.LINK_SALT).sign(incident_id)
    other_purpose = signing.TimestampSigner(salt="outreach.unsubscribe").sign(incident_id)
    for token in (forged, other_purpose):
        assert client.get(f"/feedback/{token}/").status_code == 404


def test_the_link_expires_after_thirty_days(client, frontline, customer):
    with time_machine.travel(START, tick=False) as clock:
        incident = wrap_up_sent(frontline, customer=customer)
        path = f"/feedback/{survey.link_token(incident)}/"
        clock.shift(survey.LINK_VALID - SECOND)
        assert client.get(path).status_code == 200
        clock.shift(2 * SECOND)
        page = client.get(path)
        assert page.status_code == 410 and "This link has expired" in page.content.decode()
        assert answer(client, path).status_code == 410
    assert not SurveyAnswer.objects.exists()


# --- The answer ---------------------------------------------------------------------------------------

def test_an_answer_is_kept_with_the_customers_outcome_beside_the_staffs_and_on_the_timeline(client, path, customer):
    page = answer(client, path, feeling=4, would_recommend=9, suggestion="Warm the plates")
    assert page.status_code == 302 and page["Location"] == path + "thanks/"
    incident = customer.incidents.get()
    kept = incident.survey_answer
    assert (kept.feeling, kept.would_recommend, kept.suggestion, kept.changed_at) == (4, 9, "Warm the plates", None)
    assert incident.customer_outcome == Outcome.CHAMPION and incident.customer_answered_at == kept.answered_at
    assert incident.outcome == ""  # the staff's own stays theirs
    event = incident.events.get(kind=EventKind.SURVEY_ANSWERED)
    assert event.actor is None and event.actor_label == "The customer"
    assert event.after == {"feeling": 4, "would_recommend": 9, "suggestion": "Warm the plates",
                           "customer_outcome": "champion", "staff_outcome": ""}
    thanks = client.get(path + "thanks/").content.decode()
    assert "Thank you for telling us" in thanks and "Warm the plates" in thanks and "9 out of 10" in thanks


def test_a_double_submit_makes_one_answer_and_one_timeline_entry(client, path, customer):
    assert answer(client, path, feeling=3, would_recommend=8).status_code == 302
    assert answer(client, path, feeling=3, would_recommend=8).status_code == 302
    incident = customer.incidents.get()
    assert SurveyAnswer.objects.filter(incident=incident).count() == 1
    assert incident.events.filter(kind=EventKind.SURVEY_ANSWERED).count() == 1
    assert incident.survey_answer.changed_at is None


def test_a_second_visit_shows_the_answer_and_lets_it_change_within_a_day(client, frontline, customer):
    with time_machine.travel(START, tick=False) as clock:
        incident = wrap_up_sent(frontline, customer=customer)
        path = f"/feedback/{survey.link_token(incident)}/"
        answer(client, path, feeling=2, would_recommend=3, suggestion="Cold soup, twice")
        first = SurveyAnswer.objects.get()
        clock.shift(DAY - SECOND)
        page = client.get(path).content.decode()
        assert "You told us what you think" in page and "Cold soup, twice" in page and "Change my answer" in page
        assert answer(client, path, feeling=4, would_recommend=8, suggestion="Better now").status_code == 302
        changed = SurveyAnswer.objects.get()
        assert changed.pk == first.pk and (changed.feeling, changed.would_recommend) == (4, 8)
        assert changed.answered_at == first.answered_at and changed.changed_at == START + DAY - SECOND
        incident.refresh_from_db()
        assert incident.customer_outcome == Outcome.RETAINED
        entries = list(incident.events.filter(kind=EventKind.SURVEY_ANSWERED).order_by("id"))
        assert len(entries) == 2 and "changed their answer" in entries[1].summary
        assert entries[1].before["customer_outcome"] == "lost" and entries[1].after["customer_outcome"] == "retained"

        clock.shift(2 * SECOND)  # a day and a second after the first answer
        page = client.get(path).content.decode()
        assert "Better now" in page and "Change my answer" not in page and "<form" not in page
        refused = answer(client, path, feeling=1, would_recommend=0)
        assert refused.status_code == 409 and "can no longer be changed" in refused.content.decode()
    assert SurveyAnswer.objects.get().feeling == 4
    assert incident.events.filter(kind=EventKind.SURVEY_ANSWERED).count() == 2


@pytest.mark.parametrize("data,field", [
    ({"feeling": 7, "would_recommend": 5}, "feeling"),
    ({"would_recommend": 5}, "feeling"),
    ({"feeling": 3, "would_recommend": 11}, "would_recommend"),
    ({"feeling": 3, "would_recommend": "ten"}, "would_recommend"),
    ({"feeling": 3, "would_recommend": 5, "suggestion": "x" * (survey.SUGGESTION_MAX_LENGTH + 1)}, "suggestion"),
])
def test_bad_input_is_a_400_with_the_fields_error_and_saves_nothing(client, path, customer, data, field):
    page = client.post(path, data)
    assert page.status_code == 400
    assert page.context["form"].errors[field]
    assert 'role="alert"' in page.content.decode()
    assert not SurveyAnswer.objects.exists()
    incident = customer.incidents.get()
    assert incident.customer_outcome == "" and not incident.events.filter(kind=EventKind.SURVEY_ANSWERED).exists()


def test_markup_in_a_suggestion_or_a_name_stays_text(client, frontline, organization):
    customer = factories.CustomerFactory(organization=organization, name='<b>Bo</b>')
    organization.name = "Harbour <i>Hotels</i>"
    organization.save()
    incident = wrap_up_sent(frontline, customer=customer)
    path = f"/feedback/{survey.link_token(incident)}/"
    answer(client, path, suggestion='<script>alert("x")</script>')
    thanks = client.get(path + "thanks/").content.decode()
    assert "<script>alert" not in thanks and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in thanks
    assert "<i>Hotels</i>" not in thanks and "Harbour &lt;i&gt;Hotels&lt;/i&gt;" in thanks


def test_the_answer_reaches_the_helpdesk_as_a_survey_answered_webhook(client, path, customer, organization,
                                                                       django_capture_on_commit_callbacks):
    desk, _ = api_services.create_api_client(organization=organization, name="Desk")
    api_services.register_webhook(client=desk, url="https://helpdesk.example.com/hooks", events=["survey.answered"])
    with django_capture_on_commit_callbacks(execute=True):
        answer(client, path, feeling=5, would_recommend=9)
    delivery = WebhookDelivery.objects.get(event_type="survey.answered")
    assert delivery.payload["data"]["event"]["after"]["customer_outcome"] == "champion"


def test_anonymizing_the_customer_removes_their_suggestion_and_keeps_the_scores(client, path, customer):
    answer(client, path, feeling=4, would_recommend=9, suggestion="Call me on 07700 900123")
    anonymize_customer(customer)
    kept = SurveyAnswer.objects.get()
    assert kept.suggestion == REDACTED and (kept.feeling, kept.would_recommend) == (4, 9)


@pytest.mark.parametrize("values,field", [
    ({"feeling": 6, "would_recommend": 5}, "feeling"),
    ({"feeling": 0, "would_recommend": 5}, "feeling"),
    ({"feeling": 3, "would_recommend": 11}, "would_recommend"),
    ({"feeling": "much", "would_recommend": 5}, "feeling"),
])
def test_the_service_refuses_answers_out_of_range_with_the_fields_error(path, customer, values, field):
    incident = customer.incidents.get()
    with pytest.raises(survey.RecoveryError) as refused:
        survey.record_answer(incident, **values)
    assert field in refused.value.field_errors
    assert not SurveyAnswer.objects.exists()
    incident.refresh_from_db()
    assert incident.customer_outcome == ""
