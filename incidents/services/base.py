"""The errors every service raises, and the small helpers the topics share: model validation, the
incident's row lock, the order of the steps, a step record's upsert and its timeline entry."""

import datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from ..events import changes, record_event
from ..models import Incident


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
    """`step` names the step to do first (apology, review, fix, deposition, follow_up), so a page can open it."""

    code = "out_of_order"

    def __init__(self, message, *, step="", field_errors=None):
        super().__init__(message, field_errors=field_errors)
        self.step = step


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
        raise NotAllowed(gettext("This incident belongs to another organization."))
    if locked.closed_at is not None:
        raise Conflict(gettext("%(reference)s is closed; nothing more can be recorded on it.") % {"reference": locked.reference})
    return locked


def _has(incident, step):
    return type(incident)._meta.get_field(step).related_model.objects.filter(incident=incident).exists()


def _require(condition, message, step=""):
    if not condition:
        raise StepOutOfOrder(message, step=step)


# Step facts copied onto the incident for the managers' trends; saved with the stage by _refresh.
TREND_FIELDS = ["seconds_to_apology", "seconds_to_follow_up", "seconds_to_fix", "wrapped_up_at", "outcome", "busyness"]


def _seconds_between(start, end):
    """Whole seconds from `start` to `end`; a step recorded before the incident was logged counts as 0."""
    return max(int((end - start).total_seconds()), 0)


def _not_in_future(moment, now, field, message):
    if moment > now + CLOCK_SKEW:
        raise RecoveryError(message, field_errors={field: [gettext("Cannot be in the future.")]})


def validate(instance, exclude=None):
    """Model validation as a RecoveryError: required fields, choices, bounds."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field_errors = {field: [str(message) for message in messages] for field, messages in error.message_dict.items()}
        summary = "; ".join(gettext("%(field)s: %(value)s") % {"field": field, "value": messages[0]} for field, messages in field_errors.items())
        raise RecoveryError(gettext("Please check the details (%(summary)s).") % {"summary": summary}, field_errors=field_errors) from error


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
            gettext("Someone else saved this %(verbose_name)s while you were editing it. Check what they wrote below, then save again if yours should replace it.") % {"verbose_name": model._meta.verbose_name},
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
