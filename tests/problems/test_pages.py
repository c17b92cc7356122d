"""The managers' problem pages: the list, a new problem by hand or from the trends page's filters, and the
problem page with its forms, each refusal shown beside its field with what was typed kept."""

import datetime
import re

import pytest
import time_machine
from django.utils.duration import duration_string

from incidents.models import Busyness, Channel
from problems import services
from problems.models import CorrectiveAction, Problem, Status
from problems.patterns import Pattern
from tests import factories
from tests.conftest import START  # a Wednesday, 14:00 UTC

pytestmark = pytest.mark.django_db

NOW = START + datetime.timedelta(weeks=12)  # also a Wednesday, 14:00 UTC
DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _problem(by, title="Slow kitchen at lunch", now=NOW - 14 * DAY, **pattern):
    return services.open_problem(by=by, title=title, owner=by, pattern=Pattern(**pattern), now=now)


def _page(client, user, path, **kwargs):
    client.force_login(user)
    return client.get(path, **kwargs)


def _text(answer):
    return answer.content.decode()


# --- The list and who sees what -----------------------------------------------------------------------


def test_the_list_shows_open_problems_first_then_by_incidents_in_the_last_four_weeks(client, manager, frontline, location):
    quiet = _problem(manager, "Phone orders lost", location_id=location.pk, channel=Channel.PHONE)
    busy = _problem(manager, "Rush at peak", location_id=location.pk, busyness=Busyness.PEAK)
    closed = _problem(manager, "Fran's shift", location_id=location.pk, logged_by_id=frontline.pk)
    services.change_status(closed, by=manager, version=closed.version, status=Status.CLOSED, now=NOW - 13 * DAY)
    for hours in (1, 2):
        factories.log_incident(user=frontline, location=location, now=NOW - hours * DAY, busyness=Busyness.PEAK)
    factories.log_incident(user=frontline, location=location, now=NOW - 3 * DAY, busyness=Busyness.NORMAL)
    factories.log_incident(user=frontline, location=location, now=NOW - 40 * DAY, busyness=Busyness.PEAK)  # too old

    answer = _page(client, manager, "/manage/problems/")
    assert answer.status_code == 200
    rows = list(answer.context["page"])
    assert [problem.title for problem in rows] == [busy.title, quiet.title, closed.title]
    assert [problem.recent for problem in rows] == [2, 0, 3]
    text = _text(answer)
    assert text.index("Rush at peak") < text.index("Phone orders lost") < text.index("Fran&#x27;s shift")
    assert "at Riverside when peak" in text
    assert f"logged by {frontline.display_name()}" in text
    assert 'href="/manage/problems/new/"' in text


def test_the_list_counts_overdue_actions_and_gives_the_verdict_of_watched_problems(client, manager, location):
    problem = _problem(manager, location_id=location.pk, channel=Channel.PHONE, now=NOW - 30 * DAY)
    services.add_action(problem, by=manager, description="Retrain the team", owner=manager,
                        due_on=(NOW - 2 * DAY).date(), now=NOW - 29 * DAY)
    services.add_action(problem, by=manager, description="New headsets", owner=manager, due_on=(NOW + 2 * DAY).date(),
                        now=NOW - 29 * DAY)
    problem.refresh_from_db()
    services.mark_fixed(problem, by=manager, version=problem.version, fixed_at=NOW - 10 * DAY, now=NOW - 10 * DAY)
    row = _page(client, manager, "/manage/problems/").context["page"][0]
    assert row.overdue_actions == 1
    assert row.verdict.kind == "too_early"  # no incident before the fix to compare with
    assert row.verdict.label in _text(_page(client, manager, "/manage/problems/"))


def test_a_manager_does_not_see_a_problem_whose_pattern_is_at_a_location_not_theirs(client, manager, organization,
                                                                                      other_location):
    theirs = _problem(manager, "At Hilltop", location_id=other_location.pk)
    hilltop_manager = factories.UserFactory(organization=organization, role="manager", locations=[other_location])
    assert "At Hilltop" in _text(_page(client, hilltop_manager, "/manage/problems/"))
    assert "At Hilltop" not in _text(_page(client, manager, "/manage/problems/"))
    assert _page(client, manager, f"/manage/problems/{theirs.pk}/").status_code == 404
    client.force_login(manager)
    assert client.post(f"/manage/problems/{theirs.pk}/edit/", {"title": "Mine", "owner": manager.pk,
                                                                "version": 1}).status_code == 404


