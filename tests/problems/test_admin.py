"""Operators read problems in the admin, across organizations, and change nothing there."""

import datetime

import pytest
from django.contrib.auth import get_user_model

from problems import services
from problems.patterns import Pattern
from tests.conftest import START

pytestmark = pytest.mark.django_db


def test_an_operator_reads_a_problem_with_its_actions_and_timeline_and_cannot_change_it(client, manager, location):
    problem = services.open_problem(by=manager, title="Slow kitchen", owner=manager,
                                    pattern=Pattern(location_id=location.pk), now=START)
    services.add_action(problem, by=manager, description="A second cook", owner=manager,
                        due_on=START.date() + datetime.timedelta(days=3), now=START)
    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456"))

    page = client.get(f"/admin/problems/problem/{problem.pk}/change/")
    assert page.status_code == 200
    assert "A second cook" in page.content.decode() and "Opened by" in page.content.decode()
    assert client.post(f"/admin/problems/problem/{problem.pk}/change/", {"title": "Changed"}).status_code == 403
    problem.refresh_from_db()
    assert problem.title == "Slow kitchen"
