import datetime
import re

import pytest
from django.utils import timezone

from incidents import services
from insights import selectors
from insights.scope import scope_for
from incidents.models import Gesture, Incident
from tests import factories

pytestmark = pytest.mark.django_db

MIN = datetime.timedelta(minutes=1)


@pytest.fixture
def recoveries(build, location, other_location, frontline, clock_at_start):
    """At 14:00: one answered, one running (due 14:15), one late (due 13:50), one at another location."""
    now = timezone.now()
    answered = build(at=now - 30 * MIN, location=location, owner=frontline, apology=1, follow_up=5)
    running = build(at=now - 5 * MIN, location=location, owner=frontline)
    late = build(at=now - 30 * MIN - 10 * MIN, location=location, owner=frontline)
    elsewhere_owner = factories.UserFactory(organization=location.organization, locations=[other_location])
    elsewhere = build(at=now - 60 * MIN, location=other_location, owner=elsewhere_owner)
    return {"answered": answered, "running": running, "late": late, "elsewhere": elsewhere}


def test_late_recoveries_come_first_then_the_soonest_due(recoveries, manager):
    rows, counts = selectors.open_recoveries(scope_for(manager), {}, now=timezone.now())
    assert rows[0] == recoveries["late"]
    assert rows[0].clock.state == "late" and rows[0].clock.label == "Late by 20 min"
    assert set(rows[1:]) == {recoveries["answered"], recoveries["running"]}
    running = next(row for row in rows if row == recoveries["running"])
    assert running.clock.label == "15 min left"
    assert counts == {"total": 3, "late": 1}


def test_a_manager_sees_only_their_locations_and_an_admin_the_organization(recoveries, manager, admin):
    rows, _ = selectors.open_recoveries(scope_for(manager), {}, now=timezone.now())
    assert recoveries["elsewhere"] not in rows
    rows, counts = selectors.open_recoveries(scope_for(admin), {}, now=timezone.now())
    assert recoveries["elsewhere"] in rows and counts["total"] == 4


def test_filters_narrow_the_list(recoveries, manager, frontline):
    scope = scope_for(manager)
    rows, _ = selectors.open_recoveries(scope, {"overdue": True}, now=timezone.now())
    assert rows == [recoveries["late"]]
    rows, _ = selectors.open_recoveries(scope, {"stage": "review"}, now=timezone.now())
    assert rows == []
    rows, _ = selectors.open_recoveries(scope, {"owner": manager.pk}, now=timezone.now())
    assert rows == []
    rows, _ = selectors.open_recoveries(scope, {"owner": frontline.pk, "stage": "apology"}, now=timezone.now())
    assert set(rows) == {recoveries["late"], recoveries["running"]}


def test_frontline_staff_get_403_and_strangers_the_login(client, frontline, recoveries):
    assert client.get("/manage/").status_code == 302
    client.force_login(frontline)
    assert client.get("/manage/").status_code == 403
    assert client.get("/manage/trends/").status_code == 403
    assert client.post(f"/manage/incidents/{recoveries['late'].pk}/reassign/", {"owner": frontline.pk}).status_code == 403


def test_the_page_lists_the_rows_with_their_clock_and_next_step(client, manager, recoveries):
    client.force_login(manager)
    page = client.get("/manage/").content.decode()
    assert page.index(recoveries["late"].reference) < page.index(recoveries["running"].reference)
    assert recoveries["elsewhere"].reference not in page
    assert "Late by 20 min" in page and "Apologize" in page
    assert 'data-refresh-url="/manage/?partial=1"' in page
    assert "<script src=" in page and not re.search(r"<script>|\son[a-z]+=", page)


def test_the_partial_is_the_table_alone_for_the_refresh(client, manager, recoveries):
    client.force_login(manager)
    partial = client.get("/manage/?partial=1&overdue=on").content.decode()
    assert "<html" not in partial and recoveries["late"].reference in partial
    assert recoveries["running"].reference not in partial


def test_reassign_from_a_row(client, manager, recoveries, location, clock_at_start):
    colleague = factories.UserFactory(organization=location.organization, locations=[location], first_name="Jamie")
    client.force_login(manager)
    late = recoveries["late"]
    response = client.post(f"/manage/incidents/{late.pk}/reassign/", {"owner": colleague.pk, "next": "/manage/?overdue=on"})
    assert response.status_code == 302 and response["Location"] == "/manage/?overdue=on"
    late.refresh_from_db()
    assert late.owner == colleague
    assert late.events.filter(kind="reassigned", actor=manager).exists()
    assert "now belongs to Jamie" in client.get("/manage/").content.decode()


