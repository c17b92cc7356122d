"""Where problems show on the other apps' pages: the trends, the incident list, the incident page, the console
and the weekly digest. Those pages load these tags (`{% load problems %}`) so that insights and incidents
never import problems: the arrow runs from problems to them, as in the rest of the app.
"""

from django import template
from django.conf import settings
from django.db.models import Count, Prefetch
from django.urls import reverse
from django.utils import timezone

from ..cluster_views import cluster_usual_per_day, open_by_pattern
from ..models import OPEN_STATUSES, CorrectiveAction, Problem, Status, overdue_condition
from ..patterns import Pattern
from ..selectors import problems_list, verdict_of, visible_problems

register = template.Library()

# The trends page lists this many open problems with their verdicts (three counting queries each).
VERDICTS_LISTED = 10


# --- The trends page -------------------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def open_problems_by_pattern(context):
    """{Pattern: problem} of the open problems the person sees, read once for the page's clusters."""
    return open_by_pattern(context["request"].user)


@register.inclusion_tag("problems/tags/cluster_problem.html", takes_context=True)
def cluster_problem(context, cluster, by_pattern):
    """Beside a cluster: its open problem if it has one, else a one-click form that opens one."""
    problem = by_pattern.get(Pattern.from_filters(cluster.link))
    fields = [(name, value.isoformat() if hasattr(value, "isoformat") else value)
              for name, value in cluster.link.items() if value not in (None, "")]
    usual = cluster_usual_per_day(cluster)
    return {"problem": problem, "cluster": cluster, "fields": fields, "csrf_token": context.get("csrf_token"),
            "usual_per_day": "" if usual is None else repr(usual), "next": context["request"].get_full_path()}


@register.inclusion_tag("problems/tags/open_problems.html", takes_context=True)
def open_problems_with_verdicts(context):
    """The open problems the person sees, most recent incidents first, each with its verdict in words."""
    now = timezone.now()
    problems = list(problems_list(context["request"].user, now=now, open_only=True)[:VERDICTS_LISTED])
    return {"rows": [(problem, verdict_of(problem, now=now)) for problem in problems]}


# --- The incident page --------------------------------------------------------------------------------


@register.inclusion_tag("problems/tags/known_problem.html", takes_context=True)
def known_problems(context, incident):
    """The problems not closed that this incident is linked to, with what is being done about them, so the
    person on the spot does not re-diagnose a known cause in front of the customer. Anyone who sees the
    incident sees this; a manager who may open the problem gets a link to it."""
    open_actions = CorrectiveAction.objects.filter(done_at__isnull=True).select_related("owner").order_by("due_on", "pk")
    problems = list(
        Problem.objects.filter(links__incident=incident, organization_id=incident.organization_id)
        .exclude(status=Status.CLOSED).select_related("owner")
        .prefetch_related(Prefetch("actions", queryset=open_actions, to_attr="open_actions")).order_by("opened_at", "pk")
    )
    user = context["request"].user
    linked = set()
    if problems and user.is_authenticated and user.is_manager:
        linked = set(visible_problems(user).filter(pk__in=[p.pk for p in problems]).values_list("pk", flat=True))
    return {"problems": [(problem, problem.pk in linked) for problem in problems], "today": timezone.localdate()}


# --- The console and the weekly digest ----------------------------------------------------------------


def overdue(now):
    """A condition on a problem's corrective actions: not done, and their due day has passed."""
    return overdue_condition(timezone.localdate(now), via="actions__")


@register.simple_tag
def problem_counts(user, now=None):
    """{"open", "overdue", "url", "absolute_url"}: the open problems in the manager's scope and their
    corrective actions that are overdue, in one counting query (after the scope's own)."""
    now = now or timezone.now()
    counts = visible_problems(user).filter(status__in=OPEN_STATUSES).aggregate(
        open=Count("pk", distinct=True), overdue=Count("actions", filter=overdue(now), distinct=True))
    url = reverse("problems:list")
    return {**counts, "url": url, "absolute_url": settings.SITE_URL.rstrip("/") + url}


@register.inclusion_tag("problems/tags/console_counts.html", takes_context=True)
def problems_on_console(context):
    return {"counts": problem_counts(context["request"].user)}
