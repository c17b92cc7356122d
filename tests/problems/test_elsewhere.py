"""Problems where managers and staff already look: a cluster on the trends page becomes a problem in one click,
the filtered incident list leads to a new one, the incident page tells the person on the spot that the cause is
known, and the console and the weekly digest count open problems and overdue corrective actions."""

import datetime
import html
import re

import pytest
import time_machine
from django.core import mail

from insights.digest import send_weekly_digests
from problems import selectors, services
from problems.models import Problem, ProblemIncident, Status
from problems.patterns import Pattern
from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
# Sunday 29 March 2026, after four weeks (1–28 March) with a Wednesday-afternoon pattern at Riverside.
NOW = datetime.datetime(2026, 3, 29, 10, 0, tzinfo=UTC)
PERIOD = "start=2026-03-01&end=2026-03-28"
TRENDS = f"/manage/trends/?{PERIOD}"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def wednesdays(clock, frontline, location):
    """Weekday mornings every week of March, and six incidents on Wednesday 4 March 15:00–16:00."""
    for day in range(2, 28):
        date = datetime.date(2026, 3, day)
        if date.isoweekday() <= 5:
            for hour in (9, 10):
                factories.log_incident(user=frontline, location=location,
                                       now=datetime.datetime.combine(date, datetime.time(hour), tzinfo=UTC))
    return [factories.log_incident(user=frontline, location=location, now=datetime.datetime(2026, 3, 4, 15, minute, tzinfo=UTC))
            for minute in range(0, 60, 10)]


def cluster_item(page, starts_with):
    """The <li> of the cluster whose text starts so, from the trends page's HTML."""
    for item in re.findall(r'<li class="cluster [^"]*">(.*?)</li>', page, re.S):
        if re.search(r">" + re.escape(starts_with), item):
            return item
    raise AssertionError(f"No cluster {starts_with!r} on the page")


