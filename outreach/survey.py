"""The customer's verdict: the satisfaction check, its signed link, and the answer it brings back.

A short while after the wrap-up message went out (`Organization.satisfaction_check_after`), beat's pass
`send_satisfaction_checks` drafts one satisfaction check per incident and sends it through the sending
pipeline (`outreach.services`), in the owner's name. Its link is signed with `django.core.signing`:
it names one incident, cannot be altered without breaking the signature, and expires after
`LINK_VALID`. The public page (`outreach.survey_views`) asks three things and `record_answer` keeps
the answer: on the incident's `SurveyAnswer`, on its timeline, and as the customer-confirmed outcome
beside the one staff recorded.

From the answers to an outcome (`customer_outcome_for`). The page asks how they feel about the business
now, compared with before (1 much worse … 3 about the same … 5 much better), and how likely they are to
come back and recommend it (0–10, the scale of the Net Promoter question):
- champion: feels better than before (4 or 5) and would recommend it warmly (9 or 10): more loyal than
  before, which is what the method counts;
- retained: feels at least as before (3 or more) and likely to come back (7 or more);
- lost: feels much worse (1) or unlikely to come back (4 or less);
- partial: anything between (e.g. feels a little worse but would come back, or likes us but is unsure).
"""

import datetime
import logging

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from incidents.customer_data import REDACTED
from incidents.events import record_event
from incidents.models import EventKind, Incident, Outcome
from incidents.services import RecoveryError, validate
from recovery import languages

from . import services as sending
from .models import Message, SurveyAnswer

logger = logging.getLogger(__name__)

LINK_SALT = "outreach.satisfaction-check"
# Long enough for a customer who reads their mail late; short enough that an old forwarded mail stops working.
LINK_VALID = datetime.timedelta(days=30)
# One answer per incident; the customer may change it for this long after they first gave it.
CHANGE_WINDOW = datetime.timedelta(days=1)
# A check more overdue than this (beat stopped for a week, say) is no longer "a short while after the
# wrap-up"; it is not sent late.
CATCH_UP = datetime.timedelta(days=7)
BATCH = 200

FEELINGS = [
    (1, gettext_lazy("Much worse than before")),
    (2, gettext_lazy("A little worse")),
    (3, gettext_lazy("About the same as before")),
    (4, gettext_lazy("A little better")),
    (5, gettext_lazy("Much better than before")),
]
SUGGESTION_MAX_LENGTH = 2000


class LinkInvalid(Exception):
    """The link was not made by us: forged, altered or cut short."""


class LinkExpired(LinkInvalid):
    """The link was ours but is older than LINK_VALID."""


class AnswerClosed(RecoveryError):
    code = "answer_closed"


def customer_outcome_for(feeling, would_recommend):
    """The customer-confirmed outcome of one answer (the mapping is explained in the module docstring)."""
    if feeling >= 4 and would_recommend >= 9:
        return Outcome.CHAMPION
    if feeling >= 3 and would_recommend >= 7:
        return Outcome.RETAINED
    if feeling == 1 or would_recommend <= 4:
        return Outcome.LOST
    return Outcome.PARTIAL


def feeling_label(feeling):
    return dict(FEELINGS).get(feeling, "")


# --- The signed link ------------------------------------------------------------------------------

def _signer():
    return signing.TimestampSigner(salt=LINK_SALT)


def link_token(incident):
    """A token naming this incident, signed with SECRET_KEY and stamped with the time it was made."""
    return _signer().sign(str(incident.pk))


def link_for(incident):
    return settings.SITE_URL.rstrip("/") + reverse("satisfaction_survey", args=[link_token(incident)])


def incident_for_token(token):
    """The incident a link names. LinkExpired if it is older than LINK_VALID, LinkInvalid if it is not
    one of ours (or names an incident that is gone). Reads only; changes nothing."""
    try:
        pk = _signer().unsign(token, max_age=LINK_VALID)
    except signing.SignatureExpired as error:
        raise LinkExpired(str(error)) from error
    except signing.BadSignature as error:
        raise LinkInvalid(str(error)) from error
    incident = (Incident.objects.select_related("organization", "location", "owner", "customer")
                .filter(pk=int(pk)).first())
    if incident is None:
        raise LinkInvalid(gettext("The incident is gone."))
    return incident


