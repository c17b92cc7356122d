"""The one daily window every location had becomes its weekly schedule when migrated."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from incidents.models import WeeklySpan


@pytest.mark.django_db(transaction=True)
def test_each_locations_daily_window_becomes_the_same_span_on_every_day_and_always_open_round_the_clock():
    before, after = [("incidents", "0023_care_flag_expiry")], [("incidents", "0024_business_calendar")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    organization = old.get_model("incidents", "Organization").objects.create(name="Harbour", slug="harbour-migrated")
    Location = old.get_model("incidents", "Location")
    bar = Location.objects.create(organization=organization, name="Bar", code="bar", opens_at=datetime.time(18),
                                  closes_at=datetime.time(2))
    desk = Location.objects.create(organization=organization, name="Desk", code="desk", opens_at=datetime.time(8),
                                   closes_at=datetime.time(8))

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert list(WeeklySpan.objects.filter(location_id=bar.pk).values_list("weekday", "opens", "closes")) == [
        (day, datetime.time(18), datetime.time(2)) for day in range(7)]
    assert set(WeeklySpan.objects.filter(location_id=desk.pk).values_list("opens", "closes")) == {
        (datetime.time(0), datetime.time(0))}
