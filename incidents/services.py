"""Every write to a recovery, and the rules of the method, in one place.

Pages, the API, admin actions, management commands and Celery tasks all call these functions.
Each one runs in a transaction with the incident row locked, checks the order of the steps,
writes the step, moves the clocks (`next_due_at`) and the stage, and appends to the timeline.
A broken rule raises `RecoveryError` (or a subclass) and nothing is written.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from . import clock, coach, selectors
from .events import changes, new_event, record_event
from .models import (
    Apology,
    Category,
    CoachPhrase,
    Customer,
    Deposition,
    EventKind,
    Fix,
    FollowUp,
    Gesture,
    Incident,
    Organization,
    Resolution,
    Severity,
    Review,
    Stage,
    User,
)

# Clocks on staff phones and helpdesk servers drift; a time this far ahead still counts as "now".
CLOCK_SKEW = datetime.timedelta(minutes=2)


class RecoveryError(Exception):
    """A rule of the recovery was broken. `message` is written for the person at the counter."""

    code = "invalid"

    def __init__(self, message, *, field_errors=None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class StepOutOfOrder(RecoveryError):
    code = "out_of_order"


class Conflict(RecoveryError):
    code = "conflict"


class NotAllowed(RecoveryError):
    code = "not_allowed"


class StepChanged(Conflict):
    """Two people edited the same step at once; the second save is refused, not silently applied."""

    code = "step_changed"

    def __init__(self, message, *, current, version):
        super().__init__(message)
        self.current = current
        self.version = version


# --- Organizations and people -------------------------------------------------------------------


@transaction.atomic
def create_organization(*, name, slug, **settings):
    """A new organization, with the default apology-coach phrase list to edit."""
    organization = Organization(name=name, slug=slug, **settings)
    validate(organization)
    organization.save()
    CoachPhrase.objects.bulk_create(
        CoachPhrase(organization=organization, phrase=phrase, kind=kind, suggestion=suggestion)
        for phrase, kind, suggestion in coach.DEFAULT_PHRASES
    )
    return organization


def discretion_budget(user):
    if user.discretion_budget is not None:
        return user.discretion_budget
    return user.organization.default_discretion_budget


def remaining_budget(user, customer):
    """What `user` may still give `customer` without a manager: the budget is per person per customer."""
    spent = (
        Gesture.objects.filter(
            given_by=user,
            incident__customer=customer,
            currency=customer.organization.currency,
        )
        .exclude(approval=Gesture.Approval.REFUSED)
        .aggregate(total=Sum("cost"))["total"]
    )
    return max(discretion_budget(user) - (spent or Decimal("0")), Decimal("0"))


def coach_phrases(organization):
    return list(organization.coach_phrases.filter(active=True).values_list("phrase", "kind", "suggestion"))


# --- Customers ------------------------------------------------------------------------------------


_LOOK_UP = object()


def customer_from_details(organization, *, name, email="", phone="", external_id="", found=_LOOK_UP):
    """The customer with this external id or email, or a new one, checked but not yet saved:
    `log_incident` saves a new customer together with its care flag.
    Contact details of a known customer fill gaps only, and are saved at once.
    `found` is what a caller already looked up by the rule of `known_customer` (None: nobody matched)."""
    if found is _LOOK_UP:
        found = known_customer(organization, external_id=external_id, email=email)
    if found is not None:
        updates = {"email": email, "phone": phone, "external_id": external_id}
        changed = [field for field, value in updates.items() if value and not getattr(found, field)]
        for field in changed:
            setattr(found, field, updates[field])
        if changed:
            found.save(update_fields=changed)
        return found
    customer = Customer(organization=organization, name=name, email=email, phone=phone, external_id=external_id)
    validate(customer, exclude=["organization"])
    return customer


def known_customer(organization, *, external_id="", email=""):
    """The customer that contact details name: by external id first, else by email (case aside; the
    first saved, if several share it). None when neither matches. The API's create reads the same
    rule in its names query (`incidents.api.fast_reads`); a test holds the two together."""
    customers = Customer.objects.filter(organization=organization)
    if external_id:
        found = customers.filter(external_id=external_id).first()
        if found is not None:
            return found
    if email:
        return customers.filter(email__iexact=email).order_by("pk").first()
    return None


_CARE_FLAG = ["care_flag", "care_note", "care_flagged_at"]


def _save_flagged(customer, *, note, now):
    """Set the care flag and save it: an UPDATE of the flag, or the INSERT of a new customer.
    If another request saved a customer with the same external id since this one was looked up,
    that one is flagged instead and `customer` becomes it. Returns `customer`."""
    customer.care_flag, customer.care_note, customer.care_flagged_at = True, note, now
    if customer.pk is not None:
        customer.save(update_fields=_CARE_FLAG)
        return customer
    if not customer.external_id:
        customer.save()  # no unique constraint it could meet
        return customer
    try:
        # The race: two creates for one new customer at once. The external id's unique constraint
        # decides; the savepoint keeps the loser's transaction alive so it can flag the winner's row
        # (its INSERT waited for the winner to commit, so that row is there to read).
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        customer.pk = Customer.objects.values_list("pk", flat=True).get(
            organization_id=customer.organization_id, external_id=customer.external_id
        )
        customer.refresh_from_db()  # the stored row, not the details offered
        customer.care_flag, customer.care_note, customer.care_flagged_at = True, note, now
        customer.save(update_fields=_CARE_FLAG)
    return customer


@transaction.atomic
def flag_customer(customer, *, note, by=None, now=None):
    """Flag the customer's file so the next person who serves them takes special care."""
    return _save_flagged(customer, note=note, now=now or timezone.now())


