"""The problem pages: thin views over problems.services and problems.selectors.

Every change is a POST to its own small view: parse the form, call one service, redirect with a message;
on a broken rule the problem page is shown again with the service's words beside the fields and what was
typed kept. A problem the person may not see is a 404 (`services.problem_for`); frontline staff get 403.
"""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.utils.translation import gettext
from django.utils.formats import date_format

from incidents.models import Category, Location, User
from incidents.selectors import visible_locations
from incidents.services import Conflict, RecoveryError
from insights.scope import Filters, categories_of, scope_for, staff_of

from . import charts, selectors, services
from .forms import ActionForm, EditProblemForm, FixForm, NewProblemForm, StatusForm, local_midnight
from .models import CorrectiveAction, Problem, Status, overdue_condition
from .patterns import Pattern, incidents_matching

LINKED_SHOWN = 50


def manager_page(view):
    """Log in first; then only managers and admins (403 for anyone else)."""

    @login_required
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not services.may_manage_problems(request.user) or request.user.organization_id is None:
            raise PermissionDenied(gettext("Problems are for managers and admins."))
        return view(request, *args, **kwargs)

    return wrapped


def _problem(request, pk):
    try:
        return services.problem_for(request.user, pk)
    except Problem.DoesNotExist:
        raise Http404(gettext("No such problem."))


def _staff(user):
    return list(User.objects.filter(organization_id=user.organization_id, is_active=True, api_client__isnull=True)
                .order_by("first_name", "last_name", "username"))


def _names(organization_id, staff):
    """The names a pattern is described with: {"location": {id: name}, "category": …, "logged_by": …}."""
    return {
        "location": dict(Location.objects.filter(organization_id=organization_id).values_list("pk", "name")),
        "category": dict(Category.objects.filter(organization_id=organization_id).values_list("pk", "name")),
        "logged_by": {person.pk: person.display_name() for person in staff},
    }


def _show_errors(form, error, rename=None):
    """The service's field errors beside the form's fields; any other as the form's own error."""
    rename = rename or {}
    shown = {rename.get(name, name): errors for name, errors in error.field_errors.items()}
    beside = {name: errors for name, errors in shown.items() if name in form.fields and name != "version"}
    for name, errors in beside.items():
        for message in errors:
            form.add_error(name, message)
    if len(beside) < len(shown) or not shown:
        form.add_error(None, error.message)


# --- The list and a new problem ------------------------------------------------------------------------


@manager_page
def problem_list(request):
    """The problems I may see: open first, then by incidents in the last 28 days."""
    now = timezone.now()
    page = Paginator(selectors.problems_list(request.user, now=now), 50).get_page(request.GET.get("page"))
    staff = _staff(request.user)
    names = _names(request.user.organization_id, staff)
    today = timezone.localdate(now)
    overdue = dict(CorrectiveAction.objects.filter(overdue_condition(today), problem__in=[problem.pk for problem in page])
                   .values_list("problem").annotate(n=Count("pk")).values_list("problem", "n"))
    for problem in page:
        problem.pattern_text = Pattern.of(problem).describe(names)
        problem.overdue_actions = overdue.get(problem.pk, 0)
        # The verdict is three counting queries; only problems being watched have one.
        problem.verdict = selectors.verdict_of(problem, now=now) if problem.status == Status.WATCHING else None
    return render(request, "problems/list.html", {"page": page})


def _new_form(request, data=None, initial=None):
    scope = scope_for(request.user)
    return NewProblemForm(data, initial=initial, staff=_staff(request.user), locations=scope.locations,
                          categories=categories_of(scope))


def _prefilled(request):
    """The pattern of the trends page's filters in the query string ("New problem from these filters")."""
    scope = scope_for(request.user)
    filters = Filters(request.GET, scope=scope, staff=staff_of(scope), categories=categories_of(scope))
    return Pattern.from_filters(filters.values())


@manager_page
def problem_new(request):
    if request.method != "POST":
        pattern = _prefilled(request)
        initial = {"owner": request.user.pk, **NewProblemForm.initial_of(pattern)}
        if not pattern.is_empty:
            staff = _staff(request.user)
            initial["title"] = pattern.describe(_names(request.user.organization_id, staff))[:200]
        return render(request, "problems/new.html", {"form": _new_form(request, initial=initial)})
    form = _new_form(request, request.POST)
    if form.is_valid():
        data, pattern = form.cleaned_data, form.pattern()
        try:
            problem = services.open_problem(by=request.user, title=data["title"], owner=data["owner"], pattern=pattern,
                                            suspected_cause=data["suspected_cause"], incidents=_recent_matches(request, pattern))
        except RecoveryError as error:
            _show_errors(form, error)
        else:
            messages.success(request, gettext("Problem opened: %(title)s.") % {"title": problem.title})
            return redirect("problems:detail", pk=problem.pk)
    return render(request, "problems/new.html", {"form": form}, status=400)


def _recent_matches(request, pattern):
    """The incidents of the last 28 days at my locations behind the pattern, linked as the problem opens.
    Read only once the service has accepted the pattern (a generator), so a broken one is never queried."""
    if pattern.is_empty or pattern.errors():
        return
    locations = list(visible_locations(request.user))
    since = timezone.now() - selectors.RECENT
    yield from (incidents_matching(pattern, request.user.organization_id, locations)
                .filter(location__in=locations, logged_at__gte=since).values_list("pk", flat=True))


# --- The problem page ------------------------------------------------------------------------------------


@manager_page
def problem_detail(request, pk):
    return _detail_page(request, _problem(request, pk))


