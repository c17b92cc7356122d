import pytest
from django.urls import reverse

from followups.models import Notification
from tests.followups.conftest import MINUTE, SECOND


@pytest.fixture
def alerted(incident, colleague, manager, sweep_at):
    """Cole and Mona each have the internal alert about Ada in their inbox."""
    sweep_at(10 * SECOND)
    return Notification.objects.get(recipient=colleague)


def test_the_header_bell_shows_the_unread_count(client, colleague, alerted):
    client.force_login(colleague)
    page = client.get(reverse("home")).content.decode()
    assert 'aria-label="Notifications, 1 unread"' in page
    assert '<span class="count">1</span>' in page


def test_the_bell_shows_no_count_when_all_is_read(client, frontline, alerted):
    client.force_login(frontline)  # logged it, so was not alerted
    page = client.get(reverse("home")).content.decode()
    assert 'aria-label="Notifications"' in page
    assert 'class="count"' not in page


def test_the_inbox_lists_my_notifications_newest_first(client, colleague, alerted, sweep_at, incident, manager):
    from incidents import services as incident_services

    incident_services.add_helper(incident, by=manager, helper=colleague)
    sweep_at(15 * MINUTE)
    client.force_login(colleague)
    page = client.get(reverse("followups:inbox")).content.decode()
    assert page.index("5 minutes left") < page.index("Take special care of Ada Lovelace")
    assert page.count('class="card notification') == 2


def test_marking_one_read_keeps_it_in_the_list(client, colleague, alerted):
    client.force_login(colleague)
    response = client.post(reverse("followups:mark_read"), {"notification": alerted.pk})
    assert response.status_code == 302
    alerted.refresh_from_db()
    assert alerted.is_read
    page = client.get(reverse("followups:inbox")).content.decode()
    assert "Take special care of Ada Lovelace" in page
    assert "Mark read" not in page.split("Mark all read")[1]


def test_unread_only_hides_what_was_read(client, colleague, alerted):
    client.force_login(colleague)
    client.post(reverse("followups:mark_read"), {"all": "1"})
    page = client.get(reverse("followups:inbox") + "?show=unread").content.decode()
    assert "Nothing unread." in page


def test_nobody_can_mark_someone_elses_notification(client, colleague, manager, alerted):
    client.force_login(manager)
    client.post(reverse("followups:mark_read"), {"notification": [alerted.pk, "junk"]})
    alerted.refresh_from_db()
    assert not alerted.is_read
    assert Notification.objects.get(recipient=manager).read_at is None


def test_the_inbox_needs_a_login(client):
    response = client.get(reverse("followups:inbox"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_marking_read_is_a_post(client, colleague, alerted):
    client.force_login(colleague)
    assert client.get(reverse("followups:mark_read")).status_code == 405


def test_the_wrap_up_draft_is_shown_to_copy(client, incident, frontline, clock_at_start, sweep_at):
    from tests.followups.test_sweep import walk_to_fixed
    from tests.followups.conftest import DAY

    walk_to_fixed(incident, frontline)
    sweep_at(2 * DAY)
    client.force_login(frontline)
    page = client.get(reverse("followups:inbox")).content.decode()
    assert "Draft wrap-up note" in page
    assert "Dear Ada Lovelace," in page


def test_a_fixed_incident_stored_with_an_occurred_at_of_year_one_still_has_its_page_and_draft(client, incident, frontline, location):
    import datetime

    from incidents.models import Incident, Location
    from tests.followups.test_sweep import walk_to_fixed

    walk_to_fixed(incident, frontline)
    # A row from before dates were range-checked; west of UTC its local year would be 0.
    Incident.objects.filter(pk=incident.pk).update(occurred_at=datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc))
    Location.objects.filter(pk=location.pk).update(timezone="America/New_York")
    client.force_login(frontline)
    page = client.get(f"/incidents/{incident.reference}/")
    assert page.status_code == 200
    assert "Thank you for bearing with us at" in page.content.decode()
