"""Closing through the API obeys the same rule as the page: a gesture still waiting lapses, visibly."""

import pytest

from followups.models import Notification
from incidents.models import Gesture

from .test_steps import APOLOGY, DEPOSITION, FIX, REVIEW, WRAP_UP, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident_url(clock_at_start, create):
    return f"/api/v1/incidents/{create(external_id='HD-7').json()['id']}/"


def test_closing_over_the_api_lapses_the_waiting_gesture_and_says_so(api, incident_url, manager):
    post(api, incident_url + "apology/", APOLOGY)
    post(api, incident_url + "review/", REVIEW)
    fix = post(api, incident_url + "fix/", {**FIX, "gesture": {"kind": "credit", "description": "Refund", "cost": "500.00"}})
    assert fix.json()["gesture"]["approval"] == "pending"
    post(api, incident_url + "deposition/", DEPOSITION)
    post(api, incident_url + "follow-ups/", WRAP_UP)

    assert post(api, incident_url + "outcome/", {"outcome": "retained"}).status_code == 201

    gesture = Gesture.objects.get()
    assert gesture.approval == Gesture.Approval.LAPSED
    gestures = api.get(incident_url + "gestures/").json()
    listed = gestures["results"] if isinstance(gestures, dict) else gestures
    assert [item["approval"] for item in listed] == ["lapsed"]
    kinds = [event["kind"] for event in api.get(incident_url + "timeline/").json()]
    assert kinds[-2:] == ["gesture_lapsed", "closed"]
    # The location's manager, who could have decided, hears of it.
    assert Notification.objects.filter(kind=Notification.Kind.GESTURE_LAPSED, recipient=manager).count() == 1
    # And it can no longer be approved through the API.
    response = api.post(f"{incident_url}gestures/{gesture.pk}/approve/", {"manager": manager.username}, format="json")
    assert response.status_code == 409 and "lapsed" in response.json()["message"].lower()
    assert Gesture.objects.get().approval == Gesture.Approval.LAPSED