@transaction.atomic
def clear_care_flag(customer, *, by):
    customer.care_flag = False
    customer.save(update_fields=["care_flag"])
    return customer


# --- Logging an incident ----------------------------------------------------------------------------


def log_incident(
    *,
    logged_by,
    customer,
    location,
    summary,
    channel,
    category="",
    severity="",
    busyness="",
    occurred_at=None,
    external_id="",
    owner=None,
    form_token=None,
    now=None,
):
    """Log a service failure. Whoever logs it owns it at once (unless an owner is named) and the
    twenty-minute clock starts now.

    `customer` may be new and unsaved (`customer_from_details`); it is saved here with its care flag.
    `category` is a label or a `Category` already looked up. Every rule is checked before the first
    write. The incident's INSERT takes no savepoint of its own (two statements fewer an incident), so a
    clash there, a ticket id used before (Conflict: the unique constraint decides, so two requests at
    once cannot both log it), rolls back the caller's whole transaction.
    """
    now = now or timezone.now()
    organization = location.organization
    if logged_by.organization_id != organization.id:
        raise NotAllowed("You can only log incidents for your own organization.", field_errors={"location": ["Unknown location."]})
    if customer.organization_id != organization.id:
        raise RecoveryError("That customer belongs to another organization.", field_errors={"customer": ["Unknown customer."]})
    owner = owner or logged_by
    if owner != logged_by and not may_direct(logged_by):
        # Whoever is on the spot owns the recovery; handing it to someone else is a manager's call.
        raise NotAllowed(
            "You own the failures you log; a manager can reassign it afterwards.",
            field_errors={"owner": ["Only managers and helpdesk integrations can name another owner."]},
        )
    if owner.organization_id != organization.id or not owner.is_active:
        raise RecoveryError("The owner must be active staff of this organization.", field_errors={"owner": ["Unknown member of staff."]})
    occurred_at = occurred_at or now
    _not_in_future(occurred_at, now, "occurred_at", "The failure cannot have happened in the future.")
    # Within the skew it is the sender's clock running ahead: it happened now. (The row requires
    # occurred_at <= logged_at; a moment a minute ahead failed that check with a server error.)
    occurred_at = min(occurred_at, now)

    policy = policy_for(organization, location)
    incident = Incident(
        organization=organization,
        location=location,
        summary=summary,
        channel=channel,
        severity=severity or Severity.MEDIUM,  # how bad, when nobody said: the one default of every door
        busyness=busyness,
        occurred_at=occurred_at,
        logged_at=now,
        logged_by=logged_by,
        owner=owner,
        external_id=external_id,
        form_token=form_token,
        stage=Stage.APOLOGY,
        follow_up_due_at=clock.follow_up_due_at(now, policy),
    )
    # The related rows were just read or are made below, so skip full_clean's SELECT per foreign key.
    validate(incident, exclude=["reference", "organization", "customer", "location", "category", "logged_by", "owner"])
    incident.next_due_at = clock.next_due_at(facts_for(incident), policy, not_before=now)
    logged = new_event(
        incident,
        EventKind.LOGGED,
        f"Logged by {logged_by.display_name()}, owned by {owner.display_name()}",
        at=now,
        actor=logged_by,
        after={"summary": summary, "owner": owner.username, "follow_up_due_at": incident.follow_up_due_at.isoformat()},
    )
    with transaction.atomic(savepoint=False):
        incident.category = category_named(organization, category)
        # Internal follow-up: flag the customer's file so the next person who serves them knows.
        incident.customer = _save_flagged(customer, note=summary, now=now)
        try:
            incident.save()
        except IntegrityError as error:
            if not external_id:
                raise
            raise Conflict(
                f"An incident for ticket {external_id} already exists.", field_errors={"external_id": ["Already used."]}
            ) from error
        logged.save()
    return incident