def test_frontline_staff_get_403_on_every_problem_page(client, manager, frontline, location):
    problem = _problem(manager, location_id=location.pk)
    for path in ["/manage/problems/", "/manage/problems/new/", f"/manage/problems/{problem.pk}/"]:
        assert _page(client, frontline, path).status_code == 403
    assert client.post(f"/manage/problems/{problem.pk}/status/", {"status": "closed", "version": 1}).status_code == 403
    problem.refresh_from_db()
    assert problem.status == Status.INVESTIGATING


def test_a_manager_of_another_organization_gets_404(client, manager, location):
    problem = _problem(manager, location_id=location.pk)
    elsewhere = factories.OrganizationFactory(name="Lakeside Inns", slug="lakeside")
    stranger = factories.UserFactory(organization=elsewhere, role="admin",
                                     locations=[factories.LocationFactory(organization=elsewhere)])
    assert _page(client, stranger, f"/manage/problems/{problem.pk}/").status_code == 404
    assert "Slow kitchen" not in _text(_page(client, stranger, "/manage/problems/"))
    assert client.post(f"/manage/problems/{problem.pk}/fix/", {"fixed_on": "2026-05-01", "version": 1}).status_code == 404


# --- A new problem ---------------------------------------------------------------------------------------


def _new(location, owner, **extra):
    return {"title": "Cold soup at lunch", "owner": owner.pk, "suspected_cause": "The pass is far from the kitchen",
            "location": location.pk, "region": "", "category": "", "busyness": "", "channel": "", "logged_by": "",
            "weekday": "3", "hour_from": "12", "hour_to": "14", **extra}


def test_a_problem_is_opened_by_hand_and_links_the_recent_incidents_behind_it(client, manager, frontline, location):
    lunch = factories.log_incident(user=frontline, location=location, now=NOW - 7 * DAY - 1 * datetime.timedelta(hours=1))
    factories.log_incident(user=frontline, location=location, now=NOW - 7 * DAY + datetime.timedelta(hours=3))
    client.force_login(manager)
    answer = client.post("/manage/problems/new/", _new(location, manager))
    problem = Problem.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/manage/problems/{problem.pk}/"
    assert Pattern.of(problem) == Pattern(location_id=location.pk, weekday=3, hour_from=12, hour_to=14)
    assert (problem.owner, problem.suspected_cause) == (manager, "The pass is far from the kitchen")
    assert list(problem.incidents.all()) == [lunch]  # 13:00 on a Wednesday; the 17:00 one is outside the window


def test_a_refused_new_problem_keeps_what_was_typed_and_says_why_beside_the_field(client, manager, location):
    client.force_login(manager)
    answer = client.post("/manage/problems/new/", _new(location, manager, hour_to=""))
    assert answer.status_code == 400
    text = _text(answer)
    assert "Give both hours, or neither." in text
    assert 'value="Cold soup at lunch"' in text and "The pass is far from the kitchen" in text
    assert re.search(r'<select name="hour_from"[^>]*>.*?<option value="12" selected>', text, re.S)
    assert not Problem.objects.exists()

    answer = client.post("/manage/problems/new/", _new(location, manager, title=""))
    assert answer.status_code == 400 and "This field is required." in _text(answer)
    assert not Problem.objects.exists()


def test_an_owner_outside_the_organization_is_refused(client, manager, location):
    outsider = factories.UserFactory(organization=factories.OrganizationFactory(slug="other"), role="manager")
    client.force_login(manager)
    answer = client.post("/manage/problems/new/", _new(location, outsider))
    assert answer.status_code == 400
    assert answer.context["form"].errors["owner"] == ["Unknown member of staff."]
    assert not Problem.objects.exists()


