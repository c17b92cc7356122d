"""Who sees which problems, and the reads the problem pages, the console and the API share."""

import datetime

from django.db.models import Case, Count, Min, Q, Value, When
from django.utils.translation import gettext

from incidents.models import Incident, Location, User
from incidents.selectors import visible_locations

from . import patterns, verdict
from .models import OPEN_STATUSES, Problem

# "Recent" on the problems list, the console and the digest: the last four weeks, as the trends page.
RECENT = datetime.timedelta(days=28)


def visible_problems(user):
    """The incidents' rule: a manager sees the problems whose pattern touches their locations (a location
    of theirs, a region one of theirs is in, or the whole organization); an admin all of the
    organization's; frontline staff see a problem only through an incident linked to it."""
    if not user.is_authenticated:
        return Problem.objects.none()
    if user.is_superuser and user.organization_id is None:
        return Problem.objects.all()
    problems = Problem.objects.filter(organization_id=user.organization_id)
    if user.role == User.Role.ADMIN:
        return problems
    if user.role != User.Role.MANAGER:
        return problems.none()
    locations = list(visible_locations(user).values_list("pk", "region"))
    mine = [pk for pk, _ in locations]
    regions = {region for _, region in locations if region}
    return problems.filter(
        Q(location_id__in=mine) | Q(location__isnull=True, region__in=regions) | Q(location__isnull=True, region="")
    )


def problems_list(user, *, now, open_only=False):
    """Open first, then by incidents linked in the last 28 days, most first."""
    problems = visible_problems(user).select_related("owner", "location", "category")
    if open_only:
        problems = problems.filter(status__in=OPEN_STATUSES)
    return problems.annotate(
        recent=Count("links", filter=Q(links__incident__logged_at__gte=now - RECENT)),
        closed_last=Case(When(status__in=OPEN_STATUSES, then=Value(0)), default=Value(1)),
    ).order_by("closed_last", "-recent", "-opened_at", "-id")


def pattern_incidents(problem):
    """The incidents that fit the problem's pattern (at any of the organization's locations)."""
    locations = list(Location.objects.filter(organization_id=problem.organization_id))
    return patterns.incidents_matching(patterns.Pattern.of(problem), problem.organization_id, locations)


def verdict_of(problem, *, now):
    """Did the fix work: the pattern's count after the fix against its rate before (problems.verdict).
    Three counting queries."""
    if problem.fixed_at is None:
        return verdict.Verdict(verdict.NOT_MARKED, gettext("No fix is marked done yet."))
    return judged_since(problem, change_at=problem.fixed_at, since=problem.fixed_at, now=now)


def judged_since(problem, *, change_at, since, now, change="the change"):
    """The pattern's count in [since, now) against its rate before `change_at`, read over at most
    BEFORE_WINDOW before it and never from before the organization's first incident. The fix's verdict
    counts from the fix; the recurrence check after closing counts from the closing."""
    incidents = pattern_incidents(problem)
    first = Incident.objects.filter(organization_id=problem.organization_id).aggregate(first=Min("logged_at"))["first"]
    start = max(change_at - verdict.BEFORE_WINDOW, first or change_at)
    before = incidents.filter(logged_at__gte=start, logged_at__lt=change_at).count()
    after = incidents.filter(logged_at__gte=since, logged_at__lt=now).count()
    day = datetime.timedelta(days=1)
    return verdict.judge(before=before, before_days=(change_at - start) / day, after=after,
                         after_days=max((now - since) / day, 0), since=since,
                         usual_per_day=problem.usual_per_day, change=change)
