"""What any door accepts, checked once: the pages' forms, the API's serializers, the console's
filters and the mail code all use these, so a value one door refuses no other door lets in.

Two families. Moments: a datetime outside a sensible range is a typo or an attack, and past the
ends of Python's calendar (year 1, year 9999) every "time since" or "a day later" overflows and the
page that shows it fails for ever. Text: PostgreSQL refuses NUL in text, and a line break in
something that becomes a mail header (a customer's name is in every notification's subject) makes
every email about that incident fail.
"""

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

UTC = datetime.timezone.utc
# Nothing Recovery records happened before 2000 or is planned after 2100. (That a moment is not in
# the future, give or take a clock's skew, is a rule of the recovery: the services check it.)
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime.datetime(2100, 1, 1, tzinfo=UTC)

# C0 controls, DEL, C1 controls and the Unicode line and paragraph separators: whatever Python's
# email package or a mail client may read as the end of a header line.
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Multi-line text keeps tabs and line breaks; the other controls are never typed on purpose.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _aware(value):
    if isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.combine(value, datetime.time(), tzinfo=UTC)


def validate_in_range(value):
    """Any date or datetime a door accepts: on or after 2000-01-01 and before 2100-01-01."""
    if value is None:
        return
    moment = _aware(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not EARLIEST <= moment < LATEST:
        raise ValidationError(
            gettext("Choose a date from %(earliest)s up to (not including) %(latest)s.")
            % {"earliest": f"{EARLIEST:%Y-%m-%d}", "latest": f"{LATEST:%Y-%m-%d}"}, code="out_of_range"
        )


def shown_moment(value):
    """`value`, or None when it is outside the range: a row stored before the range was checked
    (year 1, say) would fail every page that shows it in local time."""
    try:
        validate_in_range(value)
    except ValidationError:
        return None
    return value


def one_line(text):
    """`text` made safe for a mail header: each run of line breaks or control characters becomes one
    space. For values already stored; new input is refused by `validate_single_line` instead."""
    return _NOT_ONE_LINE.sub(" ", text).strip() if text else text


def validate_single_line(value):
    """A name, a summary, a label: one line of printable text (no line breaks, tabs or controls)."""
    if value and _NOT_ONE_LINE.search(value):
        raise ValidationError(gettext("Keep this to one line, without line breaks or control characters."),
                              code="not_one_line")


def validate_text(value):
    """Multi-line text: line breaks and tabs are fine, other control characters are not."""
    if value and _NOT_TEXT.search(value):
        raise ValidationError(gettext("Remove the control characters from this text."), code="control_characters")


def has_null(value):
    return "\x00" in value
