"""The weekly digest: each manager, on Monday morning in their location's time zone, gets last week's
scorecard, champions counted by customers beside those staff judged (per location and per staff
member), the clusters that stood out and the recoveries still open.

Beat calls `send_weekly_digests` every quarter of an hour; the function decides who is due, so every time
zone gets its Monday morning and a missed run is caught up by the next one. Each manager's week is claimed
by `claim_week` (an `UPDATE … WHERE sent_on < this Monday` on the manager's `WeeklyDigest` row, or the
row's first INSERT) that must change exactly one row, so two runs at once (or a run repeated with the same
clock) send one digest.
"""

import datetime
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Category, User

from . import charts, clusters, selectors
from .models import WeeklyDigest
from .scope import scope_for, staff_of

logger = logging.getLogger(__name__)

DIGEST_HOUR = 7  # local time, Monday
OPEN_LISTED = 10


def digest_zone(scope):
    """The time zone of the manager's first location: their Monday morning."""
    return scope.locations[0].zone


def digest_day(scope, monday):
    """The day of the week of `monday` the manager's digest goes: the first their first location opens."""
    return incident_services.calendar_for(scope.locations[0]).first_open_day(monday)


def send_weekly_digests(*, now=None):
    """Send the digest to every manager whose Monday morning has come and who has not had this week's.
    Returns how many were sent."""
    now = now or timezone.now()
    managers = (
        User.objects.filter(is_active=True, role__in=[User.Role.MANAGER, User.Role.ADMIN])
        .exclude(email="")
        .order_by("pk")
    )
    sent = 0
    for manager in managers:
        scope = scope_for(manager)
        if not scope.locations:
            continue
        local = now.astimezone(digest_zone(scope))
        monday = local.date() - datetime.timedelta(days=local.weekday())
        # Monday, or the week's first day the location opens by its calendar (after a closed Monday or a
        # bank holiday): the digest waits for a day someone is there to read it.
        if local.date() != digest_day(scope, monday) or local.hour < DIGEST_HOUR:
            continue
        # The claim and the mail share a transaction: if the mail fails, the claim is undone and the
        # next run tries again.
        with transaction.atomic():
            if not claim_week(manager, monday):
                continue
            send_digest(manager, scope, monday, now)
        sent += 1
    return sent


def claim_week(manager, monday):
    """Claim the week of `monday` for `manager`'s digest; True if this caller got it and must send.

    Call inside the transaction that sends. A manager who has had a digest has a row: it is claimed by an
    UPDATE that changes it only while its week is older, and a concurrent run waits on the row lock, then
    finds the new Monday and changes nothing. A manager's first digest is claimed by inserting the row: of
    two runs, the second waits on the primary key and gets an IntegrityError once the first commits (or
    inserts after all, if the first rolled back)."""
    if WeeklyDigest.objects.filter(user=manager, sent_on__lt=monday).update(sent_on=monday) == 1:
        return True
    if WeeklyDigest.objects.filter(user=manager).exists():
        return False  # this week's is sent; every later pass on Monday ends here, with no failed INSERT
    try:
        with transaction.atomic():  # a savepoint: a lost race must not break the caller's transaction
            WeeklyDigest.objects.create(user=manager, sent_on=monday)
    except IntegrityError:
        return False  # the row exists: this week's digest is sent, or being sent by another run
    return True


def digest_context(scope, monday, now):
    """Last week's (Monday to Sunday, local) figures for one manager's locations."""
    zone = digest_zone(scope)
    end = datetime.datetime.combine(monday, datetime.time(), tzinfo=zone)
    start = end - datetime.timedelta(days=7)
    rows, total = selectors.scorecard(scope, start, end, group="location", now=now)
    staff_rows, _ = selectors.scorecard(scope, start, end, group="staff", now=now, staff=staff_of(scope))
    counts = selectors.period_trends(scope, {}, start, end, now)
    names = dict(Category.objects.filter(pk__in=[key for _, key in counts.region_category]).values_list("pk", "name"))
    found = clusters.time_clusters(counts.cells, scope.locations)
    found += clusters.category_clusters(counts.region_category, names)
    open_rows, counts = selectors.open_recoveries(scope, {}, now=now, limit=OPEN_LISTED)
    site = settings.SITE_URL.rstrip("/")
    total_table = charts.score_table([total])
    total_lines = [(title, current, previous)
                   for (_, title), (current, previous) in zip(charts.SCORE_COLUMNS[1:], total_table[0][2])]
    by_location = charts.champion_lines(selectors.sort_rows(rows, "label", False))
    by_staff = charts.champion_lines(selectors.sort_rows(staff_rows, "label", False))
    return {
        "start": start.date(), "last_day": (end - datetime.timedelta(days=1)).date(),
        "columns": charts.SCORE_COLUMNS[1:], "table": charts.score_table(selectors.sort_rows(rows, "label", False)),
        "total_table": total_table, "total_lines": total_lines, "total": total, "clusters": found,
        # Champions counted by the customer beside staff's, per location and per staff member (owner).
        "champions_by_location": by_location, "champions_by_staff": by_staff,
        "champion_groups": [("Per location", by_location), ("Per staff member (owner)", by_staff)],
        "open_rows": open_rows, "open_counts": counts,
        "console_url": site + reverse("insights:open"), "trends_url": site + reverse("insights:trends"),
    }


def send_digest(manager, scope, monday, now):
    context = {"manager": manager, **digest_context(scope, monday, now)}
    message = EmailMultiAlternatives(
        subject=f"Recovery: your week {context['start']:%d %b} – {context['last_day']:%d %b}",
        body=render_to_string("emails/weekly_digest.txt", context),
        to=[manager.email],
    )
    message.attach_alternative(render_to_string("emails/weekly_digest.html", context), "text/html")
    message.send()
    logger.info("weekly digest sent", extra={"user": manager.username, "week_of": monday.isoformat()})
