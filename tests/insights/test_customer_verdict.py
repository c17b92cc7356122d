"""Champions counted by the customer: the scorecard and the digest show them beside staff-judged ones,
with the satisfaction check's response rate and the gap between staff and customers; managers read the
customers' suggestions."""

import datetime

import pytest
from django.core import mail

from insights import selectors
from insights.digest import send_weekly_digests
from insights.scope import scope_for
from outreach import services as sending
from outreach import survey
from outreach.models import Message
from tests import factories

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
PERIOD_START = datetime.datetime(2026, 3, 2, tzinfo=datetime.timezone.utc)  # Monday
PERIOD_END = PERIOD_START + 7 * DAY
NOW = PERIOD_END + 3 * DAY


def at(day, hour=10):
    return PERIOD_START + day * DAY + datetime.timedelta(hours=hour)


def check_sent(incident, when):
    """The incident's satisfaction check, sent through the pipeline at `when`."""
    message = sending.draft_message(incident, kind=Message.Kind.SATISFACTION_CHECK, body="How do you feel?",
                                    author=incident.owner)
    sending.send_message(message, by=incident.owner, now=when)
    sending.send_due(now=when)
    assert Message.objects.get(pk=message.pk).sent_at == when


def customer_said(incident, feeling, recommend, when, suggestion=""):
    check_sent(incident, when)
    survey.record_answer(incident, feeling=feeling, would_recommend=recommend, suggestion=suggestion,
                         now=when + datetime.timedelta(hours=1))


@pytest.fixture
def week(build, location, other_location, frontline, manager):
    """Riverside: staff ticked champion, retained, lost, champion; customers said champion, lost,
    champion and nothing. Hilltop: a customer said champion where staff recorded nothing yet."""
    manager.locations.add(other_location)
    agreed = build(at=at(0), location=location, owner=frontline, apology=2, fix=10, wrap_up=60, outcome="champion")
    customer_said(agreed, 5, 10, at(1))
    rosier = build(at=at(1), location=location, owner=frontline, apology=2, fix=10, wrap_up=60, outcome="retained")
    customer_said(rosier, 2, 3, at(2), suggestion="Nobody called me back")
    humbler = build(at=at(2), location=location, owner=manager, apology=2, fix=10, wrap_up=60, outcome="lost")
    customer_said(humbler, 4, 9, at(3), suggestion="<b>Warm</b> the plates")
    silent = build(at=at(3), location=location, owner=frontline, apology=2, fix=10, wrap_up=60, outcome="champion")
    check_sent(silent, at(4))
    build(at=at(4), location=location, owner=frontline)  # still open: no check yet
    hilltop = build(at=at(2), location=other_location, owner=manager, apology=1, fix=5)
    customer_said(hilltop, 5, 9, at(3))
    return {"rosier": rosier, "humbler": humbler, "hilltop": hilltop}


def test_the_scorecard_counts_champions_by_customers_beside_staffs_with_response_rate_and_gap(
        week, manager, location, other_location):
    rows, total = selectors.scorecard(scope_for(manager), PERIOD_START, PERIOD_END, group="location", now=NOW)
    riverside = next(row for row in rows if row.key == location.pk).current
    assert riverside["champion"] == 2 and riverside["customer_champion"] == 2
    assert (riverside["checks_sent"], riverside["answered"], riverside["response_rate"]) == (4, 3, 75.0)
    assert riverside["customer_champion_rate"] == pytest.approx(66.7, abs=0.05)
    assert (riverside["customer_lost"], riverside["customer_retained"], riverside["customer_partial"]) == (1, 0, 0)
    # Staff and customer both judged three; two differ, and in one staff judged better (retained vs lost).
    assert (riverside["both_judged"], riverside["disagreed"], riverside["staff_rosier"]) == (3, 2, 1)
    assert riverside["disagreement_rate"] == pytest.approx(66.7, abs=0.05)
    hilltop = next(row for row in rows if row.key == other_location.pk).current
    assert (hilltop["champion"], hilltop["customer_champion"], hilltop["both_judged"]) == (0, 1, 0)
    assert hilltop["disagreement_rate"] is None
    assert (total.current["checks_sent"], total.current["answered"], total.current["customer_champion"]) == (5, 4, 3)
    assert total.previous["checks_sent"] == 0 and total.previous["response_rate"] is None


