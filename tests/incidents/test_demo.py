import datetime

import pytest
from django.core.management import call_command
from django.db.models import Count

from incidents import demo
from incidents.models import Incident, User

NOW = datetime.datetime(2026, 11, 23, 19, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def demo_org(django_db_setup, django_db_blocker):
    """Seeding takes a few seconds; build it once for the module and remove it afterwards."""
    with django_db_blocker.unblock():
        organization, created = demo.seed(NOW)
        assert created
        yield organization
        call_command("flush", "--noinput")


pytestmark = pytest.mark.django_db


def test_the_demo_has_two_logins_with_the_demo_password(demo_org):
    frontline = User.objects.get(username="frontline")
    manager = User.objects.get(username="manager")
    assert frontline.check_password(demo.DEMO_PASSWORD)
    assert manager.check_password(demo.DEMO_PASSWORD)
    assert manager.role == "manager"
    assert manager.locations.count() == 3


def test_the_demo_covers_about_eight_weeks_at_three_locations(demo_org):
    incidents = Incident.objects.filter(organization=demo_org)
    assert demo_org.locations.count() == 3
    first = incidents.order_by("logged_at").first().logged_at
    assert datetime.timedelta(weeks=7) < NOW - first <= datetime.timedelta(weeks=8, days=1)
    assert incidents.count() > 300


def test_seeding_again_changes_nothing(demo_org):
    before = Incident.objects.count()
    organization, created = demo.seed(NOW + datetime.timedelta(days=1))
    assert not created
    assert organization == demo_org
    assert Incident.objects.count() == before


def test_wednesday_afternoons_at_riverside_stand_out(demo_org):
    riverside = Incident.objects.filter(location__code="riverside")
    local = [i.logged_at.astimezone(demo.ZONE) for i in riverside]
    wednesday_3pm = sum(1 for t in local if t.weekday() == 2 and t.hour == 15)
    other_weekday_3pm = [sum(1 for t in local if t.weekday() == day and t.hour == 15) for day in (0, 1, 3, 4, 5, 6)]
    assert wednesday_3pm > 3 * max(other_weekday_3pm)


def test_coffee_machines_fail_only_in_the_north(demo_org):
    regions = set(Incident.objects.filter(category__name="Coffee machine").values_list("location__region", flat=True))
    assert regions == {"North"}


def test_more_failures_happen_when_busy(demo_org):
    counts = dict(Incident.objects.values_list("busyness").annotate(n=Count("id")))
    assert counts["peak"] + counts["busy"] > 2 * (counts["quiet"] + counts["normal"])


def test_some_recoveries_are_open_now_at_different_stages(demo_org):
    open_stages = set(Incident.objects.filter(closed_at__isnull=True).values_list("stage", flat=True))
    assert {"apology", "fix", "wrap_up"} <= open_stages
    assert demo_org.incidents.filter(gestures__approval="pending").exists()


def test_a_believable_few_of_the_demo_s_customers_show_take_special_care(demo_org):
    from incidents.models import Customer

    customers = Customer.objects.filter(organization=demo_org)
    flagged = customers.care_flag_open(NOW).count()
    assert 0.08 < flagged / customers.count() < 0.4, flagged
    cleared = customers.filter(care_flag_cleared_at__isnull=False)
    assert cleared.exists() and not cleared.filter(care_flag_cleared_by__isnull=True).exists()
    # Those still being recovered keep their flag.
    still_open = Incident.objects.filter(organization=demo_org, closed_at__isnull=True).values("customer")
    assert customers.filter(pk__in=still_open).exclude(pk__in=customers.care_flag_open(NOW)).count() == 0
