"""New incidents that fit an open problem's pattern are linked as they are logged, from every door,
for one query whatever the number of problems."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Busyness
from problems import services
from problems.models import ProblemEvent, ProblemIncident, Status
from problems.patterns import Pattern
from tests import factories
from tests.conftest import START  # a Wednesday, 14:00 UTC

pytestmark = pytest.mark.django_db


def _problem(manager, **pattern):
    return services.open_problem(by=manager, title="Slow kitchen", owner=manager, pattern=Pattern(**pattern), now=START)


def test_an_incident_that_fits_the_pattern_is_linked_and_the_owner_told(manager, frontline, location):
    problem = _problem(manager, location_id=location.pk, weekday=3, hour_from=14, hour_to=15)
    incident = factories.log_incident(user=frontline, location=location, now=START + datetime.timedelta(minutes=10))
    assert list(incident.problems.all()) == [problem]
    assert ProblemIncident.objects.get(problem=problem, incident=incident).how == ProblemIncident.How.PATTERN
    assert problem.events.filter(kind=ProblemEvent.Kind.INCIDENT_LINKED).count() == 1
    assert manager.notifications.get().incident == incident


@pytest.mark.parametrize("pattern", [
    {"weekday": 4},  # Thursday
    {"hour_from": 15, "hour_to": 16},
    {"busyness": Busyness.PEAK},
    {"region": "North"},
])
def test_an_incident_outside_the_pattern_is_not_linked(manager, frontline, location, pattern):
    _problem(manager, location_id=location.pk, **pattern)
    incident = factories.log_incident(user=frontline, location=location, now=START, busyness=Busyness.NORMAL)
    assert not incident.problems.exists()


def test_the_local_hour_is_the_locations(manager, frontline, organization):
    tokyo = factories.LocationFactory(organization=organization, timezone="Asia/Tokyo", region="East")
    frontline.locations.add(tokyo)
    problem = _problem(manager, location_id=tokyo.pk, weekday=3, hour_from=23, hour_to=24)  # 14:00 UTC is 23:00 in Tokyo
    incident = factories.log_incident(user=frontline, location=tokyo, now=START)
    assert list(incident.problems.all()) == [problem]


def test_a_problem_without_pattern_links_nothing_and_closed_ones_still_match(manager, frontline, location):
    _problem(manager)
    closed = _problem(manager, location_id=location.pk)
    services.change_status(closed, by=manager, version=closed.version, status=Status.CLOSED, now=START)
    incident = factories.log_incident(user=frontline, location=location, now=START)
    assert list(incident.problems.all()) == [closed]


def test_matching_is_one_query_whatever_the_number_of_problems(manager, frontline, location, other_location):
    def queries_to_log():
        with CaptureQueriesContext(connection) as captured:
            factories.log_incident(user=frontline, location=location, now=START)
        return len(captured)

    _problem(manager, location_id=other_location.pk, weekday=1)
    queries_to_log()  # warm: the category and customer lookups are the same each time
    base = queries_to_log()
    for hour in range(20):
        _problem(manager, location_id=other_location.pk, hour_from=hour, hour_to=hour + 1)
    assert queries_to_log() == base


def test_matching_adds_one_query_to_a_create(manager, frontline, location, other_location, monkeypatch):
    from incidents.services import incident_logging

    for hour in range(20):
        _problem(manager, location_id=other_location.pk, hour_from=hour, hour_to=hour + 1)

    def queries_to_log():
        customer = factories.CustomerFactory(organization=location.organization)
        with CaptureQueriesContext(connection) as captured:
            factories.log_incident(user=frontline, location=location, customer=customer, now=START)
        return len(captured)

    queries_to_log()
    with_matching = queries_to_log()
    monkeypatch.setattr(incident_logging, "_when_logged", [])
    assert with_matching == queries_to_log() + 1


def test_an_organization_without_patterns_pays_no_query_and_the_count_follows_the_writes(
        manager, frontline, location, organization, monkeypatch):
    from incidents.services import incident_logging

    def queries_to_log():
        customer = factories.CustomerFactory(organization=organization)
        with CaptureQueriesContext(connection) as captured:
            factories.log_incident(user=frontline, location=location, customer=customer, now=START)
        return len(captured)

    queries_to_log()
    without_problems = queries_to_log()
    monkeypatch.setattr(incident_logging, "_when_logged", [])
    assert queries_to_log() == without_problems
    monkeypatch.undo()

    by_hand = _problem(manager)  # no pattern: linked by hand only
    patterned = _problem(manager, location_id=location.pk)
    organization.refresh_from_db()
    assert organization.problem_patterns == 1
    services.update_problem(by_hand, by=manager, version=by_hand.version, pattern=Pattern(busyness=Busyness.PEAK))
    services.update_problem(patterned, by=manager, version=patterned.version, pattern=Pattern())
    organization.refresh_from_db()
    assert organization.problem_patterns == 1