def may_direct(user, *, integration_too=True):
    """Managers and admins hand a recovery to someone else, bring in helpers and decide gestures over
    budget; frontline staff ask a manager. A helpdesk integration may assign, since it syncs the
    helpdesk's own assignments, but spends no budget it could approve for itself."""
    return user.is_manager or (integration_too and is_integration(user))


def _require_directs(by, incident, what, *, integration_too=True):
    """The role rule of every door (pages, API, admin): a manager, over this incident's location."""
    if not may_direct(by, integration_too=integration_too):
        raise NotAllowed(f"Only a manager can {what}.")
    if by.is_manager and not selectors.visible_incidents(by).filter(pk=incident.pk).exists():
        raise NotAllowed(f"Only a manager of {incident.location} can {what}.")


def is_integration(user):
    """A helpdesk's API client, which logs on behalf of its agents; no person reads its reminders."""
    return hasattr(user, "api_client")


def category_named(organization, name):
    """Categories are free labels: a new label is accepted and kept for managers to merge later."""
    if isinstance(name, Category):
        return name
    name = (name or "").strip()
    if not name:
        return None
    existing = Category.objects.filter(organization=organization, name__iexact=name).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return Category.objects.create(organization=organization, name=name[:100])
    except IntegrityError:  # two requests brought the same new label at once: use the one that won
        return Category.objects.get(organization=organization, name=name[:100])


# --- The four steps ----------------------------------------------------------------------------------