def _detail_page(request, problem, status=200, **forms):
    """The problem page; `forms` are bound forms with errors from a refused POST, shown instead of empty ones."""
    now = timezone.now()
    staff = _staff(request.user)
    names = _names(problem.organization_id, staff)
    today = timezone.localdate(now)
    pattern = Pattern.of(problem)
    incidents = selectors.pattern_incidents(problem)
    weeks = charts.weekly_counts(incidents, now=now)
    mine = visible_locations(request.user)
    links = problem.links.select_related("incident__location").order_by("-incident__logged_at", "-id")
    visible_links = links.filter(Q(incident__location__in=mine))
    actions = list(problem.actions.select_related("owner", "done_by"))
    for action in actions:
        action.overdue = action.is_overdue(today)
    version = {"version": problem.version}
    context = {
        "problem": problem, "pattern_text": pattern.describe(names), "has_pattern": problem.has_pattern,
        "matches_recently": problem.has_pattern and incidents.filter(logged_at__gte=now - selectors.RECENT).exists(),
        "chart": charts.weekly_chart(weeks, fixed_at=problem.fixed_at, usual_per_day=problem.usual_per_day),
        "verdict": selectors.verdict_of(problem, now=now) if problem.fixed_at else None,
        "links": visible_links[:LINKED_SHOWN], "links_count": visible_links.count(),
        "links_elsewhere": links.count() - visible_links.count(), "links_shown": LINKED_SHOWN,
        "actions": actions, "events": problem.events.select_related("actor"),
        "moves": [(key, label) for key, label in Status.choices if key in services.MOVES.get(problem.status, ())
                  and key != Status.WATCHING],
        "edit_form": forms.get("edit_form") or EditProblemForm(initial={
            "title": problem.title, "owner": problem.owner_id, "suspected_cause": problem.suspected_cause,
            "confirmed_cause": problem.confirmed_cause, **version}, staff=staff),
        "status_form": forms.get("status_form") or StatusForm(initial=version),
        "fix_form": forms.get("fix_form") or FixForm(initial={"fixed_on": today, "confirmed_cause": problem.confirmed_cause,
                                                              **version}),
        "action_form": forms.get("action_form") or ActionForm(initial={"owner": problem.owner_id}, staff=staff),
        "today": today,
    }
    return render(request, "problems/detail.html", context, status=status)


def problem_change(form_class, form_name, **form_kwargs):
    """A POST on one problem: bind `form_class`, call the view's service, redirect with its message; a broken
    rule shows the page again with the errors and what was typed. A conflict keeps the typed values too and
    carries the current version, so sending them again is a deliberate choice."""

    def decorator(change):
        @manager_page
        @require_POST
        @functools.wraps(change)
        def wrapped(request, pk, **kwargs):
            problem = _problem(request, pk)
            extra = {"staff": _staff(request.user)} if form_kwargs.get("staff") else {}
            form = form_class(request.POST, **extra)
            if form.is_valid():
                try:
                    done = change(request, problem, form.cleaned_data, **kwargs)
                except RecoveryError as error:
                    problem = _problem(request, pk)
                    if isinstance(error, Conflict) and "version" in form.fields:
                        data = request.POST.copy()
                        data["version"] = problem.version
                        form = form_class(data, **extra)
                        form.is_valid()
                    _show_errors(form, error, rename={"fixed_at": "fixed_on"})
                    return _detail_page(request, problem, status=409 if isinstance(error, Conflict) else 400,
                                        **{form_name: form})
                messages.success(request, done)
                return redirect("problems:detail", pk=problem.pk)
            return _detail_page(request, problem, status=400, **{form_name: form})

        return wrapped

    return decorator


@problem_change(EditProblemForm, "edit_form", staff=True)
def problem_edit(request, problem, data):
    values = {name: data[name] for name in ("title", "owner", "suspected_cause", "confirmed_cause")}
    services.update_problem(problem, by=request.user, version=data["version"], **values)
    return gettext("Problem saved.")


@problem_change(StatusForm, "status_form")
def problem_status(request, problem, data):
    problem = services.change_status(problem, by=request.user, version=data["version"], status=data["status"])
    return gettext("The problem is now %(lower)s.") % {"lower": problem.get_status_display().lower()}


@problem_change(FixForm, "fix_form")
def problem_fix(request, problem, data):
    problem = services.mark_fixed(problem, by=request.user, version=data["version"], fixed_at=local_midnight(data["fixed_on"]),
                                  confirmed_cause=data["confirmed_cause"] or None)
    return gettext("Fix marked done on %(fixed_at)s: the pattern is watched from then on.") % {"fixed_at": date_format(problem.fixed_at, "j M Y")}


@problem_change(ActionForm, "action_form", staff=True)
def action_add(request, problem, data):
    action = services.add_action(problem, by=request.user, description=data["description"], owner=data["owner"],
                                 due_on=data["due_on"])
    return gettext("Action added for %(name)s, due %(due_on)s.") % {"name": action.owner.display_name(), "due_on": date_format(action.due_on, "j M Y")}


@manager_page
@require_POST
def action_done(request, pk, action_pk):
    problem = _problem(request, pk)
    try:
        action = problem.actions.get(pk=action_pk)
    except CorrectiveAction.DoesNotExist:
        raise Http404(gettext("No such action."))
    try:
        services.complete_action(action, by=request.user)
    except RecoveryError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, gettext("Done: %(description)s.") % {"description": action.description})
    return redirect("problems:detail", pk=problem.pk)
