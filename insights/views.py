"""The managers' console: thin views that parse filters, call one selector or service, and render."""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.views.decorators.http import require_POST

from incidents import services
from incidents.models import Gesture, Incident, User
from outreach.survey import feeling_label

from . import charts, clusters, export, selectors
from .models import ExportJob
from .scope import Filters, categories_of, period_of, scope_for, staff_of
from .selectors.open_recoveries import open_recoveries_page


def manager_page(view):
    """Log in first; then only managers and admins (403 for anyone else). Passes the scope along."""

    @login_required
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        return view(request, scope_for(request.user), *args, **kwargs)

    return wrapped


def _filters(request, scope, staff=None):
    """The filter form, bound to the query string with the default period filled in, so every page
    shows (and links keep) the dates it covers."""
    staff = staff_of(scope) if staff is None else staff
    data = request.GET.copy()
    default_start, default_end = period_of({}, scope)
    if not data.get("start") and not data.get("end"):
        data["start"] = default_start.date().isoformat()
    if not data.get("end"):
        data["end"] = (default_end - selectors.DAY).date().isoformat()
    form = Filters(data, scope=scope, staff=staff, categories=categories_of(scope))
    return form, form.values(), staff


@manager_page
def open_recoveries(request, scope):
    """Open recoveries at my locations, 50 a page, late ones and decisions waiting first; `?partial=1` is
    the table alone (its page kept), for the refresh."""
    form, values, staff = _filters(request, scope)
    now = timezone.now()
    page, counts = open_recoveries_page(scope, values, now=now, number=_page_number(request))
    rows = page.object_list
    # The pickers of a location are the same on every row: build their <option>s once per location.
    by_location, managers = selectors.staff_by_location(staff)
    options = {key: _options(people) for key, people in by_location.items()}
    for incident in rows:
        incident.staff_options = options.get(incident.location_id) or _options(managers)
    query = charts.query({key: value for key, value in request.GET.items() if key not in ("page", "partial")})
    context = {"form": form, "rows": rows, "page": page, "query": query, "counts": counts, "staff": staff, "now": now,
               "zone": scope.timezone, "next": request.get_full_path().replace("partial=1", "")}
    template = "insights/_open_table.html" if request.GET.get("partial") else "insights/open.html"
    return render(request, template, context)


def _page_number(request):
    """?page=, read as a page number; anything else typed there is the first page."""
    number = request.GET.get("page", "")
    return int(number) if number.isascii() and number.isdigit() and len(number) < 7 else 1


def _options(people):
    return format_html_join("", '<option value="{}">{}</option>', ((person.pk, person.display_name()) for person in people))


def recovery_action(view):
    """POST-only action on one incident of my locations; a broken rule becomes a readable message.
    This is the one place a RecoveryError from the console's actions is turned into words."""

    @manager_page
    @require_POST
    @functools.wraps(view)
    def wrapped(request, scope, pk):
        back = request.POST.get("next") or ""
        back = back if back.startswith("/manage/") else reverse("insights:open")
        try:
            done = view(request, scope, pk)
        except services.RecoveryError as error:
            messages.error(request, error.message)
        except (User.DoesNotExist, ValueError):
            messages.error(request, "Choose a member of staff from the list.")
        else:
            messages.success(request, done)
        return redirect(back)

    return wrapped


def _incident(scope, pk):
    return get_object_or_404(Incident, pk=pk, location_id__in=scope.location_ids)


def _person(request, scope, field):
    return User.objects.get(pk=int(request.POST.get(field, "")), organization_id=scope.user.organization_id)


@recovery_action
def reassign(request, scope, pk):
    incident = services.reassign(_incident(scope, pk), by=request.user, owner=_person(request, scope, "owner"))
    return f"{incident.reference} now belongs to {incident.owner.display_name()}."


@recovery_action
def add_helper(request, scope, pk):
    incident = _incident(scope, pk)  # an incident beyond the manager's reach is 404 before anything else
    helper = _person(request, scope, "helper")
    incident = services.add_helper(incident, by=request.user, helper=helper)
    return f"{helper.display_name()} joined the recovery of {incident.reference}."


@recovery_action
def decide_gesture(request, scope, pk):
    gesture = get_object_or_404(Gesture, pk=pk, incident__location_id__in=scope.location_ids)
    gesture = services.decide_gesture(gesture, by=request.user, approve=request.POST.get("decision") == "approve")
    return f"Gesture “{gesture.description}” {gesture.get_approval_display().lower()}."