@transaction.atomic
def record_apology(incident, *, by, channel, text, customer_accepted=False, at=None, expected_version=None, now=None):
    """Step 1. The coach's flags are noted on the record; they never block it."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    at = at or now
    _not_in_future(at, now, "at", "The apology cannot be recorded in the future.")
    if at < incident.occurred_at:
        raise RecoveryError("The apology cannot come before the failure.", field_errors={"at": ["Before the failure."]})
    flags = coach.find_flags(text, coach_phrases(incident.organization))
    values = {"channel": channel, "text": text, "customer_accepted": customer_accepted}
    apology, old = _upsert(
        Apology, incident, values, defaults={"apologized_by": by, "apologized_at": at, "coach_flags": flags},
        expected_version=expected_version,
    )
    if old:
        apology.coach_flags = flags
        apology.save(update_fields=["coach_flags"])
    else:
        incident.seconds_to_apology = _seconds_between(incident.logged_at, at)
    summary = "Apology recorded" if not old else "Apology updated"
    if flags:
        summary += f"; the coach flagged {', '.join(repr(flag['text']) for flag in flags)}"
    _event_for_step(incident, EventKind.APOLOGY, summary, by, now, old, values)
    _refresh(incident, now)
    return apology


@transaction.atomic
def record_review(incident, *, by, customer_account, customer_needs, customer_losses="", expected_version=None, now=None):
    """Step 2: the complaint gone over with the customer, only after the apology."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require(_has(incident, "apology"), "Apologize first: the review comes after the apology.")
    values = {"customer_account": customer_account, "customer_needs": customer_needs, "customer_losses": customer_losses}
    review, old = _upsert(
        Review, incident, values, defaults={"reviewed_by": by, "reviewed_at": now}, expected_version=expected_version
    )
    _event_for_step(incident, EventKind.REVIEW, "Review recorded" if not old else "Review updated", by, now, old, values)
    _refresh(incident, now)
    return review


@transaction.atomic
def record_fix(incident, *, by, description, fixed, gesture=None, expected_version=None, now=None):
    """Step 3: what was done. A fix meets the twenty-minute clock; a gesture may come with it."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require(_has(incident, "review"), "Review the complaint with the customer before recording the fix.")
    existing = Fix.objects.filter(incident=incident).first()
    if existing and existing.fixed and not fixed:
        raise RecoveryError("This incident is already fixed; describe any further work in a follow-up.", field_errors={"fixed": ["Already fixed."]})
    values = {"description": description, "fixed": bool(fixed)}
    fix, old = _upsert(
        Fix, incident, values, defaults={"recorded_by": by, "recorded_at": now}, expected_version=expected_version
    )
    if fixed and fix.fixed_at is None:
        fix.fixed_at = now
        fix.save(update_fields=["fixed_at"])
        incident.fixed_at = now
        incident.responded_at = incident.responded_at or now
        incident.seconds_to_fix = _seconds_between(incident.logged_at, now)
    summary = "Fixed" if fixed else "Fix in progress"
    _event_for_step(incident, EventKind.FIX, f"{summary}: {description}", by, now, old, values)
    if gesture:
        give_gesture(incident, by=by, now=now, **gesture)
    _refresh(incident, now)
    return fix


@transaction.atomic
def give_gesture(incident, *, by, kind, description, cost, currency="", now=None):
    """The something extra. Over the giver's remaining discretion budget for this customer it waits
    for a manager's approval, without holding up the rest of the recovery."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require(_has(incident, "review"), "Review the complaint with the customer before giving a gesture.")
    cost = Decimal(str(cost))
    if cost < 0:
        raise RecoveryError("A gesture cannot cost less than nothing.", field_errors={"cost": ["Must be zero or more."]})
    currency = (currency or incident.organization.currency).upper()
    # A gesture in another currency cannot be weighed against the budget, so a manager looks at it.
    within_budget = currency == incident.organization.currency and cost <= remaining_budget(by, incident.customer)
    gesture = Gesture(
        incident=incident,
        kind=kind,
        description=description,
        cost=cost,
        currency=currency,
        given_by=by,
        given_at=now,
        approval=Gesture.Approval.NOT_NEEDED if within_budget else Gesture.Approval.PENDING,
    )
    validate(gesture)
    gesture.save()
    if within_budget:
        _count_gesture(gesture)
    summary = f"Gesture: {description} ({cost} {currency})"
    if not within_budget:
        summary += ", over budget: waiting for a manager's approval"
    record_event(
        incident,
        EventKind.GESTURE_GIVEN if within_budget else EventKind.GESTURE_AWAITS_APPROVAL,
        summary,
        at=now,
        actor=by,
        after={"kind": kind, "description": description, "cost": str(cost), "currency": currency, "approval": gesture.approval},
    )
    return gesture