def test_the_customers_verdict_is_counted_per_staff_member(week, manager, frontline):
    rows, _ = selectors.scorecard(scope_for(manager), PERIOD_START, PERIOD_END, group="staff", now=NOW,
                                  staff=[manager, frontline])
    by_person = {row.label: row.current for row in rows}
    mine, theirs = by_person[manager.display_name()], by_person[frontline.display_name()]
    assert (theirs["champion"], theirs["customer_champion"], theirs["checks_sent"], theirs["answered"]) == (2, 1, 3, 2)
    assert (theirs["disagreed"], theirs["staff_rosier"]) == (1, 1)
    assert (mine["champion"], mine["customer_champion"], mine["checks_sent"], mine["answered"]) == (0, 2, 2, 2)
    assert (mine["disagreed"], mine["staff_rosier"]) == (1, 0)


def test_a_changed_answer_moves_the_customer_confirmed_count(week, manager, location):
    survey.record_answer(week["rosier"], feeling=5, would_recommend=10, now=at(2, 14))
    rows, _ = selectors.scorecard(scope_for(manager), PERIOD_START, PERIOD_END, group="location", now=NOW)
    riverside = next(row for row in rows if row.key == location.pk).current
    assert riverside["customer_champion"] == 3 and riverside["staff_rosier"] == 0


def test_the_scorecard_page_shows_both_counts_and_sorts_by_the_customers(client, week, manager):
    client.force_login(manager)
    page = client.get("/manage/scorecard/?start=2026-03-02&end=2026-03-08&sort=customer_champion&dir=desc")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Champions, staff-judged (rate)" in text and "Champions, customer-confirmed (rate)" in text
    assert "3 of 4 (75%)" in text and "2 of 3 differ, 1 staff higher" in text
    by_staff = client.get("/manage/scorecard/?start=2026-03-02&end=2026-03-08&by=staff").content.decode()
    assert "2 of 3 (66.7%)" in by_staff


def test_the_weekly_digest_shows_champions_by_customers_per_location_and_per_staff_member(week, manager, frontline):
    send_weekly_digests(now=datetime.datetime(2026, 3, 9, 7, 0, tzinfo=datetime.timezone.utc))
    digest = next(message for message in mail.outbox if message.to == [manager.email])
    assert "CHAMPIONS, COUNTED BY THE CUSTOMER" in digest.body
    assert "- Riverside: 2 (50%) · 2 (66.7%) · 3 of 4 (75%) · 2 of 3 differ, 1 staff higher" in digest.body
    assert f"- {frontline.display_name()}: 2 (66.7%) · 1 (50%) · 2 of 3 (66.7%) · 1 of 2 differ, 1 staff higher" in digest.body
    assert "Champions, customer-confirmed (rate): 3 (75%)" in digest.body  # the totals
    html = digest.alternatives[0][0]
    assert "Champions, counted by the customer" in html and "Per staff member (owner)" in html


def test_managers_read_the_customers_suggestions_as_text(client, week, manager):
    client.force_login(manager)
    page = client.get("/manage/answers/?start=2026-03-02&end=2026-03-08")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Nobody called me back" in text and "&lt;b&gt;Warm&lt;/b&gt; the plates" in text and "<b>Warm" not in text
    assert week["rosier"].reference in text and "Lost</strong> / Retained" in text
    only = client.get("/manage/answers/?start=2026-03-02&end=2026-03-08&suggestions=1").content.decode()
    assert week["hilltop"].reference not in only and week["humbler"].reference in only


def test_a_manager_sees_only_the_answers_of_their_locations_and_frontline_staff_none(client, week, organization,
                                                                                   other_location, frontline):
    hilltop_manager = factories.UserFactory(organization=organization, role="manager", locations=[other_location])
    client.force_login(hilltop_manager)
    text = client.get("/manage/answers/?start=2026-03-02&end=2026-03-08").content.decode()
    assert week["hilltop"].reference in text and "Nobody called me back" not in text
    client.force_login(frontline)
    assert client.get("/manage/answers/").status_code == 403


def test_the_answers_page_query_count_does_not_grow_with_answers(client, build, manager, location, frontline,
                                                               django_assert_max_num_queries):
    client.force_login(manager)
    url = "/manage/answers/?start=2026-03-02&end=2026-03-08"
    customer_said(build(at=at(0), location=location, owner=frontline), 4, 9, at(1), suggestion="More soup")
    with django_assert_max_num_queries(30) as few:
        assert client.get(url).status_code == 200
    for day in range(1, 5):
        customer_said(build(at=at(day), location=location, owner=frontline), 2, 5, at(day, 12), suggestion="Faster")
    with django_assert_max_num_queries(30) as many:
        assert client.get(url).content.decode().count("Faster") == 4
    assert len(many.captured_queries) == len(few.captured_queries)