def test_the_trends_page_filters_in_the_query_string_prefill_the_pattern(client, manager, location):
    answer = _page(client, manager, f"/manage/problems/new/?location={location.pk}&weekday=3&hour=15&busyness=peak")
    assert answer.status_code == 200
    initial = answer.context["form"].initial
    assert (initial["location"], initial["weekday"], initial["hour_from"], initial["hour_to"], initial["busyness"]) == (
        location.pk, 3, 15, 16, "peak")
    assert initial["owner"] == manager.pk
    text = _text(answer)
    assert re.search(r'<select name="hour_to"[^>]*>.*?<option value="16" selected>', text, re.S)
    assert 'value="Wed 15:00–16:00 at Riverside when peak (above 90% capacity)"' in text


def test_filters_for_a_location_not_mine_prefill_nothing(client, manager, other_location):
    initial = _page(client, manager, f"/manage/problems/new/?location={other_location.pk}").context["form"].initial
    assert initial["location"] is None


# --- The problem page's forms ----------------------------------------------------------------------------


def test_two_managers_editing_the_same_problem_see_a_conflict_not_an_overwrite(client, manager, admin, location):
    problem = _problem(manager, location_id=location.pk)
    seen = problem.version
    client.force_login(manager)
    first = client.post(f"/manage/problems/{problem.pk}/edit/", {"title": "Kitchen too slow at lunch", "owner": manager.pk,
                                                                  "suspected_cause": "Too few cooks", "version": seen})
    assert first.status_code == 302
    client.force_login(admin)
    second = client.post(f"/manage/problems/{problem.pk}/edit/", {"title": "Lunch is late", "owner": manager.pk,
                                                                   "suspected_cause": "The oven", "version": seen})
    assert second.status_code == 409
    text = _text(second)
    assert "Someone else changed this problem" in text
    assert 'value="Lunch is late"' in text and "The oven" in text  # what was typed is kept
    assert f'name="version" value="{seen + 1}"' in text  # sending it again is a deliberate overwrite
    problem.refresh_from_db()
    assert (problem.title, problem.suspected_cause, problem.version) == ("Kitchen too slow at lunch", "Too few cooks", seen + 1)


def test_a_status_change_not_allowed_from_here_is_refused(client, manager, location):
    problem = _problem(manager, location_id=location.pk)
    client.force_login(manager)
    answer = client.post(f"/manage/problems/{problem.pk}/status/", {"status": Status.RECURRED, "version": problem.version})
    assert answer.status_code == 400
    assert answer.context["status_form"].errors["status"] == ["Not allowed from the current status."]
    problem.refresh_from_db()
    assert problem.status == Status.INVESTIGATING
    answer = client.post(f"/manage/problems/{problem.pk}/status/", {"status": Status.FIX_PLANNED, "version": problem.version})
    assert answer.status_code == 302
    problem.refresh_from_db()
    assert problem.status == Status.FIX_PLANNED


def test_a_fix_marked_done_in_the_future_is_refused_beside_the_date(client, manager, location):
    problem = _problem(manager, location_id=location.pk)
    client.force_login(manager)
    tomorrow = (NOW + DAY).date().isoformat()
    answer = client.post(f"/manage/problems/{problem.pk}/fix/", {"fixed_on": tomorrow, "version": problem.version,
                                                                 "confirmed_cause": "One cook short"})
    assert answer.status_code == 400
    assert answer.context["fix_form"].errors["fixed_on"] == ["Cannot be in the future."]
    assert f'value="{tomorrow}"' in _text(answer) and "One cook short" in _text(answer)
    problem.refresh_from_db()
    assert (problem.status, problem.fixed_at) == (Status.INVESTIGATING, None)

    today = NOW.date().isoformat()
    answer = client.post(f"/manage/problems/{problem.pk}/fix/", {"fixed_on": today, "version": problem.version,
                                                                 "confirmed_cause": "One cook short"})
    assert answer.status_code == 302
    problem.refresh_from_db()
    assert (problem.status, problem.confirmed_cause) == (Status.WATCHING, "One cook short")
    assert problem.fixed_at == datetime.datetime.combine(NOW.date(), datetime.time(), tzinfo=datetime.timezone.utc)