@transaction.atomic
def decide_gesture(gesture, *, by, approve, now=None):
    """A manager approves or refuses a gesture that went over budget."""
    now = now or timezone.now()
    gesture = Gesture.objects.select_for_update(of=("self",), no_key=True).select_related("incident").get(pk=gesture.pk)
    if by.organization_id != gesture.incident.organization_id:
        raise NotAllowed("Only a manager can approve gestures over budget.")
    _require_directs(by, gesture.incident, "approve gestures over budget", integration_too=False)
    if gesture.approval != Gesture.Approval.PENDING:
        raise Conflict(f"This gesture was already {gesture.get_approval_display().lower()}.")
    before = {"approval": gesture.approval}
    gesture.approval = Gesture.Approval.APPROVED if approve else Gesture.Approval.REFUSED
    gesture.decided_by = by
    gesture.decided_at = now
    gesture.save(update_fields=["approval", "decided_by", "decided_at"])
    if approve:
        _count_gesture(gesture)
    verb = "approved" if approve else "refused"
    record_event(
        gesture.incident, EventKind(f"gesture_{verb}"), f"Gesture {verb}: {gesture.description}", at=now, actor=by,
        before=before, after={"approval": gesture.approval},
    )
    return gesture


@transaction.atomic
def record_follow_up(incident, *, by, kind, channel, note, now=None):
    """A follow-up. Any kind but an internal alert reaches the customer and meets the twenty-minute
    clock; a progress report re-arms the progress clock."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    if kind != FollowUp.Kind.INTERNAL:
        _require(_has(incident, "apology"), "Apologize first: follow-ups to the customer come after the apology.")
    if kind in (FollowUp.Kind.POST_FIX, FollowUp.Kind.WRAP_UP):
        _require(incident.fixed_at is not None, "Record the fix first: this follow-up comes after the fix.")
    follow_up = FollowUp(incident=incident, kind=kind, channel=channel, note=note, done_by=by, done_at=now)
    validate(follow_up)
    follow_up.save()
    if kind in FollowUp.CUSTOMER_FACING and incident.responded_at is None:
        incident.responded_at = now
    if kind in FollowUp.CUSTOMER_FACING and incident.seconds_to_follow_up is None:
        incident.seconds_to_follow_up = _seconds_between(incident.logged_at, now)
    if kind == FollowUp.Kind.WRAP_UP and incident.wrapped_up_at is None:
        incident.wrapped_up_at = now
    record_event(
        incident, EventKind.FOLLOW_UP, f"{follow_up.get_kind_display()} ({follow_up.get_channel_display()}): {note}",
        at=now, actor=by, after={"kind": kind, "channel": channel, "note": note},
    )
    _refresh(incident, now)
    return follow_up


@transaction.atomic
def record_deposition(
    incident, *, by, root_cause, circumstances, busyness, product="", prevention="", expected_version=None, now=None
):
    """Step 4: the record for learning, while memory is fresh."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require(_has(incident, "fix"), "Record the fix before documenting the incident.")
    values = {"root_cause": root_cause, "circumstances": circumstances, "busyness": busyness, "product": product, "prevention": prevention}
    deposition, old = _upsert(
        Deposition, incident, values, defaults={"recorded_by": by, "recorded_at": now}, expected_version=expected_version
    )
    _event_for_step(incident, EventKind.DEPOSITION, "Deposition recorded" if not old else "Deposition updated", by, now, old, values)
    # The trends group incidents by how busy it was: the considered answer here replaces the guess
    # made (or left blank) while logging.
    incident.busyness = busyness
    _refresh(incident, now)
    return deposition


