"""Customers' ideas attached to a problem, and the thank-you once it is fixed ("you told us, we changed it").

Customers who suggest improvements want to be involved. What they said in the review (what they need)
or in their satisfaction answer ("anything we could do better?") can be attached to the problem it points
to; when the fix is done, the owner is offered a thank-you to each of them. It goes through outreach's
customer messages (consent, address and quiet hours as every message to a customer), or, for a customer
who cannot be messaged, becomes a task for the owner: a call to make. Each idea is thanked once.

The problem's timeline names incidents, never the customer's words: anonymizing a customer scrubs the
ideas' text (`services.redact_ideas`) and the append-only timeline would keep them.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.formats import date_format, number_format

from followups.models import Notification
from followups.services import tell
from incidents.models import Incident, Review
from incidents.services import Conflict, NotAllowed, RecoveryError
from outreach import services as outreach
from outreach.models import Message, SurveyAnswer
from recovery import languages

from .events import record
from .models import CustomerIdea, ProblemEvent, ProblemIncident, Status
from .services import _check_manager, _lock, _name, may_manage_problems, problem_for

IDEA_MAX_LENGTH = 2000
SOURCES_OFFERED = (CustomerIdea.Source.REVIEW, CustomerIdea.Source.SURVEY)


def problem_for_ideas(user, pk):
    """The problem whose ideas `user` works on: NotAllowed (403) for staff who do not manage problems,
    Problem.DoesNotExist (404) for a problem they may not see."""
    if not may_manage_problems(user):
        raise NotAllowed(gettext("Customers' ideas on problems are for managers and admins."))
    return problem_for(user, pk)


# --- What customers said, and the ideas attached -----------------------------------------------------


@dataclass
class Suggestion:
    """Words of a linked incident's customer that could be attached as an idea."""

    incident: Incident
    source: str
    text: str

    @property
    def source_label(self):
        return CustomerIdea.Source(self.source).label


def review_words(review):
    """What the customer needs for a good outcome is the idea; their account of it when that is empty."""
    return (review.customer_needs or "").strip() or (review.customer_account or "").strip()


def suggestions_for(problem):
    """For each linked incident with a review or a survey comment, the customer's words from each source
    not yet attached. Three queries whatever the number of incidents."""
    incidents = {
        link.incident_id: link.incident
        for link in ProblemIncident.objects.filter(problem=problem).select_related("incident__customer")
        .order_by("-incident__logged_at", "-incident_id")
    }
    attached = set(problem.ideas.values_list("incident_id", "source"))
    found = []
    for review in Review.objects.filter(incident_id__in=incidents).only("incident_id", "customer_needs", "customer_account"):
        found.append(Suggestion(incidents[review.incident_id], CustomerIdea.Source.REVIEW, review_words(review)))
    for answer in SurveyAnswer.objects.filter(incident_id__in=incidents).exclude(suggestion="").only("incident_id", "suggestion"):
        found.append(Suggestion(incidents[answer.incident_id], CustomerIdea.Source.SURVEY, answer.suggestion.strip()))
    position = {pk: index for index, pk in enumerate(incidents)}  # newest incident first
    return sorted(
        (s for s in found if s.text and (s.incident.pk, s.source) not in attached),
        key=lambda s: (position[s.incident.pk], s.source),
    )


def ideas_of(problem):
    """The ideas attached, with their customer and incident, oldest first."""
    return problem.ideas.select_related("incident__customer__organization", "incident__location", "thank_you_message")


@transaction.atomic
def attach_idea(problem, *, by, incident, text, source, now=None):
    """Attach what a customer suggested (in the review, their satisfaction answer, or as staff noted it)
    to the problem. The incident must be the organization's and linked to the problem; once per incident
    and source. Returns the CustomerIdea."""
    now = now or timezone.now()
    _check_manager(by, problem.organization_id)
    problem = _lock(problem, by, None)
    errors = {}
    incident_id = getattr(incident, "pk", incident)
    try:
        incident_id = int(incident_id)
    except (TypeError, ValueError):
        incident_id = None
    incident = (
        Incident.objects.filter(pk=incident_id, organization_id=problem.organization_id,
                                problem_links__problem=problem).first()
        if incident_id is not None else None
    )
    if incident is None:
        errors["incident"] = [gettext("Choose an incident linked to this problem.")]
    text = (text or "").strip()
    if not text:
        errors["text"] = [gettext("This field is required.")]
    elif len(text) > IDEA_MAX_LENGTH:
        errors["text"] = [gettext("At most %(IDEA_MAX_LENGTH)s characters (this has %(count)s).") % {"IDEA_MAX_LENGTH": number_format(IDEA_MAX_LENGTH, force_grouping=True), "count": number_format(len(text), force_grouping=True)}]
    if source not in CustomerIdea.Source.values:
        errors["source"] = [gettext("Unknown source.")]
    if errors:
        raise RecoveryError(gettext("Please check the idea."), field_errors=errors)
    try:
        with transaction.atomic():
            idea = CustomerIdea.objects.create(problem=problem, incident=incident, text=text, source=source,
                                               attached_by=by, attached_at=now)
    except IntegrityError:
        label = CustomerIdea.Source(source).label.lower()
        raise RecoveryError(gettext("The idea from %(reference)s (%(label)s) is already attached.") % {"reference": incident.reference, "label": label},
                            field_errors={"incident": [gettext("Already attached from this source.")]}) from None
    record(problem, ProblemEvent.Kind.IDEA_ATTACHED,
           f"{_name(by)} attached the customer's idea from {incident.reference} ({CustomerIdea.Source(source).label.lower()})",
           at=now, actor=by, idea=idea.pk, incident=incident.pk, reference=incident.reference, source=source)
    return idea


