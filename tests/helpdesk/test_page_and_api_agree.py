"""The Log a failure page and the API log the same incident from the same facts: category optional on
both, the same default severity, the same category found whatever its case."""

import re

from incidents.models import Incident
from tests import factories

from .conftest import new_incident_body


def test_the_same_failure_logged_on_the_page_and_through_the_api_reads_the_same(api, client, frontline, location):
    factories.log_incident(user=frontline, category="Room service")  # an existing label
    client.force_login(frontline)

    for category in ["", "ROOM SERVICE"]:
        token = re.search(r'name="form_token" value="([^"]+)"', client.get("/log/").content.decode()).group(1)
        logged = client.post("/log/", {"form_token": token, "customer_name": "Grace",
                                       "summary": "Lift broken", "channel": "in_person", "location": location.pk,
                                       "category": category, "severity": ""})
        assert logged.status_code == 302
        body = new_incident_body(category=category, owner="fran")
        body.pop("category") if not category else None
        assert api.post("/api/v1/incidents/", body, format="json").status_code == 201

    page_made, api_made = (Incident.objects.filter(logged_by=frontline).exclude(summary="Soup arrived cold")
                           .order_by("pk")), Incident.objects.exclude(logged_by=frontline).order_by("pk")
    assert [(i.severity, i.category.name if i.category else None) for i in page_made] == \
           [(i.severity, i.category.name if i.category else None) for i in api_made] == \
           [("medium", None), ("medium", "Room service")]