def test_swarm_adds_a_helper(client, manager, recoveries, location):
    helper = factories.UserFactory(organization=location.organization, locations=[location])
    client.force_login(manager)
    client.post(f"/manage/incidents/{recoveries['late'].pk}/helpers/", {"helper": helper.pk})
    assert list(recoveries["late"].helpers.all()) == [helper]


def test_no_action_on_an_incident_of_another_location(client, manager, recoveries, location):
    client.force_login(manager)
    response = client.post(f"/manage/incidents/{recoveries['elsewhere'].pk}/reassign/", {"owner": manager.pk})
    assert response.status_code == 404
    assert client.get(f"/manage/incidents/{recoveries['late'].pk}/reassign/").status_code == 405


def test_a_broken_rule_becomes_a_readable_message(client, manager, recoveries, organization):
    other_org_person = factories.UserFactory()
    client.force_login(manager)
    response = client.post(f"/manage/incidents/{recoveries['late'].pk}/reassign/", {"owner": "nobody"}, follow=True)
    assert "Choose a member of staff from the list." in response.content.decode()
    response = client.post(f"/manage/incidents/{recoveries['late'].pk}/reassign/", {"owner": other_org_person.pk},
                           follow=True)
    assert "Choose a member of staff from the list." in response.content.decode()
    assert Incident.objects.get(pk=recoveries["late"].pk).owner != other_org_person


@pytest.fixture
def pending_gesture(build, location, frontline, clock_at_start):
    incident = build(at=timezone.now() - 10 * MIN, location=location, owner=frontline, apology=1, fix=5,
                     gesture_cost="400")
    gesture = incident.gestures.get()
    assert gesture.approval == Gesture.Approval.PENDING
    return gesture


def test_approve_a_gesture_over_budget_from_its_row(client, manager, pending_gesture):
    client.force_login(manager)
    assert "Over budget: Dessert" in client.get("/manage/").content.decode()
    client.post(f"/manage/gestures/{pending_gesture.pk}/decide/", {"decision": "approve"})
    pending_gesture.refresh_from_db()
    assert pending_gesture.approval == Gesture.Approval.APPROVED and pending_gesture.decided_by == manager
    response = client.post(f"/manage/gestures/{pending_gesture.pk}/decide/", {"decision": "refuse"}, follow=True)
    assert "This gesture was already approved." in response.content.decode()
    pending_gesture.refresh_from_db()
    assert pending_gesture.approval == Gesture.Approval.APPROVED


def test_refuse_a_gesture(client, manager, pending_gesture):
    client.force_login(manager)
    client.post(f"/manage/gestures/{pending_gesture.pk}/decide/", {"decision": "refuse"})
    pending_gesture.refresh_from_db()
    assert pending_gesture.approval == Gesture.Approval.REFUSED


def test_the_query_count_does_not_grow_with_open_recoveries(client, manager, build, location, frontline,
                                                            clock_at_start, django_assert_max_num_queries):
    client.force_login(manager)
    build(at=timezone.now() - MIN, location=location, owner=frontline, apology=1, fix=2, gesture_cost="500")
    # 12 for the recoveries, 2 for the problems' counts (the manager's scope, then one count), 1 for the saved
    # views, 5 for the "needs your decision" strip (its gestures, its counts, the late and the overdue it
    # names) and the count of the manager's own recoveries.
    with django_assert_max_num_queries(20) as few:
        client.get("/manage/")
    for n in range(6):
        incident = build(at=timezone.now() - (n + 2) * MIN, location=location, owner=frontline, apology=1, fix=2,
                         gesture_cost="500")
        services.add_helper(incident, by=manager, helper=manager)
    with django_assert_max_num_queries(20) as many:
        response = client.get("/manage/")
    assert response.content.decode().count("Over budget") == 7
    assert len(many.captured_queries) == len(few.captured_queries)


def test_swarming_an_incident_of_another_location_is_404_even_with_a_bad_helper(client, manager, recoveries):
    client.force_login(manager)
    response = client.post(f"/manage/incidents/{recoveries['elsewhere'].pk}/helpers/", {"helper": "nobody"})
    assert response.status_code == 404
