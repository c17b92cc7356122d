"""The twenty-minute clock's "late" is one rule: the incident's own state, the database's condition,
the managers' "Late only" filter, the API's `overdue` filter and the admin's column all agree."""

import datetime

from django.contrib import admin
from django.utils import timezone

from incidents import clock, services
from insights import scope as console_scope
from incidents.models import Incident
from tests import factories

MINUTE = datetime.timedelta(minutes=1)


def test_every_door_tells_late_the_same_way(api, frontline, manager, clock_at_start):
    def logged(summary):
        return factories.log_incident(user=frontline, summary=summary)

    late = logged("Nobody came back")
    missed = logged("Answered after the window")
    met = logged("Answered in time")
    services.record_apology(met, by=frontline, channel="in_person", text="I am so sorry this happened to you.")
    services.record_review(met, by=frontline, customer_account="Cold soup", customer_needs="A hot one")
    services.record_fix(met, by=frontline, description="New soup", fixed=True)
    clock_at_start.shift(25 * MINUTE)
    services.record_apology(missed, by=frontline, channel="in_person", text="I am so sorry this happened to you.")
    services.record_review(missed, by=frontline, customer_account="Cold soup", customer_needs="A hot one")
    services.record_fix(missed, by=frontline, description="New soup", fixed=True)
    running = logged("Just logged")
    now = timezone.now()
    incidents = {i.pk: i for i in Incident.objects.all()}

    states = {pk: incident.window_state(now) for pk, incident in incidents.items()}
    assert states == {late.pk: clock.LATE, missed.pk: clock.MISSED, met.pk: clock.MET, running.pk: clock.RUNNING}
    assert set(Incident.objects.late(now).values_list("pk", flat=True)) == {late.pk}
    console = console_scope.filter_incidents(Incident.objects.all(), {"overdue": True},
                                             console_scope.scope_for(manager), now=now)
    assert set(console.values_list("pk", flat=True)) == {late.pk}
    answer = api.get("/api/v1/incidents/?overdue=true").json()["results"]
    assert {row["id"] for row in answer} == {late.pk}
    shown = admin.site._registry[Incident].clock
    assert {pk: shown(incident) for pk, incident in incidents.items()} == states
