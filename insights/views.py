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
from django.utils.translation import gettext, ngettext

from incidents import selectors as incident_selectors
from incidents import services
from incidents.models import Gesture, Incident, User
from outreach.survey import feeling_label

from . import bulk, charts, clusters, export, saved_views, selectors
from .forms import BulkForm, SavedViewForm
from .models import ExportJob, SavedView
from .scope import NO_REGION, Filters, categories_of, day_text, period_of, scope_for, staff_of
from .selectors.open_recoveries import decisions_waiting, open_recoveries_page


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
        data["start"] = day_text(default_start.date())
    if not data.get("end"):
        data["end"] = day_text((default_end - selectors.DAY).date())
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
    if request.GET.get("partial"):
        return render(request, "insights/_open_table.html", context)
    # Above the table, whatever its filters: what waits for a decision, and the manager's own recoveries.
    context["decisions"] = decisions_waiting(scope, now=now)
    context["mine"] = incident_selectors.open_incidents_for(request.user, now=now).count()
    return render(request, "insights/open.html", context)


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
            messages.error(request, gettext("Choose a member of staff from the list."))
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
    return gettext("Gesture “%(description)s” %(decision)s.") % {
        "description": gesture.description, "decision": gesture.get_approval_display().lower()}


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
    labels["region"] = {NO_REGION: gettext("(none)")}
    breakdowns = []
    for name, (title, _, _, key) in selectors.BREAKDOWNS.items():
        rows = selectors.labelled(counts.breakdowns[name], labels.get(name))
        extra = {person: gettext("owned %(n)s") % {"n": n} for person, n in counts.handled.items()} if name == "staff" else None
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
    form, values, staff = _filters(request, scope)
    now = timezone.now()
    start, end = period_of(values, scope, now)
    page = Paginator(selectors.incident_list(scope, values, start, end, now), 50).get_page(request.GET.get("page"))
    query = charts.query({key: value for key, value in request.GET.items() if key != "page"})
    return render(request, "insights/incidents.html", {"form": form, "page": page, "start": start.date(),
                                                       "last_day": (end - selectors.DAY).date(),
                                                       "query": query, "staff": staff, "actions": bulk.ACTIONS,
                                                       "here": request.get_full_path()})


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


# --- Saved views and bulk actions ------------------------------------------------------------------

SAVED_VIEW_PAGES = {"open": "insights:open", "incidents": "insights:incidents", "trends": "insights:trends"}


@manager_page
@require_POST
def save_view(request, scope):
    """Save the page's filters under a name; back to the page with them applied. A name or filters that
    cannot be saved show this form again, as typed, with the reason."""
    form = SavedViewForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            view = saved_views.save_view(by=request.user, scope=scope, page=data["page"], name=data["name"],
                                         query=data["query"])
        except services.RecoveryError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, gettext("Saved “%(name)s”: it is one click away on this page.") % {"name": view.name})
            return redirect(reverse(SAVED_VIEW_PAGES[view.page]) + (f"?{view.query}" if view.query else ""))
    return render(request, "insights/saved_view_form.html", {"form": form}, status=400)


@manager_page
@require_POST
def delete_view(request, scope, pk):
    view = get_object_or_404(SavedView, pk=pk, user=request.user)  # another person's is as missing as none
    saved_views.delete_view(view)
    messages.success(request, gettext("Deleted the view “%(name)s”.") % {"name": view.name})
    return redirect(SAVED_VIEW_PAGES[view.page])


def _bulk_form(request, scope):
    return BulkForm(request.POST, scope=scope, staff=staff_of(scope))


@manager_page
@require_POST
def bulk_review(request, scope):
    """The confirmation: every ticked incident and what would change on it; nothing is written yet."""
    form = _bulk_form(request, scope)
    if not form.is_valid():
        return render(request, "insights/bulk_confirm.html", {"form": form}, status=400)
    data, person = form.cleaned_data, form.chosen_person()
    return render(request, "insights/bulk_confirm.html", {
        "form": form, "person": person, "action": data["action"], "back": form.back(),
        "changes": bulk.plan(data["incident"], action=data["action"], person=person),
    })


@manager_page
@require_POST
def bulk_apply(request, scope):
    """Confirmed: each change through its single-incident service, one transaction; each refusal listed."""
    form = _bulk_form(request, scope)
    if not form.is_valid():
        return render(request, "insights/bulk_confirm.html", {"form": form}, status=400)
    data = form.cleaned_data
    changed, refused = bulk.apply(data["incident"], by=request.user, action=data["action"], person=form.chosen_person())
    if changed:
        messages.success(request, ngettext("%(count)s incident changed: %(references)s.",
                                           "%(count)s incidents changed: %(references)s.", len(changed)) % {
            "count": len(changed), "references": ", ".join(incident.reference for incident in changed)})
    for incident, reason in refused:
        messages.error(request, gettext("%(reference)s was not changed: %(reason)s") % {
            "reference": incident.reference, "reason": reason})
    return redirect(form.back() or reverse("insights:incidents"))
