from django.utils import timezone

from followups import selectors
from tests.conftest import START
from tests.followups.conftest import DAY, MINUTE, SECOND
from tests.followups.test_sweep import walk_to_fixed


def test_running_clocks_show_every_clock_with_its_state_and_last_reminder(incident, frontline, clock_at_start, sweep_at):
    sweep_at(21 * MINUTE)
    clock_at_start.move_to(START + 30 * MINUTE)
    walk_to_fixed(incident, frontline)
    sweep_at(DAY + 31 * MINUTE)
    clocks = {item.kind: item for item in selectors.running_clocks(incident, timezone.now())}
    assert list(clocks) == ["twenty_minute", "check_back", "wrap_up"]
    assert clocks["twenty_minute"].state == "missed"  # fixed at minute 30, after the window
    assert clocks["twenty_minute"].last_reminded_at == START + 21 * MINUTE
    assert clocks["check_back"].state == "late" and clocks["check_back"].last_reminded_at == START + DAY + 31 * MINUTE
    assert clocks["wrap_up"].state == "running" and clocks["wrap_up"].seconds_left == int((DAY - MINUTE).total_seconds())
    assert clocks["wrap_up"].last_reminded_at is None


def test_escalations_name_who_was_told(incident, manager, sweep_at):
    sweep_at(20 * MINUTE + SECOND)
    assert [notification.recipient for notification in selectors.escalations_of(incident)] == [manager]


def test_the_due_query_takes_the_most_overdue_first(frontline, location, clock_at_start):
    from tests import factories

    first = factories.log_incident(user=frontline, location=location)
    clock_at_start.shift(MINUTE)
    second = factories.log_incident(user=frontline, location=location)
    assert selectors.due_incident_ids(timezone.now(), limit=10) == [first.pk, second.pk]
    assert selectors.due_incident_ids(timezone.now(), limit=1) == [first.pk]
    assert selectors.due_incident_ids(START - SECOND, limit=10) == []