def hidden_fields(item):
    return {name: html.unescape(value) for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', item)}


# --- The trends page -------------------------------------------------------------------------------------


def test_a_cluster_becomes_a_problem_in_one_click(client, manager, location, wednesdays):
    client.force_login(manager)
    page = client.get(TRENDS).content.decode()
    item = cluster_item(page, "Wed 15:00–16:00 at Riverside")
    assert "Open a problem" in item and 'action="/manage/problems/from-cluster/"' in item
    fields = hidden_fields(item)
    assert fields["csrfmiddlewaretoken"]
    assert {key: fields[key] for key in ("location", "weekday", "hour", "start", "end")} == {
        "location": str(location.pk), "weekday": "3", "hour": "15", "start": "2026-03-01", "end": "2026-03-28"}
    cluster = client.get(TRENDS).context["clusters"][0]
    assert float(fields["usual_per_day"]) == pytest.approx(cluster.expected / 28)

    response = client.post("/manage/problems/from-cluster/", fields)
    problem = Problem.objects.get()
    assert response.status_code == 302 and response.url == f"/manage/problems/{problem.pk}/"
    assert problem.title == "Wed 15:00–16:00 at Riverside"
    assert problem.found_as == fields["text"] and fields["text"].startswith("Wed 15:00–16:00 at Riverside: 6 incidents")
    assert problem.owner == manager and problem.usual_per_day == pytest.approx(cluster.expected / 28)
    assert Pattern.of(problem) == Pattern(location_id=location.pk, weekday=3, hour_from=15, hour_to=16)
    links = ProblemIncident.objects.filter(problem=problem)
    assert {link.incident_id for link in links} == {incident.pk for incident in wednesdays}
    assert {link.how for link in links} == {ProblemIncident.How.AT_START}

    # The cluster now leads to its problem instead of offering a second one.
    item = cluster_item(client.get(TRENDS).content.decode(), "Wed 15:00–16:00 at Riverside")
    assert "Open a problem" not in item
    assert f'A problem is open for this: <a href="/manage/problems/{problem.pk}/">Wed 15:00–16:00 at Riverside</a>' in item


def test_a_second_click_on_the_same_cluster_opens_nothing_twice(client, manager, wednesdays):
    client.force_login(manager)
    fields = hidden_fields(cluster_item(client.get(TRENDS).content.decode(), "Wed 15:00–16:00 at Riverside"))
    first = client.post("/manage/problems/from-cluster/", fields)
    second = client.post("/manage/problems/from-cluster/", fields)
    assert Problem.objects.count() == 1 and first.url == second.url


def test_frontline_staff_cannot_open_a_problem_from_a_cluster(client, frontline, location, wednesdays):
    client.force_login(frontline)
    response = client.post("/manage/problems/from-cluster/", {"location": location.pk, "weekday": 3, "hour": 15,
                                                              "text": "Wed 15:00–16:00 at Riverside: 6 incidents"})
    assert response.status_code == 403 and not Problem.objects.exists()
    assert client.get("/manage/problems/from-cluster/").status_code in (403, 405)


def test_a_cluster_at_someone_elses_location_is_refused_with_words(client, manager, other_location, wednesdays):
    client.force_login(manager)
    response = client.post("/manage/problems/from-cluster/", {"location": other_location.pk, "weekday": 3, "hour": 15,
                                                              "text": "Wed 15:00–16:00 at Hilltop", "next": TRENDS},
                           follow=True)
    assert response.status_code == 200 and not Problem.objects.exists()
    assert "That cluster cannot become a problem" in response.content.decode()


def test_bad_numbers_in_the_form_are_refused_not_a_500(client, manager, wednesdays):
    client.force_login(manager)
    response = client.post("/manage/problems/from-cluster/", {"weekday": "9", "hour": "noon", "text": "x"})
    assert response.status_code == 302 and not Problem.objects.exists()


def test_the_trends_page_lists_open_problems_with_their_verdict(client, manager, location, wednesdays, clock):
    problem = services.open_problem(by=manager, title="Slow kitchen", owner=manager, now=datetime.datetime(2026, 3, 1, tzinfo=UTC),
                                    pattern=Pattern(location_id=location.pk, hour_from=9, hour_to=10))
    problem = services.mark_fixed(problem, by=manager, version=problem.version, fixed_at=datetime.datetime(2026, 3, 16, tzinfo=UTC))
    closed = services.open_problem(by=manager, title="Cold soup", owner=manager, pattern=Pattern(location_id=location.pk))
    services.change_status(closed, by=manager, version=closed.version, status=Status.CLOSED)
    client.force_login(manager)
    page = html.unescape(client.get(TRENDS).content.decode())
    section = page[page.index('id="open-problems-title"'):]
    section = section[:section.index("</section>")]
    verdict = selectors.verdict_of(problem, now=NOW)
    assert verdict.text.startswith("Since the change on 16 Mar: 10 incidents in 13 days")
    assert "Slow kitchen" in section and verdict.text in section
    assert "Cold soup" not in section  # closed


def test_another_organizations_problems_never_show_on_the_trends_page(client, manager, wednesdays):
    elsewhere = factories.OrganizationFactory(slug="elsewhere")
    their_location = factories.LocationFactory(organization=elsewhere, name="Far away")
    their_manager = factories.UserFactory(organization=elsewhere, role="admin", locations=[their_location])
    services.open_problem(by=their_manager, title="Their secret trouble", owner=their_manager, pattern=Pattern(region=""))
    client.force_login(manager)
    assert "Their secret trouble" not in client.get(TRENDS).content.decode()


# --- The filtered incident list ------------------------------------------------------------------------


def test_the_filtered_incident_list_offers_a_new_problem_with_the_same_filters(client, manager, location, wednesdays):
    client.force_login(manager)
    page = client.get(f"/manage/incidents/?{PERIOD}&location={location.pk}&weekday=3&hour=15").content.decode()
    link = re.search(r'<a href="(/manage/problems/new/\?[^"]*)">New problem from these filters</a>', page)
    assert link, "no link to a new problem"
    assert html.unescape(link.group(1)) == f"/manage/problems/new/?{PERIOD}&location={location.pk}&weekday=3&hour=15"


# --- The incident page -------------------------------------------------------------------------------------


@pytest.fixture
def known(manager, frontline, location, clock):
    """An open problem at Riverside with a suspected cause and an action due; a new incident that fits it."""
    problem = services.open_problem(by=manager, title="Kitchen short-staffed on Sundays", owner=manager,
                                    suspected_cause="One cook on the Sunday lunch shift",
                                    pattern=Pattern(location_id=location.pk, weekday=7))
    services.add_action(problem, by=manager, description="Roster a second cook for Sunday lunch", owner=manager,
                        due_on=datetime.date(2026, 4, 5))
    services.add_action(problem, by=manager, description="Already done: tell the team", owner=manager,
                        due_on=datetime.date(2026, 4, 1))
    services.complete_action(problem.actions.get(description__startswith="Already"), by=manager)
    incident = factories.log_incident(user=frontline, location=location, summary="Lunch took an hour")
    assert list(incident.problems.all()) == [problem]
    return problem, incident


def panel(page):
    start = page.find('class="card known-problem"')
    return "" if start < 0 else page[start:page.index("</section>", start)]


def test_the_person_on_the_spot_is_told_the_cause_is_known_and_what_is_being_done(client, frontline, known):
    problem, incident = known
    client.force_login(frontline)
    found = html.unescape(panel(client.get(f"/incidents/{incident.reference}/").content.decode()))
    assert "Known problem: Kitchen short-staffed on Sundays" in found
    assert "Suspected cause:" in found and "One cook on the Sunday lunch shift" in found
    assert "Roster a second cook for Sunday lunch" in found and "due 5 Apr" in found
    assert "Already done" not in found
    assert "investigating" in found
    assert "/manage/problems/" not in found  # frontline staff have no problem pages


def test_a_manager_sees_the_panel_with_a_link_and_the_confirmed_cause(client, manager, known):
    problem, incident = known
    services.update_problem(problem, by=manager, version=problem.version, confirmed_cause="The rota leaves one cook")
    client.force_login(manager)
    found = panel(client.get(f"/incidents/{incident.reference}/").content.decode())
    assert f'<a href="/manage/problems/{problem.pk}/">Kitchen short-staffed on Sundays</a>' in found
    assert "The rota leaves one cook" in found and "Suspected cause" not in found


def test_a_closed_problem_no_longer_shows_on_the_incident(client, frontline, manager, known):
    problem, incident = known
    services.change_status(problem, by=manager, version=problem.version, status=Status.CLOSED)
    client.force_login(frontline)
    assert panel(client.get(f"/incidents/{incident.reference}/").content.decode()) == ""


def test_another_organizations_problem_never_shows_on_an_incident(client, frontline, known):
    _, incident = known
    elsewhere = factories.OrganizationFactory(slug="elsewhere")
    their_admin = factories.UserFactory(organization=elsewhere, role="admin")
    theirs = services.open_problem(by=their_admin, title="Their secret trouble", owner=their_admin)
    # Even a link that should never exist (one written by hand across organizations) shows nothing.
    ProblemIncident.objects.create(problem=theirs, incident=incident, how=ProblemIncident.How.BY_HAND, linked_at=NOW)
    client.force_login(frontline)
    assert "Their secret trouble" not in client.get(f"/incidents/{incident.reference}/").content.decode()


# --- The console and the weekly digest ---------------------------------------------------------------


@pytest.fixture
def overdue(manager, location, other_location, clock):
    """At Riverside: two open problems, one with an action overdue since Friday, one closed; at Hilltop one more."""
    opened = datetime.datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    late = services.open_problem(by=manager, title="Slow kitchen", owner=manager, pattern=Pattern(location_id=location.pk), now=opened)
    services.add_action(late, by=manager, description="New oven", owner=manager, due_on=datetime.date(2026, 3, 27), now=opened)
    services.add_action(late, by=manager, description="Due today", owner=manager, due_on=datetime.date(2026, 3, 29), now=opened)
    services.open_problem(by=manager, title="Cold soup", owner=manager, pattern=Pattern(location_id=location.pk, hour_from=12, hour_to=13))
    closed = services.open_problem(by=manager, title="Old news", owner=manager, pattern=Pattern(location_id=location.pk, weekday=1))
    services.change_status(closed, by=manager, version=closed.version, status=Status.CLOSED)
    hilltop_admin = factories.UserFactory(organization=other_location.organization, role="admin")
    services.open_problem(by=hilltop_admin, title="Hilltop lifts", owner=hilltop_admin, pattern=Pattern(location_id=other_location.pk))
    elsewhere = factories.OrganizationFactory(slug="elsewhere")
    their_admin = factories.UserFactory(organization=elsewhere, role="admin")
    services.open_problem(by=their_admin, title="Theirs", owner=their_admin, pattern=Pattern(region=""))
    return late


def test_the_console_counts_open_problems_and_overdue_actions_in_my_scope(client, manager, admin, overdue):
    client.force_login(manager)
    page = client.get("/manage/").content.decode()
    assert re.search(r'<a href="/manage/problems/">Problems</a>: 2 open, <span class="late">1 corrective action overdue</span>', page)
    client.force_login(admin)  # the organization's admin sees Hilltop's too, never another organization's
    assert '<a href="/manage/problems/">Problems</a>: 3 open' in client.get("/manage/").content.decode()


def test_the_console_says_when_nothing_is_overdue(client, manager, overdue, clock):
    services.complete_action(overdue.actions.get(description="New oven"), by=manager)
    client.force_login(manager)
    assert "Problems</a>: 2 open, no corrective action overdue." in client.get("/manage/").content.decode()


def test_the_weekly_digest_counts_open_problems_and_overdue_actions(manager, overdue, settings, clock):
    manager.email = "mona@example.com"
    manager.save()
    settings.SITE_URL = "https://recovery.example"
    # Monday 30 March, 07:00 in the manager's time zone (UTC): the digest goes out, and the action due
    # on Sunday is overdue too by now.
    clock.move_to(datetime.datetime(2026, 3, 30, 7, 0, tzinfo=UTC))
    assert send_weekly_digests() >= 1
    message = next(message for message in mail.outbox if message.to == ["mona@example.com"])
    assert "PROBLEMS: 2 open, 2 corrective actions overdue" in message.body
    assert "Problems: https://recovery.example/manage/problems/" in message.body
    body = message.alternatives[0][0]
    assert "Problems: 2 open, 2 corrective actions overdue" in body
    assert 'href="https://recovery.example/manage/problems/"' in body