def test_an_action_due_before_the_problem_was_opened_is_refused_and_a_good_one_is_added_and_done(client, manager, location):
    problem = _problem(manager, location_id=location.pk)
    client.force_login(manager)
    early = (problem.opened_at - DAY).date().isoformat()
    answer = client.post(f"/manage/problems/{problem.pk}/actions/", {"description": "Second cook at lunch",
                                                                     "owner": manager.pk, "due_on": early})
    assert answer.status_code == 400
    assert answer.context["action_form"].errors["due_on"] == ["An action cannot be due before the problem was opened."]
    assert "Second cook at lunch" in _text(answer)
    assert not CorrectiveAction.objects.exists()

    outsider = factories.UserFactory(organization=factories.OrganizationFactory(slug="other"), role="manager")
    answer = client.post(f"/manage/problems/{problem.pk}/actions/", {"description": "Second cook at lunch",
                                                                     "owner": outsider.pk, "due_on": NOW.date().isoformat()})
    assert answer.status_code == 400 and answer.context["action_form"].errors["owner"] == ["Unknown member of staff."]
    assert not CorrectiveAction.objects.exists()

    answer = client.post(f"/manage/problems/{problem.pk}/actions/", {"description": "Second cook at lunch",
                                                                     "owner": manager.pk, "due_on": (NOW - DAY).date().isoformat()})
    assert answer.status_code == 302
    action = CorrectiveAction.objects.get()
    page = _text(client.get(f"/manage/problems/{problem.pk}/"))
    assert "Second cook at lunch" in page and '<span class="overdue-text">overdue</span>' in page
    assert client.post(f"/manage/problems/{problem.pk}/actions/{action.pk}/done/").status_code == 302
    action.refresh_from_db()
    assert action.done_at == NOW and action.done_by == manager


def test_a_pattern_that_matches_nothing_lately_says_so(client, manager, frontline, location):
    nothing = _problem(manager, "Phone orders", location_id=location.pk, channel=Channel.PHONE)
    something = _problem(manager, "Riverside", location_id=location.pk)
    factories.log_incident(user=frontline, location=location, now=NOW - 3 * DAY)
    notice = "This pattern matches no incident in the last 4 weeks"
    assert notice in _text(_page(client, manager, f"/manage/problems/{nothing.pk}/"))
    assert notice not in _text(_page(client, manager, f"/manage/problems/{something.pk}/"))


def test_the_chart_counts_the_pattern_by_week_and_marks_the_fix(client, manager, frontline, location):
    problem = _problem(manager, location_id=location.pk, busyness=Busyness.PEAK, now=NOW - 11 * 7 * DAY)
    hour = datetime.timedelta(hours=1)
    for _ in range(3):
        factories.log_incident(user=frontline, location=location, now=NOW - 10 * 7 * DAY + hour, busyness=Busyness.PEAK)
    factories.log_incident(user=frontline, location=location, now=NOW - 7 * DAY + hour, busyness=Busyness.PEAK)
    factories.log_incident(user=frontline, location=location, now=NOW - 7 * DAY + hour, busyness=Busyness.NORMAL)
    fixed_at = datetime.datetime.combine((NOW - 21 * DAY).date(), datetime.time(), tzinfo=datetime.timezone.utc)
    services.mark_fixed(problem, by=manager, version=problem.version, fixed_at=fixed_at, now=NOW)

    answer = _page(client, manager, f"/manage/problems/{problem.pk}/")
    chart = answer.context["chart"]
    assert [bar["n"] for bar in chart["bars"]] == [0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert [bar["after_fix"] for bar in chart["bars"]] == [False] * 9 + [True] * 3
    text = _text(answer)
    assert 'class="fix-mark"' in text and f"Fix {fixed_at.day} {fixed_at:%b}" in text
    assert chart["bars"][8]["x"] < chart["fix"]["x"] <= chart["bars"][9]["x"]
    assert "<summary>The counts as a table</summary>" in text
    assert answer.context["verdict"].text in text


def test_the_watching_period_is_an_organization_setting(client, admin, organization):
    client.force_login(admin)
    form = client.get("/settings/").context["form"]
    assert "problem_watch_period" in form.fields
    data = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}
    data = {name: duration_string(value) if isinstance(value, datetime.timedelta) else value for name, value in data.items()}
    data["problem_watch_period"] = "14 00:00:00"
    answer = client.post("/settings/", data)
    assert answer.status_code == 302, _text(answer)[:2000]
    organization.refresh_from_db()
    assert organization.problem_watch_period == datetime.timedelta(days=14)
