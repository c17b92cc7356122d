"""A working day at Riverside, built through the services as every door builds it, then swept by the
follow-up engine as production would be: one recovery late on the twenty-minute clock, wrap-ups days
overdue, one running clock, one fixed recovery whose check-back is due tomorrow, and a gesture over
budget waiting for a manager on a recovery that is otherwise in good order."""

import datetime
from decimal import Decimal

from django.utils import timezone

from followups import services as followup_services
from incidents import services
from tests import factories

MIN = datetime.timedelta(minutes=1)
DAY = datetime.timedelta(days=1)


def _answered(incident, owner, at):
    services.record_apology(incident, by=owner, channel="in_person", text="I'm so sorry.", now=at + MIN)
    services.record_review(incident, by=owner, customer_account="Cold soup", customer_needs="Hot soup", now=at + 2 * MIN)


def _fixed(incident, owner, at, *, gesture=None):
    _answered(incident, owner, at)
    services.record_fix(incident, by=owner, description="New soup", fixed=True, gesture=gesture, now=at + 5 * MIN)


def working_day(*, owner, manager, location, overdue_wrap_ups=6):
    """Returns the recoveries by name, in the order the frontline list must show them."""
    now = timezone.now()
    log = lambda summary, at: factories.log_incident(user=owner, location=location, summary=summary, now=at)  # noqa: E731
    day = {"wrap_ups": []}
    # Fixed five days ago, checked back the next day, wrap-up (due two days after the fix) never sent.
    for n in range(overdue_wrap_ups):
        at = now - 5 * DAY - n * MIN
        incident = log(f"Soup arrived cold at table {n + 1}", at)
        _fixed(incident, owner, at)
        services.record_follow_up(incident, by=owner, kind="post_fix", channel="phone", note="All good now?",
                                  now=at + DAY + 5 * MIN)
        day["wrap_ups"].append(incident)
    day["late"] = log("Taxi booked by reception never came", now - 26 * MIN)
    day["running"] = log("Birthday cake forgotten for table 12", now - 3 * MIN)
    fixed = log("Room key stopped working twice", now - 60 * MIN)
    _fixed(fixed, owner, now - 60 * MIN)
    day["check_back"] = fixed
    generous = log("Wedding party seated an hour late", now - 45 * MIN)
    _fixed(generous, owner, now - 45 * MIN,
           gesture={"kind": "credit", "description": "Champagne for the wedding party", "cost": Decimal(5000)})
    day["generous"] = generous
    # The engine runs as it does every minute: repeating reminders move next_due_at past now.
    followup_services.sweep(now=now)
    return day