@manager_page
def scorecard(request, scope):
    form, values, staff = _filters(request, scope)
    group = "staff" if request.GET.get("by") == "staff" else "location"
    start, end = period_of(values, scope)
    rows, total = selectors.scorecard(scope, start, end, group=group, now=timezone.now(), staff=staff)
    column, descending = request.GET.get("sort", "label"), request.GET.get("dir") == "desc"
    kept = _kept(values)
    return render(request, "insights/scorecard.html", {
        "form": form, "group": group, "start": start.date(), "last_day": (end - selectors.DAY).date(),
        "table": charts.score_table(selectors.sort_rows(rows, column, descending)),
        "total_table": charts.score_table([total]), "columns": charts.SCORE_COLUMNS,
        "sort": column, "descending": descending, "query": charts.query(kept, by=group),
        "by_location": charts.query(kept, by="location"), "by_staff": charts.query(kept, by="staff"),
    })


def _kept(values):
    return {key: value for key, value in values.items() if key in ("start", "end", "location", "region", "category")}


@manager_page
def trends(request, scope):
    """Heatmap, breakdowns and the clusters that stand out, for the period and filters chosen."""
    form, values, staff = _filters(request, scope)
    now = timezone.now()
    start, end = period_of(values, scope, now)
    link = {"start": start.date(), "end": (end - selectors.DAY).date(), **_kept(values)}
    counts = selectors.period_trends(scope, values, start, end, now)
    category_names = {key: name for key, name in form.fields["category"].choices if key != ""}
    found = clusters.time_clusters(counts.cells, scope.locations, link=link)
    found += clusters.category_clusters(counts.region_category, category_names, link=link)
    labels = {
        "location": {location.pk: location.name for location in scope.locations}, "category": category_names,
        "staff": {person.pk: person.display_name() for person in staff}, **_choice_labels(),
    }
    breakdowns = []
    for name, (title, _, _, key) in selectors.BREAKDOWNS.items():
        rows = selectors.labelled(counts.breakdowns[name], labels.get(name))
        extra = {person: f"owned {n}" for person, n in counts.handled.items()} if name == "staff" else None
        breakdowns.append({"title": title, "chart": charts.bar_chart(rows, filters=link, key_name=key, extra=extra)})
    marked = {(cluster.link["weekday"], cluster.link["hour"]) for cluster in found if cluster.kind == "time"}
    return render(request, "insights/trends.html", {
        "form": form, "start": start.date(), "last_day": (end - selectors.DAY).date(), "clusters": found, "breakdowns": breakdowns,
        "heatmap": charts.heatmap_svg(selectors.heatmap(counts.cells), filters=link, marked=marked),
        "cluster_links": [(cluster, charts.query(cluster.link)) for cluster in found], "alpha": clusters.ALPHA,
        "min_count": clusters.MIN_COUNT, "min_ratio": clusters.MIN_RATIO,
    })


def _choice_labels():
    from incidents.models import Busyness, Channel

    return {"busyness": dict(Busyness.choices), "channel": dict(Channel.choices)}


@manager_page
def incident_list(request, scope):
    form, values, _ = _filters(request, scope)
    now = timezone.now()
    start, end = period_of(values, scope, now)
    page = Paginator(selectors.incident_list(scope, values, start, end, now), 50).get_page(request.GET.get("page"))
    query = charts.query({key: value for key, value in request.GET.items() if key != "page"})
    return render(request, "insights/incidents.html", {"form": form, "page": page, "start": start.date(),
                                                       "last_day": (end - selectors.DAY).date(),
                                                       "query": query})


@manager_page
def customer_answers(request, scope):
    """The customers' answers to the satisfaction check and their suggestions, for the period chosen."""
    form, values, _ = _filters(request, scope)
    start, end = period_of(values, scope)
    with_suggestion = request.GET.get("suggestions") == "1"
    answers = selectors.customer_answers(scope, values, start, end, with_suggestion=with_suggestion)
    page = Paginator(answers, 50).get_page(request.GET.get("page"))
    for answer in page:
        answer.feeling_text = feeling_label(answer.feeling)
    query = charts.query({key: value for key, value in request.GET.items() if key not in ("page", "suggestions")})
    return render(request, "insights/answers.html", {
        "form": form, "page": page, "start": start.date(), "last_day": (end - selectors.DAY).date(),
        "query": query, "with_suggestion": with_suggestion,
    })


@manager_page
def export_csv(request, scope):
    """The CSV at once when it is small; a large one becomes a job, and I am sent to its page."""
    form, values, _ = _filters(request, scope)
    result = export.export(scope, values, now=timezone.now())
    return redirect("insights:export_job", pk=result.pk) if isinstance(result, ExportJob) else result


@login_required
def export_job(request, pk):
    """A large export's page: its progress bar while it is written, then the download link."""
    now = timezone.now()
    job = export.job_for(request.user, pk)
    template = "insights/_export_job.html" if request.GET.get("partial") else "insights/export_job.html"
    return render(request, template, {"job": job, "state": export.state_of(job, now), "now": now})


@login_required
def export_download(request, pk):
    return export.download(request.user, pk, now=timezone.now())


@login_required
@require_POST
def export_retry(request, pk):
    job = export.retry(request.user, pk, now=timezone.now())
    return redirect("insights:export_job", pk=job.pk)
