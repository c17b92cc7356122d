"""The problems' clock on the follow-up engine: corrective actions due and overdue, verdicts that propose
closing, closed problems whose pattern came back. Run by every sweep (`followups.services.also_sweep`)."""

import datetime
import zoneinfo
from collections import Counter

# An action is first brought up on the morning of its due day, in its owner's time zone.
REMINDER_HOUR = 9


def owner_zone(person):
    """The time zone of the person's first location (their organization's first one, else UTC)."""
    location = person.locations.order_by("pk").first() or (
        person.organization.locations.order_by("pk").first() if person.organization_id else None)
    return zoneinfo.ZoneInfo(location.timezone if location else "UTC")


def first_reminder_at(owner, due_on):
    return datetime.datetime.combine(due_on, datetime.time(REMINDER_HOUR), tzinfo=owner_zone(owner))


def run(*, now):
    """One pass; returns a Counter of what it did, in words for the sweep's report."""
    done = Counter()
    return done