@transaction.atomic
def record_outcome(incident, *, by, outcome, satisfaction=None, now=None):
    """How the recovery ended. Closing needs the fix, the deposition and the wrap-up."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require(incident.fixed_at is not None, "Fix the problem before recording the outcome.")
    _require(_has(incident, "deposition"), "Document the incident (the deposition) before recording the outcome.")
    _require(
        incident.follow_ups.filter(kind=FollowUp.Kind.WRAP_UP).exists(),
        "Send the wrap-up note or call before recording the outcome.",
    )
    resolution = Resolution(incident=incident, outcome=outcome, satisfaction=satisfaction, recorded_by=by, recorded_at=now)
    validate(resolution)
    resolution.save()
    incident.closed_at = now
    incident.outcome = outcome
    record_event(
        incident, EventKind.CLOSED, f"Closed: {resolution.get_outcome_display()}", at=now, actor=by,
        after={"outcome": outcome, "satisfaction": satisfaction},
    )
    _refresh(incident, now)
    return resolution


# --- Owners and helpers --------------------------------------------------------------------------------


@transaction.atomic
def reassign(incident, *, by, owner, now=None):
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require_directs(by, incident, "reassign a recovery")
    _require_staff_of(owner, incident, "owner")
    before = incident.owner.username
    incident.owner = owner
    incident.save(update_fields=["owner", "updated_at"])
    record_event(incident, EventKind.REASSIGNED, f"Reassigned to {owner.display_name()}", at=now, actor=by,
                 before={"owner": before}, after={"owner": owner.username})
    return incident


@transaction.atomic
def add_helper(incident, *, by, helper, now=None):
    """Bring one more person onto a bad recovery (a swarm)."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require_directs(by, incident, "bring in a helper")
    _require_staff_of(helper, incident, "helper")
    if incident.helpers.filter(pk=helper.pk).exists() or helper.pk == incident.owner_id:
        return incident
    incident.helpers.add(helper)
    record_event(incident, EventKind.HELPER_ADDED, f"{helper.display_name()} joined the recovery", at=now, actor=by,
                 after={"helper": helper.username})
    return incident


@transaction.atomic
def mark_breached(incident, *, now=None):
    """Note on the incident that its twenty-minute window passed with nothing recorded.
    Returns False when it was already noted or met, so a repeated sweep notes it once."""
    now = now or timezone.now()
    incident = Incident.objects.select_for_update(no_key=True).get(pk=incident.pk)
    if incident.breached_at or incident.responded_at or incident.closed_at or now <= incident.follow_up_due_at:
        return False
    incident.breached_at = now
    incident.save(update_fields=["breached_at", "updated_at"])
    record_event(incident, EventKind.BREACHED, "The twenty-minute window passed with no fix or follow-up",
                 at=now, actor_label="Follow-up engine", after={"follow_up_due_at": incident.follow_up_due_at.isoformat()})
    return True


# --- Clocks and stage ------------------------------------------------------------------------------


def policy_for(organization, location):
    return clock.Policy(
        follow_up_window=organization.follow_up_window,
        heads_up_before=organization.heads_up_before,
        escalate_after=organization.escalate_after,
        progress_report_every=organization.progress_report_every,
        check_back_after=organization.check_back_after,
        wrap_up_after=organization.wrap_up_after,
        timezone=location.timezone,
        opens_at=location.opens_at,
        closes_at=location.closes_at,
    )


def facts_for(incident):
    """The clock facts of an incident, read from its row and its follow-ups."""
    last = {}
    if incident.pk:
        for kind, done_at in incident.follow_ups.order_by("done_at").values_list("kind", "done_at"):
            last[kind] = done_at
    after_fix = lambda moment: moment if moment and incident.fixed_at and moment >= incident.fixed_at else None  # noqa: E731
    return clock.Facts(
        logged_at=incident.logged_at,
        follow_up_due_at=incident.follow_up_due_at,
        responded_at=incident.responded_at,
        fixed_at=incident.fixed_at,
        closed_at=incident.closed_at,
        last_progress_at=last.get(FollowUp.Kind.PROGRESS),
        checked_back_at=after_fix(last.get(FollowUp.Kind.POST_FIX)),
        wrapped_up_at=after_fix(last.get(FollowUp.Kind.WRAP_UP)),
    )


