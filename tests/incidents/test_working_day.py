"""Where a person lands, what their recoveries say is due, and what happens to a gesture still waiting
when its recovery closes."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from followups.models import Notification
from incidents import clock, services
from incidents.models import EventKind, Gesture, Incident
from tests import factories
from tests.support.working_day import working_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(frontline, manager, location, clock_at_start):
    return working_day(owner=frontline, manager=manager, location=location)


def references(body):
    return re.findall(r"<strong>(R-\d+)</strong>", body)


# --- Landing -------------------------------------------------------------------------------------


def test_a_manager_lands_on_the_console_and_frontline_staff_on_their_recoveries(client, frontline, manager, admin):
    client.force_login(manager)
    assert client.get("/").url == "/manage/"
    client.force_login(admin)
    assert client.get("/").url == "/manage/"
    client.force_login(frontline)
    response = client.get("/")
    assert response.status_code == 200 and "My open recoveries" in response.content.decode()


def test_signing_in_takes_a_manager_to_the_console(client, manager):
    response = client.post("/login/", {"login": manager.username, "password": factories.PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/manage/"
    assert "Open recoveries" in response.content.decode()


def test_a_manager_who_owns_recoveries_reaches_them_from_the_console(client, manager, location, clock_at_start):
    mine = factories.log_incident(user=manager, location=location, now=timezone.now())
    client.force_login(manager)
    console = client.get("/manage/").content.decode()
    assert 'href="/mine/"' in console and "My own recovery (1)" in console
    own = client.get("/mine/").content.decode()
    assert f"<strong>{mine.reference}</strong>" in own


# --- The frontline list: late first, then the promise due soonest ---------------------------------


def test_late_comes_first_then_the_overdue_wrap_ups_then_the_soonest_due(client, frontline, day):
    client.force_login(frontline)
    shown = references(client.get("/").content.decode())
    expected = [day["late"], *sorted(day["wrap_ups"], key=lambda i: i.logged_at), day["running"], day["check_back"],
                day["generous"]]
    assert shown == [incident.reference for incident in expected]


def test_each_card_says_what_is_due_and_when_overdue_wrap_ups_included(client, frontline, day):
    client.force_login(frontline)
    body = client.get("/").content.decode()
    cards = {ref: card for card in body.split('<li class="card recovery')[1:] for ref in references(card)}
    wrap_up = cards[day["wrap_ups"][0].reference]
    assert wrap_up.startswith(" overdue")  # marked, not a grey "Clock met" card
    assert "Wrap-up note" in wrap_up and re.search(r"overdue by \d+ days", wrap_up) and "was due" in wrap_up
    assert "Check back after the fix" in cards[day["check_back"].reference]
    assert re.search(r"due in 2\d h \d\d min", cards[day["check_back"].reference])
    late = cards[day["late"].reference]
    assert late.startswith(" late") and "Fix or follow up within the window" in late and "min late" in late


def test_the_stored_promise_is_the_engines_next_unkept_promise(day):
    """promise_due_at, the list's order, is written by the services from clock.next_promise: the same
    clocks the engine keeps, not a second copy."""
    for incident in Incident.objects.filter(closed_at__isnull=True).select_related("organization", "location"):
        promise = clock.next_promise(services.facts_for(incident), services.policy_for(incident.organization, incident.location))
        assert incident.promise_due_at == promise.due_at
    wrap_up = Incident.objects.get(pk=day["wrap_ups"][0].pk)
    # The engine repeats the overdue wrap-up (next_due_at moves on); the promise stays at its first due time.
    assert wrap_up.next_due_at > timezone.now() > wrap_up.promise_due_at


def test_the_list_reads_a_page_in_a_constant_number_of_queries(client, frontline, manager, location, clock_at_start):
    working_day(owner=frontline, manager=manager, location=location, overdue_wrap_ups=1)
    client.force_login(frontline)
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    working_day(owner=frontline, manager=manager, location=location, overdue_wrap_ups=8)
    with CaptureQueriesContext(connection) as many:
        client.get("/")
    assert len(few.captured_queries) == len(many.captured_queries)


# --- The console's strip -------------------------------------------------------------------------


def test_the_console_says_at_the_top_which_decisions_wait(client, manager, day):
    client.force_login(manager)
    body = client.get("/manage/").content.decode()
    strip = body[body.index('<section class="decisions'):body.index("</section>", body.index('<section class="decisions'))]
    assert body.index("Needs your decision") < body.index('<table class="open">')
    gesture = Gesture.objects.get(approval=Gesture.Approval.PENDING)
    assert "1 gesture over budget to approve or refuse" in strip and "Champagne for the wedding party" in strip
    assert f'action="/manage/gestures/{gesture.pk}/decide/"' in strip
    assert "1 recovery late on the twenty-minute clock" in strip and day["late"].reference in strip
    assert "6 promises to customers past their time" in strip and "Wrap-up note" in strip


def test_approving_from_the_strip_decides_the_gesture(client, manager, day):
    client.force_login(manager)
    gesture = Gesture.objects.get(approval=Gesture.Approval.PENDING)
    response = client.post(f"/manage/gestures/{gesture.pk}/decide/", {"decision": "approve", "next": "/manage/"}, follow=True)
    gesture.refresh_from_db()
    assert gesture.approval == Gesture.Approval.APPROVED
    assert "gesture over budget" not in response.content.decode()


def test_nothing_waiting_says_so(client, manager, location, clock_at_start):
    client.force_login(manager)
    assert "Nothing waits for your decision" in client.get("/manage/").content.decode()


# --- A gesture still waiting when the recovery closes ---------------------------------------------


@pytest.fixture
def waiting(frontline, location, clock_at_start):
    """A recovery ready to close, with a gesture over budget nobody has decided."""
    now = timezone.now()
    incident = factories.log_incident(user=frontline, location=location, now=now)
    services.record_apology(incident, by=frontline, channel="in_person", text="I'm so sorry.", now=now)
    services.record_review(incident, by=frontline, customer_account="Cold", customer_needs="Hot", now=now)
    services.record_fix(incident, by=frontline, description="New soup", fixed=True, now=now,
                        gesture={"kind": "gift", "description": "Dinner for two", "cost": Decimal(5000)})
    services.record_deposition(incident, by=frontline, root_cause="Kitchen", circumstances="Busy", busyness="busy", now=now)
    services.record_follow_up(incident, by=frontline, kind="wrap_up", channel="email", note="Thank you", now=now)
    gesture = incident.gestures.get()
    assert gesture.approval == Gesture.Approval.PENDING
    return incident, gesture


def test_closing_lapses_a_waiting_gesture_and_tells_the_giver_and_the_managers(frontline, manager, admin, waiting):
    incident, gesture = waiting
    services.record_outcome(incident, by=frontline, outcome="retained")
    gesture.refresh_from_db()
    assert gesture.approval == Gesture.Approval.LAPSED and gesture.decided_at == timezone.now()
    assert incident.events.filter(kind=EventKind.GESTURE_LAPSED, summary__contains="Dinner for two").count() == 1
    told = Notification.objects.filter(kind=Notification.Kind.GESTURE_LAPSED, incident=incident)
    assert sorted(told.values_list("recipient__username", flat=True)) == sorted([frontline.username, manager.username,
                                                                                admin.username])
    assert all("lapsed undecided" in note.title for note in told)
    # Not counted as given in the trends.
    incident.refresh_from_db()
    assert incident.gesture_count == 0
    # A lapsed gesture is no longer a decision anyone can make.
    with pytest.raises(services.Conflict):
        services.decide_gesture(gesture, by=manager, approve=True)


def test_closing_from_the_page_lapses_it_too_and_the_incident_shows_it(client, frontline, waiting):
    incident, gesture = waiting
    client.force_login(frontline)
    response = client.post(f"/incidents/{incident.reference}/outcome/", {"outcome": "retained"}, follow=True)
    gesture.refresh_from_db()
    assert gesture.approval == Gesture.Approval.LAPSED
    assert "Lapsed: the recovery closed before a decision" in response.content.decode()


def test_a_decided_gesture_is_left_as_it_was(frontline, manager, waiting):
    incident, gesture = waiting
    services.decide_gesture(gesture, by=manager, approve=False)
    services.record_outcome(incident, by=frontline, outcome="retained")
    gesture.refresh_from_db()
    assert gesture.approval == Gesture.Approval.REFUSED
    assert not Notification.objects.filter(kind=Notification.Kind.GESTURE_LAPSED).exists()


def test_a_lapsed_gesture_leaves_the_console(client, frontline, manager, waiting):
    incident, _ = waiting
    services.record_outcome(incident, by=frontline, outcome="retained")
    client.force_login(manager)
    body = client.get("/manage/").content.decode()
    assert "Dinner for two" not in body and "Nothing waits for your decision" in body
    inbox = client.get("/notifications/").content.decode()
    assert "lapsed undecided" in inbox


def test_the_wrap_up_overdue_words_move_with_the_clock(client, frontline, day, clock_at_start):
    client.force_login(frontline)
    clock_at_start.shift(datetime.timedelta(days=1))
    body = client.get("/").content.decode()
    card = body[body.index(day["wrap_ups"][0].reference):][:1500]
    assert re.search(r"overdue by \d+ days", card)
