"""From a cluster on the trends page to a problem, in one click.

The trends page (insights) does not know problems exist: it loads the `problems` template tags, which give
each cluster either a small form posting here or the open problem that already has its pattern.
"""

import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.utils.translation import gettext

from incidents.services import RecoveryError
from insights import selectors as insight_selectors
from insights.scope import Filters, categories_of, period_of, scope_for

from . import services
from .models import OPEN_STATUSES
from .patterns import PATTERN_FIELDS, Pattern
from .selectors import visible_problems


def open_by_pattern(user):
    """{Pattern: problem} of the open problems `user` sees that have a pattern: one query, so a page of
    clusters asks once whether each already has its problem."""
    problems = visible_problems(user).filter(status__in=OPEN_STATUSES, has_pattern=True).order_by("opened_at", "pk")
    found = {}
    for problem in problems.only("pk", "title", "status", *PATTERN_FIELDS):
        found.setdefault(Pattern.of(problem), problem)
    return found


def cluster_usual_per_day(cluster):
    """The cluster's usual rate per day: its expected count over the days of the period it was found in."""
    start, end = cluster.link.get("start"), cluster.link.get("end")
    if start is None or end is None:
        return None
    days = (end - start).days + 1
    return cluster.expected / days if days > 0 else None


def title_of(text):
    """"Wed 15:00–16:00 at Riverside: 9 incidents, 9.9× the usual rate" → "Wed 15:00–16:00 at Riverside"."""
    return text.split(": ", 1)[0].strip()[:200]


def _usual_per_day(raw):
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _back(request):
    back = request.POST.get("next") or ""
    return back if back.startswith("/manage/") else reverse("insights:trends")


@login_required
@require_POST
def open_from_cluster(request):
    """Open a problem from a cluster's filters (its pattern), text and usual rate, with the period's incidents
    that fit it linked; managers only (403 for anyone else, as every console page). A cluster whose problem is
    already open leads to that problem, so a second click opens nothing twice."""
    scope = scope_for(request.user)
    form = Filters(request.POST, scope=scope, categories=categories_of(scope))
    if not form.is_valid():
        messages.error(request, gettext("That cluster cannot become a problem: ") + "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
        return redirect(_back(request))
    values, now = form.cleaned_data, timezone.now()
    pattern = Pattern.from_filters(values)
    existing = open_by_pattern(request.user).get(pattern)
    if existing is not None:
        messages.info(request, gettext("A problem is open for this already: %(title)s.") % {"title": existing.title})
        return redirect("problems:detail", pk=existing.pk)
    start, end = period_of(values, scope, now)
    incidents = insight_selectors.period_incidents(scope, values, start, end, now)
    text = (request.POST.get("text") or "").strip()
    try:
        problem = services.open_problem(
            by=request.user, title=title_of(text), owner=request.user, pattern=pattern, found_as=text,
            usual_per_day=_usual_per_day(request.POST.get("usual_per_day")),
            incidents=list(incidents.values_list("pk", flat=True)), now=now,
        )
    except RecoveryError as error:
        messages.error(request, error.message)
        return redirect(_back(request))
    return redirect("problems:detail", pk=problem.pk)