def clocks_of(incident):
    """Every clock of an incident, for pages and the API."""
    return clock.clocks(facts_for(incident), policy_for(incident.organization, incident.location))


def stage_of(incident):
    """The next step the method asks for, given what is recorded."""
    if incident.closed_at:
        return Stage.CLOSED
    if not _has(incident, "apology"):
        return Stage.APOLOGY
    if not _has(incident, "review"):
        return Stage.REVIEW
    if incident.fixed_at is None:
        return Stage.FIX
    if not _has(incident, "deposition"):
        return Stage.DOCUMENT
    if not incident.follow_ups.filter(kind=FollowUp.Kind.WRAP_UP).exists():
        return Stage.WRAP_UP
    return Stage.OUTCOME


def _refresh(incident, now):
    """Recompute the stage and the next due moment after a step, and store them."""
    policy = policy_for(incident.organization, incident.location)
    # Moments before the stored next_due_at were already handled by a sweep (see clock.next_due_at).
    not_before = min(incident.next_due_at or now, now)
    incident.stage = stage_of(incident)
    incident.next_due_at = clock.next_due_at(facts_for(incident), policy, not_before=not_before)
    incident.save(update_fields=["stage", "next_due_at", "responded_at", "fixed_at", "closed_at", "updated_at", *TREND_FIELDS])


# --- Small helpers ----------------------------------------------------------------------------------


def _lock_open(incident, by):
    """The incident re-read under a row lock, so two steps at once apply one after the other."""
    # Only the incident's own row, and NO KEY: a plain FOR UPDATE would also lock the joined
    # organization, location and customer rows and block every insert that points at them (their
    # foreign-key checks), which deadlocks under load.
    locked = (
        Incident.objects.select_for_update(of=("self",), no_key=True)
        .select_related("organization", "location", "customer")
        .get(pk=incident.pk)
    )
    if by.organization_id != locked.organization_id:
        raise NotAllowed("This incident belongs to another organization.")
    if locked.closed_at is not None:
        raise Conflict(f"{locked.reference} is closed; nothing more can be recorded on it.")
    return locked


def _has(incident, step):
    return type(incident)._meta.get_field(step).related_model.objects.filter(incident=incident).exists()


def _require(condition, message):
    if not condition:
        raise StepOutOfOrder(message)


def staff_named(organization_id, username, *, field="owner"):
    """The active member of staff with this username, as a helpdesk names people; or RecoveryError."""
    member = User.objects.filter(organization_id=organization_id, username=username, is_active=True).first()
    if member is None:
        raise RecoveryError("Unknown member of staff.", field_errors={field: [f"No active staff '{username}'."]})
    return member


def _require_staff_of(user, incident, field):
    if user.organization_id != incident.organization_id or not user.is_active:
        raise RecoveryError("Choose active staff of this organization.", field_errors={field: ["Unknown member of staff."]})


# Step facts copied onto the incident for the managers' trends; saved with the stage by _refresh.
TREND_FIELDS = ["seconds_to_apology", "seconds_to_follow_up", "seconds_to_fix", "wrapped_up_at", "outcome", "busyness"]


def _count_gesture(gesture):
    """Add a given (or approved) gesture to its incident's totals for the trends, in one UPDATE so
    concurrent gestures on the same incident both count."""
    if gesture.currency == gesture.incident.organization.currency:
        Incident.objects.filter(pk=gesture.incident_id).update(
            gesture_count=F("gesture_count") + 1, gesture_cost=F("gesture_cost") + gesture.cost
        )


def _seconds_between(start, end):
    """Whole seconds from `start` to `end`; a step recorded before the incident was logged counts as 0."""
    return max(int((end - start).total_seconds()), 0)


