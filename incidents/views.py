"""The frontline pages: my open recoveries, log a failure, the guided recovery, customers, the coach list.

Views parse, call one service or selector, and render. Every RecoveryError a service raises becomes a
form error in `_run_service`, the one place that translates the rules into the page.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from attachments import forms as attachment_forms
from attachments import services as attachment_services
from followups import selectors as followup_selectors
from outreach import selectors as outreach_selectors
from outreach import services as outreach_services
from outreach import progress_reports
from recovery import languages

from . import coach, forms, selectors, services
from .models import CoachPhrase, FollowUp, Stage
from .validators import shown_moment

# Which section of the incident page is open for each stage of the recovery.
OPEN_SECTION = {
    Stage.APOLOGY: "apology",
    Stage.REVIEW: "review",
    Stage.FIX: "fix",
    Stage.DOCUMENT: "deposition",
    Stage.WRAP_UP: "follow_up",
    Stage.OUTCOME: "outcome",
    Stage.CLOSED: "",
}

# My open recoveries a page: a phone's screenful or two.
HOME_PER_PAGE = 25

# Service field names that differ from the form's.
FIELD_ALIASES = {"name": "customer_name", "email": "customer_email", "phone": "customer_phone", "cost": "gesture_cost",
                 "occurred_at": "occurred_time"}


def run_service(form, call):
    """Call a service for a valid form. A broken rule becomes a form error, in the words the service
    wrote for the person at the counter; the form keeps everything typed. Returns None on error."""
    try:
        return call()
    except services.StepChanged as error:
        # Keep what was typed, show what is saved now, and let a second save replace it knowingly.
        data = form.data.copy()
        data["expected_version"] = error.version
        form.data = data
        form.current = [
            (form.fields[name].label if name in form.fields else name, _shown(value))
            for name, value in error.current.items()
        ]
        form.add_error(None, error.message)
    except services.RecoveryError as error:
        # A step refused for the order of the steps names the one to do first: the page opens it.
        form.step_first = getattr(error, "step", "")
        for field, field_messages in error.field_errors.items():
            name = FIELD_ALIASES.get(field, field)
            if name in form.fields and name not in form.errors:
                form.add_error(name, field_messages)
        form.add_error(None, error.message)
    return None


def _shown(value):
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    return value or "—"


def clock_words(seconds_left):
    """`12 min left` / `3 min late`: the twenty-minute clock as a person reads it (the page's
    script keeps the same words ticking every second)."""
    if seconds_left is None:
        return gettext("Met")
    minutes, seconds = divmod(abs(int(seconds_left)), 60)
    hours, minutes = divmod(minutes, 60)
    amount = f"{hours} h {minutes:02d} min" if hours else f"{minutes}:{seconds:02d} min"
    # Translators: "12:05 min left"; app.js says the same as the clock ticks.
    return (gettext("%(amount)s left") if seconds_left >= 0 else gettext("%(amount)s late")) % {"amount": amount}


@login_required
def home(request):
    """Where a person lands: managers and admins on their console, everyone else on their own recoveries."""
    if selectors.sees_console(request.user):
        return redirect("insights:open")
    return my_recoveries(request)


@login_required
def my_recoveries(request):
    """My open recoveries, most urgent first (late, then the promise due soonest), 25 a page, each saying
    what is due and when, by the clocks the follow-up engine keeps."""
    now = timezone.now()
    page = Paginator(selectors.open_incidents_for(request.user, now=now), HOME_PER_PAGE).get_page(request.GET.get("page"))
    incidents = list(page)
    progress_drafts = progress_reports.open_drafts_by_incident(incidents)
    promises = services.next_promises(incidents)
    for incident in incidents:
        incident.progress_draft = progress_drafts.get(incident.pk)
        incident.window_seconds = (
            None if incident.responded_at else int((incident.follow_up_due_at - now).total_seconds())
        )
        incident.window_words = clock_words(incident.window_seconds)
        incident.due = due_of(promises[incident.pk], incident, now)
    # Messages to my customers that did not go out, until I follow up another way.
    undelivered = outreach_selectors.undelivered_for(request.user)
    return render(request, "incidents/home.html",
                  {"incidents": incidents, "page": page, "now": now, "undelivered": undelivered})


@dataclass(frozen=True)
class Due:
    """What a card says is due: the promise, whether it is overdue, how long until (or since), and when."""

    kind: str
    label: str
    overdue: bool
    words: str
    due_at: object
    zone: str


def due_of(promise, incident, now):
    """The next unkept promise of one card (clock.next_promise), in words; None when nothing is promised."""
    if promise is None:
        return None
    overdue = promise.due_at < now
    amount = _amount(abs(now - promise.due_at))
    words = (gettext("overdue by %(amount)s") if overdue else gettext("due in %(amount)s")) % {"amount": amount}
    return Due(promise.kind, gettext(promise.label), overdue, words, promise.due_at, incident.location.zone)


def _amount(delta):
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return gettext("%(minutes)d min") % {"minutes": minutes}
    if minutes < 60 * 48:
        return gettext("%(hours)d h %(minutes)02d min") % {"hours": minutes // 60, "minutes": minutes % 60}
    return gettext("%(days)d days") % {"days": minutes // (60 * 24)}


@login_required
def log_failure(request):
    """Log a failure in one short form; I own it and its clock starts."""
    form = forms.LogFailureForm(request.POST or None, request.FILES or None, user=request.user,
                                initial=_customer_initial(request))
    attachment_forms.add_files_field(form)  # photos of the failure, logged with it or not at all
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        result = run_service(form, lambda: attachment_services.log_with_attachments(
            uploads=data["files"], form_token=data["form_token"], logged_by=request.user, customer=data["customer"],
            new_customer=None if data["customer"] else form.new_customer(), location=data["location"],
            summary=data["summary"], channel=data["channel"], category=data["category"],
            severity=data["severity"], busyness=data["busyness"], occurred_at=form.occurred_at(),
        ))
        if result:
            incident, created = result
            if created:
                messages.success(request, gettext("%(reference)s logged. You own it; the clock has started.")
                                 % {"reference": incident.reference})
            return redirect("incident", reference=incident.reference)
    chosen = form.cleaned_data.get("customer") if form.is_bound and hasattr(form, "cleaned_data") else None
    chosen = chosen or _customer_from(request)
    categories = request.user.organization.categories.values_list("name", flat=True) if request.user.organization else []
    status = 400 if form.is_bound else 200
    return render(request, "incidents/log.html", {"form": form, "chosen": chosen, "categories": categories}, status=status)


def _customer_from(request):
    customer_id = request.GET.get("customer", "")
    if not customer_id.isdigit():
        return None
    return selectors.visible_customers(request.user).filter(pk=customer_id).first()


def _customer_initial(request):
    customer = _customer_from(request)
    return {"customer": customer.pk, "customer_name": customer.name} if customer else {}


@login_required
def customer_search(request):
    """Search-as-you-type for the Log a failure form: a few matches with their care flag."""
    customers = selectors.search_customers(request.user, request.GET.get("q", ""))
    now = timezone.now()
    return JsonResponse({"customers": [
        {
            "id": customer.pk, "name": customer.name, "email": customer.email, "phone": str(customer.phone or ""),
            **_care_flag_shown(customer, now), "url": reverse("customer", args=[customer.pk]),
        }
        for customer in customers
    ]})


def _care_flag_shown(customer, now):
    """The care flag as the banner shows it: only while it is open."""
    flag_open = customer.care_flag_open_at(now)
    return {"care_flag": flag_open, "care_note": customer.care_note if flag_open else "",
            "care_flagged_at": customer.care_flagged_at.isoformat() if flag_open and customer.care_flagged_at else "",
            # As the page's own banner writes it (one date format in the app, whatever the browser's).
            "care_flagged_text": date_format(timezone.localtime(customer.care_flagged_at), "j M Y, H:i")
            if flag_open and customer.care_flagged_at else ""}


@login_required
def customer_lookup(request):
    query = request.GET.get("q", "")
    customers = selectors.search_customers(request.user, query, limit=25)
    return render(request, "customers/lookup.html", {"query": query, "customers": customers})


@login_required
def customer_detail(request, pk):
    customer = get_object_or_404(selectors.visible_customers(request.user), pk=pk)
    incidents = selectors.incidents_of_customer(request.user, customer)
    form = forms.ContactPreferencesForm(initial={"preferred_channel": customer.preferred_channel,
                                                 "language": customer.language,
                                                 "opted_out": customer.opted_out_at is not None})
    return render(request, "customers/detail.html", {"customer": customer, "incidents": incidents, "form": form})


@login_required
@require_POST
def contact_preferences(request, pk):
    """How the customer wants to hear from us: channel, language, or not at all."""
    customer = get_object_or_404(selectors.visible_customers(request.user), pk=pk)
    form = forms.ContactPreferencesForm(request.POST)
    if form.is_valid() and run_service(form, lambda: services.set_contact_preferences(
            customer, by=request.user, **form.cleaned_data)):
        messages.success(request, gettext("How %(customer)s hears from us is saved.") % {"customer": customer.name})
        return redirect("customer", pk=customer.pk)
    incidents = selectors.incidents_of_customer(request.user, customer)
    return render(request, "customers/detail.html", {"customer": customer, "incidents": incidents, "form": form},
                  status=400)


@login_required
@require_POST
def clear_care_flag(request, pk):
    """The customer has been served with care since the failure: the banner has done its work."""
    customer = get_object_or_404(selectors.visible_customers(request.user), pk=pk)
    services.clear_care_flag(customer, by=request.user)
    messages.success(request, gettext("The care flag on %(customer)s is cleared.") % {"customer": customer.name})
    return redirect("customer", pk=customer.pk)


def _visible_incident(user, reference):
    incident = (
        selectors.visible_incidents(user)
        .select_related("organization", "location", "customer", "owner", "category")
        .prefetch_related(Prefetch("follow_ups", queryset=FollowUp.objects.select_related("done_by")), "gestures")
        .filter(reference=reference)
        .first()
    )
    if incident is None:
        raise Http404(gettext("No such incident."))
    return incident


@login_required
def incident_detail(request, reference):
    """The guided recovery: the steps as a checklist, the live clock and the timeline."""
    incident = _visible_incident(request.user, reference)
    return render(request, "incidents/detail.html", _incident_page(request, incident))


def _record(incident, name):
    return getattr(incident, name, None)  # a missing one-to-one step raises RelatedObjectDoesNotExist


def _ids(step):
    """Several step forms share one page: each gets its own element ids, so every label points at
    its own field."""
    return f"{step}-%s"


def _step_forms(incident):
    """Unbound forms, filled with what is recorded so a step can be edited."""
    apology, review, fix, deposition = (_record(incident, n) for n in ("apology", "review", "fix", "deposition"))
    version = lambda record: record.version if record else 0  # noqa: E731
    values = lambda record, names: {n: getattr(record, n) for n in names} if record else {}  # noqa: E731
    fixed = incident.fixed_at is not None
    follow_up_initial = {"kind": FollowUp.Kind.WRAP_UP if incident.stage == Stage.WRAP_UP else (
        FollowUp.Kind.POST_FIX if fixed else FollowUp.Kind.IMMEDIATE)}
    if incident.stage == Stage.WRAP_UP:
        follow_up_initial["note"] = followup_selectors.wrap_up_draft(incident)
        follow_up_initial["subject"] = outreach_services.default_subject("wrap_up", incident)
    return {
        "apology": forms.ApologyForm(auto_id=_ids("apology"),
            # Apologize the way the customer reached us, unless recorded otherwise.
            initial={"expected_version": version(apology), "channel": incident.channel,
                     **values(apology, ["channel", "text", "customer_accepted"])}
        ),
        "review": forms.ReviewForm(auto_id=_ids("review"), initial={
            "expected_version": version(review),
            **values(review, ["customer_account", "customer_losses", "customer_needs"]),
        }),
        "fix": forms.FixForm(auto_id=_ids("fix"), initial={"expected_version": version(fix), **values(fix, ["description", "fixed"])}),
        "follow_up": forms.FollowUpForm(auto_id=_ids("follow_up"), initial=follow_up_initial),
        "deposition": forms.DepositionForm(auto_id=_ids("deposition"), initial={
            "expected_version": version(deposition),
            # Pre-filled from what was logged; the person corrects it while memory is fresh.
            "busyness": incident.busyness, "product": incident.category.name if incident.category else "",
            **values(deposition, ["product", "busyness", "circumstances", "root_cause", "prevention"]),
        }),
        "outcome": forms.OutcomeForm(auto_id=_ids("outcome")),
    }


def _incident_page(request, incident, *, step=None, bound=None):
    now = timezone.now()
    step_forms = {name: attachment_forms.add_files_field(form) for name, form in _step_forms(incident).items()}
    first = ""
    if bound is not None:
        step_forms[step] = step_forms["errored"] = bound
        first = getattr(bound, "step_first", "")
    clocks = followup_selectors.running_clocks(incident, now)
    window = next(item for item in clocks if item.kind == "twenty_minute")
    fixed = incident.fixed_at is not None
    return {
        "incident": incident,
        "occurred_at": shown_moment(incident.occurred_at),
        "now": now,
        "forms": step_forms,
        "open_section": step or OPEN_SECTION[incident.stage],
        # The step a refusal points to, opened beside the one typed in and focused.
        "focus_section": first,
        # The page answering a POST with errors: the address bar shows the incident's own address,
        # so a reload reads the page instead of sending the form again.
        "page_url": reverse("incident", args=[incident.reference]) + f"#{first or step}" if bound is not None else "",
        "clocks": clocks,
        "window": window,
        "window_words": clock_words(window.seconds_left) if window.done_at is None else "",
        # The form token's event only guards against double submits; it says nothing to a person.
        "timeline": selectors.timeline(incident),
        "apology": _record(incident, "apology"),
        "review": _record(incident, "review"),
        "fix": _record(incident, "fix"),
        "deposition": _record(incident, "deposition"),
        "resolution": _record(incident, "resolution"),
        # The phrases of the language the apology is spoken in: the customer's, else the writer's.
        "coach_phrases": [
            {"phrase": phrase, "kind": kind, "kind_words": KIND_WORDS.get(kind, kind), "suggestion": suggestion}
            for phrase, kind, suggestion in services.coach_phrases(
                incident.organization, coach.language_of_apology(incident.customer))
        ],
        "remaining_budget": services.remaining_budget(request.user, incident.customer),
        "wrap_up_draft": followup_selectors.wrap_up_draft(incident) if fixed else "",
        # Not "messages": the page's flashed messages go by that name.
        "customer_messages": outreach_selectors.messages_of(incident),
        "can_message": outreach_services.can_be_messaged(incident.customer),
    }


# Each step: its form, and how to call its service with the cleaned data.
STEPS = {
    "apology": (forms.ApologyForm, lambda incident, user, data, form: services.record_apology(
        incident, by=user, channel=data["channel"], text=data["text"],
        customer_accepted=data["customer_accepted"], expected_version=data["expected_version"])),
    "review": (forms.ReviewForm, lambda incident, user, data, form: services.record_review(
        incident, by=user, customer_account=data["customer_account"], customer_needs=data["customer_needs"],
        customer_losses=data["customer_losses"], expected_version=data["expected_version"])),
    "fix": (forms.FixForm, lambda incident, user, data, form: services.record_fix(
        incident, by=user, description=data["description"], fixed=data["fixed"], gesture=form.gesture(),
        expected_version=data["expected_version"])),
    # Email or Text sends the note to the customer; any other way records what was done by hand.
    "follow_up": (forms.FollowUpForm, lambda incident, user, data, form: outreach_services.follow_up_from_page(
        incident, by=user, kind=data["kind"], channel=data["channel"], note=data["note"], subject=data["subject"],
        at=data["send_at"])),
    "deposition": (forms.DepositionForm, lambda incident, user, data, form: services.record_deposition(
        incident, by=user, product=data["product"], busyness=data["busyness"], circumstances=data["circumstances"],
        root_cause=data["root_cause"], prevention=data["prevention"], expected_version=data["expected_version"])),
    "outcome": (forms.OutcomeForm, lambda incident, user, data, form: services.record_outcome(
        incident, by=user, outcome=data["outcome"], satisfaction=data["satisfaction"])),
}

SAVED = {
    "apology": gettext_lazy("Apology saved."), "review": gettext_lazy("Review saved."),
    "fix": gettext_lazy("Fix saved."), "follow_up": gettext_lazy("Follow-up saved."),
    "deposition": gettext_lazy("Deposition saved."), "outcome": gettext_lazy("Outcome saved; the recovery is closed."),
}

# How the coach's script names what it found, beside each phrase it marks.
KIND_WORDS = {
    CoachPhrase.Kind.CONDITIONAL: gettext_lazy("a conditional apology"),
    CoachPhrase.Kind.DISMISSIVE: gettext_lazy("sounds like an order to move on"),
    CoachPhrase.Kind.DEFENSIVE: gettext_lazy("defends the company"),
    CoachPhrase.Kind.POLICY: gettext_lazy("policy language"),
}


@login_required
@require_POST
def record_step(request, reference, step):
    """Save one step of the recovery; on a problem, the same page with the error next to the field."""
    if step not in STEPS:
        raise Http404(gettext("No such step."))
    incident = _visible_incident(request.user, reference)
    form_class, call = STEPS[step]
    form = attachment_forms.add_files_field(form_class(request.POST, request.FILES, auto_id=_ids(step)))
    with timezone.override(incident.location.zone):  # a time typed on the page is the location's
        valid = form.is_valid()
    if valid:
        # The step and its photos are saved together; a refused photo saves neither.
        record = run_service(form, lambda: attachment_services.with_attachments(
            lambda: call(incident, request.user, form.cleaned_data, form), incident=incident, by=request.user,
            uploads=form.cleaned_data["files"], step=step))
        if record is not None:
            messages.success(request, _saved_message(step, record))
            incident.refresh_from_db(fields=["stage"])
            # Land on the step to do next (on a phone, the one below the one just saved).
            anchor = OPEN_SECTION[incident.stage] or "outcome"
            return redirect(reverse("incident", args=[incident.reference]) + f"#{anchor}")
    incident = _visible_incident(request.user, reference)  # re-read: the step may have moved on meanwhile
    context = _incident_page(request, incident, step=step, bound=form)
    return render(request, "incidents/detail.html", context, status=400)


def _saved_message(step, record):
    message = str(SAVED[step])
    if step == "apology" and record.coach_flags:
        # The warmer wording itself, in the message at the top of the page: the apology's fold is closed
        # by then, the page having moved on to the review.
        warmer = "; ".join(
            gettext("“%(text)s”, warmer: “%(suggestion)s”") % {"text": flag["text"], "suggestion": flag.get("suggestion", "")}
            for flag in record.coach_flags)
        message += " " + gettext("The coach noted %(flags)s. Next time, try the warmer wording.") % {"flags": warmer}
    if step == "follow_up" and hasattr(record, "scheduled_for"):  # sent as a message, not only recorded
        message = outreach_services.sent_words(record)
    if step == "fix":
        pending = record.incident.gestures.filter(approval="pending").exists()
        if pending:
            message += " " + gettext("The gesture is over your budget: it waits for a manager's approval.")
    return message


@login_required
def coach_phrases(request):
    """Managers edit the organization's apology-coach phrase lists, one language at a time."""
    if not request.user.is_manager or request.user.organization is None:
        raise PermissionDenied(gettext("Only managers can change the coach's phrases."))
    organization = request.user.organization
    phrase_id = request.POST.get("phrase_id") if request.method == "POST" else request.GET.get("edit")
    phrase = None
    if (phrase_id or "").isdigit():
        phrase = get_object_or_404(CoachPhrase, organization=organization, pk=phrase_id)
    # The list shown: the phrase being changed's, the one asked for, else the manager's own language.
    language = (phrase.language if phrase else None) or languages.supported(request.GET.get("language")) \
        or languages.supported(request.LANGUAGE_CODE) or settings.LANGUAGE_CODE
    initial = {"phrase": phrase.phrase, "kind": phrase.kind, "suggestion": phrase.suggestion,
               "active": phrase.active} if phrase else {}
    form = forms.CoachPhraseForm(request.POST or None, initial={"language": language, **initial})
    if request.method == "POST" and form.is_valid():
        values = {**form.cleaned_data, "language": form.cleaned_data["language"] or language}
        saved = run_service(form, lambda: services.save_coach_phrase(
            organization, by=request.user, coach_phrase=phrase, **values
        ))
        if saved:
            messages.success(request, gettext("The coach's phrase list is saved."))
            return redirect(reverse("coach_phrases") + f"?language={saved.language}")
    phrases = organization.coach_phrases.filter(language=language).order_by("phrase")
    context = {"form": form, "phrases": phrases, "editing": phrase, "language": language,
               "languages": settings.LANGUAGES}
    return render(request, "incidents/coach_phrases.html", context, status=400 if form.is_bound else 200)


@login_required
def search(request):
    """One search for the whole day: the incidents the person may see by reference, customer, summary or
    notes, and the customers by name, phone or email (as the Log a failure form finds them)."""
    form = forms.SearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    incidents = list(selectors.search_incidents(request.user, query).select_related(
        "customer", "location", "owner")[:selectors.SEARCH_LIMIT]) if query else []
    # A reference names an incident, never a customer: no customer search for it.
    by_reference = bool(selectors.reference_typed(query))
    customers = selectors.search_customers(request.user, query) if query and not by_reference else []
    return render(request, "incidents/search.html", {
        "form": form, "query": query, "incidents": incidents, "customers": customers,
        "more": len(incidents) == selectors.SEARCH_LIMIT, "by_reference": by_reference,
    }, status=200 if form.is_valid() or not request.GET else 400)