# --- The pass that sends the checks ---------------------------------------------------------------

def due_incident_ids(now, *, limit=BATCH):
    """Incidents wrapped up at least their organization's satisfaction_check_after ago (and not more than
    CATCH_UP after that), that have no satisfaction check yet, and whose customer can be reached and has
    not opted out. Wrapped up: the wrap-up message went out; or, with no wrap-up message at all, the
    wrap-up was done by hand (a card, a call), which the method prefers where customers are met in person.

    A scan of the sent wrap-ups: an index on outreach_message (kind, sent_at) WHERE status = 'sent'
    would serve it once the table is large."""
    checked = Message.objects.filter(incident=OuterRef("incident"), kind=Message.Kind.SATISFACTION_CHECK)
    reachable = ~Q(incident__customer__email="", incident__customer__phone="") & Q(incident__customer__opted_out_at__isnull=True)
    wrap_ups = (
        Message.objects.filter(kind=Message.Kind.WRAP_UP, status=Message.Status.SENT, sent_at__isnull=False)
        .annotate(due_at=_after_the_delay("sent_at", "incident__organization")).filter(due_at__lte=now, due_at__gt=now - CATCH_UP)
        .exclude(Exists(checked)).filter(reachable)
    )
    sent = list(wrap_ups.order_by("due_at").values_list("incident_id", flat=True).distinct()[:limit])
    by_hand = (
        Incident.objects.filter(wrapped_up_at__isnull=False)
        .annotate(due_at=_after_the_delay("wrapped_up_at", "organization")).filter(due_at__lte=now, due_at__gt=now - CATCH_UP)
        .exclude(Exists(Message.objects.filter(incident=OuterRef("pk"), kind__in=[Message.Kind.WRAP_UP,
                                                                                   Message.Kind.SATISFACTION_CHECK])))
        .exclude(customer__email="", customer__phone="").filter(customer__opted_out_at__isnull=True)
    )
    return sent + list(by_hand.order_by("due_at").values_list("pk", flat=True)[:max(limit - len(sent), 0)])


def _after_the_delay(moment, organization):
    return ExpressionWrapper(F(moment) + F(f"{organization}__satisfaction_check_after"), output_field=DateTimeField())


def send_satisfaction_checks(*, now=None):
    """Beat's pass: one satisfaction check to each incident that is due one. Returns how many were
    drafted. Running it twice with the same `now` drafts nothing the second time."""
    now = now or timezone.now()
    sent = 0
    for incident_id in due_incident_ids(now):
        try:
            if send_check(incident_id, now=now) is not None:
                sent += 1
        # One bad incident must not stop the others: it is logged and tried again by the next passes,
        # until CATCH_UP after it was due takes it out of the due list.
        except Exception:
            logger.exception("satisfaction check failed", extra={"incident_id": incident_id})
    return sent


def check_text(incident, link):
    """The check's subject and words, in the owner's name and the customer's language; plain text, so a
    name with markup stays text."""
    words = {"organization": incident.organization.name, "customer": incident.customer.name,
             "location": incident.location.name, "link": link, "owner": incident.owner.display_name()}
    with languages.speaking_to_customer(incident.customer):
        subject = gettext("How do you feel about %(organization)s now?") % words
        body = gettext(
            "Hello %(customer)s,\n\n"
            "Thank you again for your patience with us at %(location)s. Would you tell us how you "
            "feel about us now? It takes a minute, with no sign-in:\n\n%(link)s\n\n"
            "%(owner)s, %(organization)s"
        ) % words
    return subject, body