def _not_in_future(moment, now, field, message):
    if moment > now + CLOCK_SKEW:
        raise RecoveryError(message, field_errors={field: ["Cannot be in the future."]})


def validate(instance, exclude=None):
    """Model validation as a RecoveryError: required fields, choices, bounds."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field_errors = {field: [str(message) for message in messages] for field, messages in error.message_dict.items()}
        summary = "; ".join(f"{field}: {messages[0]}" for field, messages in field_errors.items())
        raise RecoveryError(f"Please check the details ({summary}).", field_errors=field_errors) from error


def _upsert(model, incident, values, defaults, expected_version=None):
    """Create the step's record, or update it in place; returns (record, old values or None).

    `expected_version` is the version the person was looking at when they edited (0: nothing was
    recorded yet). If someone else saved the step since, nothing is overwritten: a StepChanged error
    carries what is there now, so the second person can compare and decide.
    """
    record = model.objects.filter(incident=incident).first()
    current_version = record.version if record else 0
    if expected_version is not None and int(expected_version) != current_version:
        current = {field: getattr(record, field) for field in values} if record else {}
        raise StepChanged(
            f"Someone else saved this {model._meta.verbose_name} while you were editing it. "
            "Check what they wrote below, then save again if yours should replace it.",
            current=current,
            version=current_version,
        )
    old = None
    if record is None:
        record = model(incident=incident, **defaults, **values)
    else:
        old = {field: getattr(record, field) for field in values}
        for field, value in values.items():
            setattr(record, field, value)
        record.version = current_version + 1
    validate(record, exclude=["incident"])
    record.save()
    return record, old


def _event_for_step(incident, step, summary, by, now, old, values):
    if old is None:
        before, after = {}, values
    else:
        before, after = changes(old, values)
    record_event(incident, step, summary, at=now, actor=by, before=before, after=after)


# --- Pages: logging from the form, the coach's phrase list ----------------------------------------


@transaction.atomic
def log_incident_once(*, form_token, logged_by, customer=None, new_customer=None, location, **values):
    """Log an incident from the page's form, at most once per form.

    The form carries a one-time token, kept on the incident. A double click, a reload of the POST or a
    retry after a slow network sends the same token again; that must not make a second incident. Two
    such requests can arrive at the same moment: the unique constraint on (logged_by, form_token) lets
    one write, and the other, inside its savepoint, finds the first one's incident instead.
    Returns (incident, created).
    """
    earlier = Incident.objects.filter(logged_by=logged_by, form_token=form_token).first()
    if earlier is not None:
        return earlier, False
    try:
        with transaction.atomic():
            if customer is None:
                customer = customer_from_details(location.organization, **(new_customer or {}))
            incident = log_incident(logged_by=logged_by, customer=customer, location=location, form_token=form_token,
                                    **values)
    except IntegrityError:
        earlier = Incident.objects.filter(logged_by=logged_by, form_token=form_token).first()
        if earlier is None:
            raise
        return earlier, False
    return incident, True


@transaction.atomic
def save_coach_phrase(organization, *, by, phrase, kind, suggestion, active=True, coach_phrase=None):
    """Add or edit one phrase of the organization's apology-coach list. Managers only."""
    if not by.is_manager or by.organization_id != organization.id:
        raise NotAllowed("Only a manager can change the apology coach's phrases.")
    phrase = (phrase or "").strip()
    clash = CoachPhrase.objects.filter(organization=organization, phrase__iexact=phrase)
    if coach_phrase is not None:
        clash = clash.exclude(pk=coach_phrase.pk)
    if clash.exists():
        raise Conflict("That phrase is already on the list.", field_errors={"phrase": ["Already on the list."]})
    record = coach_phrase or CoachPhrase(organization=organization)
    if record.organization_id != organization.id:
        raise NotAllowed("That phrase belongs to another organization.")
    record.phrase, record.kind, record.suggestion, record.active = phrase, kind, suggestion, active
    validate(record)
    record.save()
    return record
