"""The Log a failure form's one-time token is kept on the incident, not on its timeline."""

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from incidents import selectors, services
from incidents.models import Event, Incident


def test_the_same_form_twice_logs_one_incident_and_the_timeline_holds_no_token(frontline, location):
    token = uuid.uuid4()

    def submit():
        return services.log_incident_once(form_token=token, logged_by=frontline, new_customer={"name": "Grace Hopper"},
                                          location=location, summary="Lift broken", channel="in_person")

    (first, created), (again, created_again) = submit(), submit()

    assert created and not created_again and again == first
    assert Incident.objects.get().form_token == token
    assert not [event for event in Event.objects.all() if str(token) in str(event.after)]


def test_another_persons_form_with_the_same_token_is_their_own(frontline, colleague, location):
    token = uuid.uuid4()
    services.log_incident_once(form_token=token, logged_by=frontline, new_customer={"name": "Grace"},
                               location=location, summary="Lift broken", channel="in_person")

    _, created = services.log_incident_once(form_token=token, logged_by=colleague, new_customer={"name": "Ada"},
                                            location=location, summary="Cold soup", channel="in_person")

    assert created and Incident.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_tokens_move_from_the_timeline_onto_their_incidents_when_migrated(frontline, location):
    executor = MigrationExecutor(connection)
    before, after = [("incidents", "0010_organization_two_factor_required")], [("incidents", "0011_form_token_on_the_incident")]
    incident = services.log_incident(logged_by=frontline, customer=services.customer_from_details(
        location.organization, name="Grace"), location=location, summary="Lift broken", channel="in_person")
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    token = uuid.uuid4()
    old.get_model("incidents", "Event").objects.create(
        incident_id=incident.pk, kind="logged_from_page", summary="Logged on the Log a failure page",
        at=incident.logged_at, actor_id=frontline.pk, after={"form_token": str(token)})
    events = old.get_model("incidents", "Event").objects.count()

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Incident.objects.get(pk=incident.pk).form_token == token
    assert Event.objects.count() == events  # the timeline is append-only: the old entry stays, shown to nobody
    assert [event.kind for event in selectors.timeline(Incident.objects.get(pk=incident.pk))] == ["logged"]
