"""Lifetime value kept counts each customer once per period: a regular kept twice in a week is one customer
kept, not two, on the rollup's path and the incidents' alike."""

import datetime
from decimal import Decimal

import pytest
import time_machine

from incidents.models import User
from insights import rollups, selectors
from insights.scope import Scope
from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
START = datetime.datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
END = START + 7 * DAY
NOW = END + 3 * DAY


def at(day, hour=10):
    return START + day * DAY + datetime.timedelta(hours=hour)


@pytest.fixture
def kept_twice(build, organization, location, other_location, frontline, manager):
    """Ada (1000) kept on Monday and Thursday at Riverside by Fran and at Hilltop by Mona; Ben (300) kept
    once; Cy (5000) lost; Ada kept again the week before."""
    ada = factories.CustomerFactory(organization=organization, name="Ada", lifetime_value=Decimal("1000"))
    ben = factories.CustomerFactory(organization=organization, name="Ben", lifetime_value=Decimal("300"))
    cy = factories.CustomerFactory(organization=organization, name="Cy", lifetime_value=Decimal("5000"))
    manager.locations.add(other_location)
    steps = {"apology": 2, "fix": 10, "wrap_up": 30}
    build(at=at(0), location=location, owner=frontline, customer=ada, outcome="champion", **steps)
    build(at=at(3), location=location, owner=frontline, customer=ada, outcome="retained", **steps)
    build(at=at(4), location=other_location, owner=manager, customer=ada, outcome="champion", **steps)
    build(at=at(1), location=location, owner=frontline, customer=ben, outcome="retained", **steps)
    build(at=at(2), location=location, owner=frontline, customer=cy, outcome="lost", **steps)
    build(at=at(-3), location=location, owner=frontline, customer=ada, outcome="champion", **steps)
    return Scope(user=factories.UserFactory(organization=organization, role=User.Role.ADMIN),
                 locations=[location, other_location])


def _value_kept(rows, total):
    return ({row.key: (row.current["value_kept"], row.previous["value_kept"]) for row in rows},
            (total.current["value_kept"], total.previous["value_kept"]))


@pytest.mark.parametrize("path", ["rollup", "incidents"])
def test_a_customer_kept_twice_in_a_period_counts_once(kept_twice, path, location, other_location, frontline,
                                                      manager):
    if path == "rollup":
        with time_machine.travel(NOW, tick=False):
            rollups.fold_changes(now=NOW)
        read = selectors.scorecard
        assert rollups.scorecard_counts(kept_twice, START, END, "location", NOW) is not None
    else:
        read = selectors.scorecard_from_raw
    by_location = _value_kept(*read(kept_twice, START, END, group="location", now=NOW))
    # Riverside: Ada once (not twice) and Ben; Hilltop: Ada; in all: Ada once and Ben. The week before: Ada.
    assert by_location == ({location.pk: (Decimal("1300"), Decimal("1000")),
                            other_location.pk: (Decimal("1000"), Decimal("0"))},
                           (Decimal("1300"), Decimal("1000")))
    by_staff = _value_kept(*read(kept_twice, START, END, group="staff", now=NOW, staff=[frontline, manager]))
    assert by_staff[0][frontline.pk] == (Decimal("1300"), Decimal("1000"))
    assert by_staff[0][manager.pk] == (Decimal("1000"), Decimal("0"))
    assert by_staff[1] == (Decimal("1300"), Decimal("1000"))


def test_the_scorecard_page_shows_the_value_kept_once(client, kept_twice, location):
    client.force_login(kept_twice.user)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/manage/scorecard/", {"start": START.date().isoformat(),
                                                 "end": (END - DAY).date().isoformat()})
    assert page.status_code == 200
    body = page.content.decode()
    assert "1,300" in body and "2,300" not in body and "3,300" not in body