# --- The thank-you ---------------------------------------------------------------------------------


def is_fixed(problem):
    """Fixed, for thanking: watching after the fix, or closed with a fix marked."""
    return problem.status == Status.WATCHING or (problem.status == Status.CLOSED and problem.fixed_at is not None)


def what_we_changed(problem):
    """(words, from_actions): the corrective actions done, in their own words; else the confirmed cause;
    '' when neither. One query."""
    done = [action.description.strip().rstrip(".") for action in problem.actions.filter(done_at__isnull=False)]
    if done:
        # Mid-sentence in the thank-you: "… and changed this: fitted a heat lamp at the pass."
        return "; ".join(words[:1].lower() + words[1:] for words in done if words), True
    return problem.confirmed_cause.strip().rstrip("."), False


def thank_you_draft(idea, changed=None):
    """"You told us …, we changed … . Thank you." in the owner's name, for the owner to edit. `changed`:
    what_we_changed(problem), read once for all the ideas of the page."""
    problem = idea.problem
    words, from_actions = what_we_changed(problem) if changed is None else changed
    with languages.speaking_to_customer(idea.incident.customer):
        if words and from_actions:
            what = gettext("We listened, and changed this: %(words)s.") % {"words": words}
        elif words:
            what = gettext("We listened, found the cause (%(cause)s) and fixed it.") % {
                "cause": words[:1].lower() + words[1:]}
        else:
            what = gettext("We listened, and fixed it.")
        return gettext("Dear %(customer)s,\n\nYou told us: “%(text)s”. %(what)s Thank you for telling us.\n\n"
                       "%(owner)s, %(location)s") % {
            "customer": idea.incident.customer.name, "text": idea.text, "what": what,
            "owner": _name(problem.owner), "location": idea.incident.location.name}


def can_be_messaged(idea):
    return outreach.can_be_messaged(idea.incident.customer)


@transaction.atomic
def thank_customer(idea, *, by, text, now=None):
    """Thank the customer whose idea this is, once the problem is fixed: a customer message (outreach's
    draft and send: their channel, opt-out and quiet hours) when they can be messaged, else a task for
    the problem's owner to call them. Never twice for the same idea. Returns the idea."""
    now = now or timezone.now()
    _check_manager(by, idea.problem.organization_id)
    problem = _lock(idea.problem, by, None)
    # The row lock makes a second send (a double click, two managers) wait, then see it thanked.
    idea = CustomerIdea.objects.select_for_update(of=("self",)).select_related(
        "incident__customer", "incident__location").get(pk=idea.pk, problem=problem)
    if idea.thanked_at is not None:
        raise Conflict(gettext("This customer was already thanked, on %(thanked_at)s.") % {"thanked_at": date_format(idea.thanked_at, "d M Y")},
                       field_errors={"text": [gettext("Already thanked.")]})
    if not is_fixed(problem):
        raise RecoveryError(gettext("Thank the customers once the fix is marked done."),
                            field_errors={"text": [gettext("The problem is not fixed yet.")]})
    text = (text or "").strip()
    if not text:
        raise RecoveryError(gettext("Please write the thank-you."), field_errors={"text": [gettext("This field is required.")]})
    incident, customer = idea.incident, idea.incident.customer
    if outreach.can_be_messaged(customer):
        try:
            message = outreach.draft_message(incident, kind=Message.Kind.THANK_YOU, body=text, author=by)
        except RecoveryError as error:
            raise RecoveryError(error.message, field_errors={"text": [error.message]}) from None
        message = outreach.send_message(message, by=by, now=now)
        idea.thank_you_message = message
        how = f"by {outreach.CHANNEL_WORDS[message.channel]}"
    else:
        reason = outreach.reason_not_sendable(customer, outreach.channel_for(customer))
        tell([problem.owner], kind=Notification.Kind.PROBLEM_UPDATE, incident=incident,
             link=reverse("problems:detail", args=[problem.pk]),
             title=f"Call {customer.name} to thank them: {problem.title}"[:200],
             body=gettext("%(reason)s Thank them by phone or a handwritten note (%(reference)s):\n\n%(text)s") % {"reason": reason, "reference": incident.reference, "text": text},
             dedupe_key=f"problem.{problem.pk}.idea.{idea.pk}.thanks", now=now)
        how = f"as a call for {_name(problem.owner)} to make"
    idea.thanked_at = now
    idea.save(update_fields=["thanked_at", "thank_you_message"])
    record(problem, ProblemEvent.Kind.THANKED, f"{_name(by)} thanked the customer of {incident.reference} {how}",
           at=now, actor=by, idea=idea.pk, incident=incident.pk, reference=incident.reference,
           message=idea.thank_you_message_id)
    return idea