def send_check(incident_id, *, now):
    """Draft and send the satisfaction check of one incident, once: the incident's row is locked while we
    look for an earlier check, so two passes at once draft one. None if it already had one."""
    with transaction.atomic():
        incident = (Incident.objects.select_for_update(of=("self",), no_key=True)
                    .select_related("organization", "location", "owner", "customer").get(pk=incident_id))
        if Message.objects.filter(incident=incident, kind=Message.Kind.SATISFACTION_CHECK).exists():
            return None
        subject, body = check_text(incident, link_for(incident))
        message = sending.draft_message(incident, kind=Message.Kind.SATISFACTION_CHECK, subject=subject, body=body,
                                        author=incident.owner)
    # Sent after the draft commits: if sending refuses (the customer opted out meanwhile, say), the draft
    # stays as the record of the one check, and no pass drafts another.
    try:
        sending.send_message(message, by=incident.owner, now=now)
    except RecoveryError as error:
        logger.warning("satisfaction check not sent: %s", error.message, extra={"message_id": message.pk})
    return message


# --- The answer -----------------------------------------------------------------------------------

def answer_of(incident):
    return SurveyAnswer.objects.filter(incident=incident).first()


def may_change(answer, now):
    return answer is None or now <= answer.answered_at + CHANGE_WINDOW


def record_answer(incident, *, feeling, would_recommend, suggestion="", now=None):
    """Keep the customer's answer: one per incident, changeable for CHANGE_WINDOW after it was first
    given. Sets the customer-confirmed outcome beside the staff's and writes the timeline (a webhook
    `survey.answered`). The same answer sent twice (a double click, a reload) changes nothing the second
    time. Returns the answer; raises AnswerClosed once it may no longer change."""
    now = now or timezone.now()
    values = {"feeling": _whole_number(feeling, "feeling"),
              "would_recommend": _whole_number(would_recommend, "would_recommend"),
              "suggestion": (suggestion or "").strip()[:SUGGESTION_MAX_LENGTH]}
    try:
        return _record_answer(incident, values, now)
    except IntegrityError:
        # Two first answers at once where the row lock does not serialize them (SQLite): the other
        # one is in; this one counts as a change of it.
        return _record_answer(incident, values, now)


def _whole_number(value, field):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise RecoveryError(gettext("Please check the answer."), field_errors={field: [gettext("A whole number.")]}) from None


@transaction.atomic
def _record_answer(incident, values, now):
    # The row lock serializes two submits of the same page: the second sees the first's answer.
    incident = Incident.objects.select_for_update(of=("self",), no_key=True).get(pk=incident.pk)
    answer = answer_of(incident)
    if answer is None:
        answer = SurveyAnswer(incident=incident, answered_at=now, **values)
        validate(answer, exclude=["incident"])
        with transaction.atomic():
            answer.save()
        before = {}
    else:
        if not may_change(answer, now):
            raise AnswerClosed("This answer can no longer be changed: answers can be changed for a day.")
        before = {key: getattr(answer, key) for key in values}
        if before == values:
            return answer
        for key, value in values.items():
            setattr(answer, key, value)
        answer.changed_at = now
        validate(answer, exclude=["incident"])
        answer.save(update_fields=[*values, "changed_at"])
    outcome = customer_outcome_for(values["feeling"], values["would_recommend"])
    previous_outcome = incident.customer_outcome
    incident.customer_outcome = outcome
    incident.customer_answered_at = now
    incident.save(update_fields=["customer_outcome", "customer_answered_at", "updated_at"])
    verb = gettext("changed their answer") if before else gettext("answered the satisfaction check")
    staff = gettext(" (staff: %(label)s)") % {"label": Outcome(incident.outcome).label} if incident.outcome else ""
    record_event(
        incident, EventKind.SURVEY_ANSWERED,
        gettext("The customer %(verb)s: feels “%(feeling_label)s”, would recommend %(would_recommend)s/10; their verdict: %(label)s%(staff)s") % {"verb": verb, "feeling_label": feeling_label(values['feeling']), "would_recommend": values['would_recommend'], "label": Outcome(outcome).label, "staff": staff},
        at=now, actor_label=gettext("The customer"),
        before={**before, "customer_outcome": previous_outcome} if before else {},
        after={**values, "customer_outcome": outcome, "staff_outcome": incident.outcome},
    )
    return answer


def redact_answers(incidents):
    """Registered with `incidents.customer_data.also_redact`: the customer's own words go; the scores,
    which identify nobody, stay for the figures."""
    SurveyAnswer.objects.filter(incident__in=incidents).exclude(suggestion="").update(suggestion=REDACTED)
