import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from insights.models import WeeklyDigest
from tests import factories

BEFORE = [("incidents", "0012_event_kinds")]
# Unapplying insights (and, before it, incidents' 0013 that depends on it) leaves the database at BEFORE.
INSIGHTS_ZERO = [("insights", None)]


@pytest.mark.django_db(transaction=True)
def test_each_managers_last_digest_week_moves_from_the_user_onto_their_own_row_when_migrated(organization, location):
    had_one = factories.UserFactory(organization=organization, role="manager", locations=[location])
    never = factories.UserFactory(organization=organization, role="manager", locations=[location])
    executor = MigrationExecutor(connection)
    executor.migrate(INSIGHTS_ZERO)
    old_users = executor.loader.project_state(BEFORE).apps.get_model("incidents", "User").objects
    old_users.filter(pk=had_one.pk).update(weekly_digest_sent_on=datetime.date(2026, 3, 2))

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert WeeklyDigest.objects.get(user=had_one).sent_on == datetime.date(2026, 3, 2)
    assert not WeeklyDigest.objects.filter(user=never).exists()
    with connection.cursor() as cursor:
        columns = [column.name for column in connection.introspection.get_table_description(cursor, "incidents_user")]
    assert "weekly_digest_sent_on" not in columns


@pytest.mark.django_db(transaction=True)
def test_migrating_back_puts_the_week_on_the_user_again(organization, location):
    manager = factories.UserFactory(organization=organization, role="manager", locations=[location])
    WeeklyDigest.objects.create(user=manager, sent_on=datetime.date(2026, 3, 9))
    executor = MigrationExecutor(connection)
    executor.migrate(INSIGHTS_ZERO)
    old_users = executor.loader.project_state(BEFORE).apps.get_model("incidents", "User").objects
    assert old_users.get(pk=manager.pk).weekly_digest_sent_on == datetime.date(2026, 3, 9)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert WeeklyDigest.objects.get(user=manager).sent_on == datetime.date(2026, 3, 9)
