"""The page forms. They parse and check what was typed; the rules of the recovery live in services."""

import datetime
import re
import uuid

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _, gettext

from . import selectors
from .phones import parse_phone
from .validators import validate_in_range, validate_single_line, validate_text
from .models import Busyness, Channel, CoachPhrase, FollowUp, Gesture, Outcome, Severity


class Form(forms.Form):
    """Labels as written, without Django's trailing colon."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class LineField(forms.CharField):
    """One line of text (a name, a label): no line breaks or control characters."""

    default_validators = [validate_single_line]


class WrappedLineField(LineField):
    """One line typed in a box that wraps: a line break pressed there is read as a space."""

    def to_python(self, value):
        return re.sub(r"\s*[\r\n]+\s*", " ", super().to_python(value))


class TextField(forms.CharField):
    """Text of several lines: line breaks and tabs, no other control characters."""

    default_validators = [validate_text]


class LogFailureForm(Form):
    """One short form: the customer (found or new), what happened, channel, location, category."""

    form_token = forms.UUIDField(widget=forms.HiddenInput)
    customer = forms.IntegerField(required=False, widget=forms.HiddenInput)
    customer_name = LineField(label=_("Customer's name"), max_length=200, required=False)
    customer_phone = LineField(label=_("Phone (optional)"), max_length=40, required=False,
                               widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))
    customer_email = forms.EmailField(label=_("Email (optional)"), required=False)
    summary = WrappedLineField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 3}), help_text=_("A sentence or two is enough."),
        error_messages={"required": _("Say what happened, in a sentence or two.")},
    )
    channel = forms.ChoiceField(label=_("How the customer reached us"), choices=Channel.choices, initial=Channel.IN_PERSON)
    location = forms.ModelChoiceField(label=_("Location"), queryset=None, empty_label=None)
    category = LineField(
        label=_("Category (optional)"), max_length=100, required=False,
        help_text=_("The product or service, in your words, e.g. Room service."),
    )
    # When it happened, in the location's local time: a day of the last week and a time of day (24-hour,
    # as the app writes times). Failures logged at the end of a shift keep the hour they happened at.
    occurred_day = forms.ChoiceField(label=_("Day"), required=False)
    occurred_time = LineField(
        label=_("Time"), max_length=10, required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "size": "5"}),
        error_messages={"invalid": _("Write the time as on a 24-hour clock, e.g. 14:30.")},
    )
    severity = forms.ChoiceField(label=_("How bad"), choices=Severity.choices, initial=Severity.MEDIUM, required=False)
    busyness = forms.ChoiceField(label=_("How busy we were"), choices=[("", _("Not sure"))] + Busyness.choices, required=False)

    def __init__(self, *args, user, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.now = now or timezone.now()
        self.fields["location"].queryset = selectors.visible_locations(user)
        self.fields["location"].initial = user.locations.order_by("name").first()
        first = self.fields["location"].initial or self.fields["location"].queryset.first()
        # Most staff work at one place: no list to choose from, the page says where (a phone's line saved).
        places = list(self.fields["location"].queryset[:2])
        self.only_location = places[0] if len(places) == 1 else None
        if self.only_location:
            self.fields["location"].widget = forms.HiddenInput()
            self.fields["location"].initial = self.only_location.pk
        local_now = self.now.astimezone(first.zone) if first else self.now
        self.fields["occurred_day"].choices = [(str(days), label) for days, label in days_back(local_now.date())]
        self.fields["occurred_day"].initial = "0"
        self.fields["occurred_time"].initial = f"{local_now:%H:%M}"
        self.fields["category"].widget.attrs["placeholder"] = _("e.g. Room service")
        self.fields["form_token"].initial = uuid.uuid4()
        self.fields["category"].widget.attrs["list"] = "categories"
        self.fields["customer_name"].widget.attrs.update({"autocomplete": "off", "data-customer-search": ""})

    def clean_customer(self):
        customer_id = self.cleaned_data.get("customer")
        if not customer_id:
            return None
        customer = selectors.visible_customers(self.user).filter(pk=customer_id).first()
        if customer is None:
            raise forms.ValidationError(gettext("That customer is not on file any more; search again or add them as new."))
        return customer

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("customer") and not (cleaned.get("customer_name") or "").strip():
            if "customer" not in self.errors:
                self.add_error("customer_name", gettext("Type the customer's name, or pick them from the list."))
        return cleaned

    def clean_customer_phone(self):
        return parse_phone(self.cleaned_data.get("customer_phone"))

    def clean_occurred_time(self):
        text = self.cleaned_data.get("occurred_time") or ""
        if not text.strip():
            return None
        moment = parse_time_of_day(text)
        if moment is None:
            raise forms.ValidationError(self.fields["occurred_time"].error_messages["invalid"], code="invalid")
        return moment

    def occurred_at(self):
        """The moment it happened as an aware datetime in the chosen location's time zone, or None
        (now). Whether it may be that moment (not in the future, not too long ago) is the service's rule."""
        data = self.cleaned_data
        location, time_of_day = data.get("location"), data.get("occurred_time")
        if location is None or time_of_day is None:
            return None
        zone = location.zone
        day = self.now.astimezone(zone).date() - datetime.timedelta(days=int(data.get("occurred_day") or 0))
        return datetime.datetime.combine(day, time_of_day, tzinfo=zone)

    def new_customer(self):
        return {
            "name": self.cleaned_data["customer_name"].strip(),
            "email": self.cleaned_data["customer_email"],
            "phone": self.cleaned_data["customer_phone"],
        }


DAYS_BACK = 7


def days_back(today):
    """[(days ago, label)] for the last week: Today, Yesterday, then "Sun 29 Nov"."""
    labels = {0: _("Today"), 1: _("Yesterday")}
    return [(days, labels.get(days) or date_format(today - datetime.timedelta(days=days), "D j M"))
            for days in range(DAYS_BACK)]


_TIME_OF_DAY = re.compile(r"^\s*(\d{1,2})(?:\s*[:.h]\s*(\d{2})|(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?\s*$", re.I)


def parse_time_of_day(text):
    """A time of day as people type it: 14:30, 14.30, 1430, 9, 2:30 pm. None if it is not one."""
    match = _TIME_OF_DAY.match(text or "")
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or match.group(3) or 0)
    half = (match.group(4) or "").lower().replace(".", "")
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return datetime.time(hour, minute)


class StepForm(Form):
    """A step that can be edited: `expected_version` is the version the person saw (0: none yet)."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, initial=0)


class ApologyForm(StepForm):
    channel = forms.ChoiceField(label=_("How you apologized"), choices=Channel.choices, initial=Channel.IN_PERSON)
    text = TextField(
        label=_("What you said"), widget=forms.Textarea(attrs={"rows": 4, "data-coach": ""}),
        error_messages={"required": _("Write what you said, as near as you remember it.")},
        help_text=_("As near as you remember it. The coach points out phrases that can sound like a fake apology."),
    )
    customer_accepted = forms.BooleanField(
        label=_("The customer signalled the apology landed (e.g. “I know it's not your fault”)"), required=False
    )


class ReviewForm(StepForm):
    customer_account = TextField(
        label=_("Their account of what happened"), widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Write what happened, as the customer tells it.")},
    )
    customer_losses = TextField(
        label=_("What they lost (time, money, face in front of others)"), required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    customer_needs = TextField(
        label=_("What they need for a good outcome"), widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Write what the customer needs for a good outcome.")},
    )


class FixForm(StepForm):
    description = TextField(
        label=_("What was done"), widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Write what was done, even if it is not fixed yet.")},
    )
    fixed = forms.BooleanField(label=_("It is fixed"), required=False)
    gesture_kind = forms.ChoiceField(
        label=_("Something extra (optional)"), choices=[("", _("None"))] + Gesture.Kind.choices, required=False
    )
    gesture_description = LineField(label=_("What you gave"), max_length=300, required=False)
    gesture_cost = forms.DecimalField(
        label=_("What it cost"), min_value=0, max_digits=10, decimal_places=2, required=False,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "data-gesture-cost": ""}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("gesture_kind"):
            if not cleaned.get("gesture_description"):
                self.add_error("gesture_description", gettext("Say what you gave, e.g. “a free dessert”."))
            if cleaned.get("gesture_cost") is None and "gesture_cost" not in self.errors:
                self.add_error("gesture_cost", gettext("Enter what it cost (0 if nothing)."))
        return cleaned

    def gesture(self):
        if not self.cleaned_data.get("gesture_kind"):
            return None
        return {
            "kind": self.cleaned_data["gesture_kind"],
            "description": self.cleaned_data["gesture_description"],
            "cost": self.cleaned_data["gesture_cost"],
        }


# How a follow-up is done: Email and Text send the note to the customer (outreach); the others record
# what a person did by hand, which the method prefers where the business meets its customers in person.
FOLLOW_UP_HOW = [
    ("email", _("Email it to the customer")),
    ("sms", _("Text it to the customer")),
    (Channel.PHONE, _("I phoned")),
    (Channel.LETTER, _("I wrote a card or letter")),
    (Channel.IN_PERSON, _("In person")),
    (Channel.CHAT, _("Chat")),
    (Channel.WEB, _("Web")),
    (Channel.OTHER, _("Other")),
]


class FollowUpForm(Form):
    kind = forms.ChoiceField(label=_("Kind of follow-up"), choices=FollowUp.Kind.choices)
    channel = forms.ChoiceField(label=_("How"), choices=FOLLOW_UP_HOW, initial=Channel.PHONE)
    subject = LineField(label=_("Subject (email)"), max_length=200, required=False)
    note = TextField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": _("Write what you told the customer (or your colleagues).")},
    )
    send_at = forms.DateTimeField(
        label=_("Send at (optional)"), required=False, validators=[validate_in_range],
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("The location's local time; empty: now. A message due at night waits for the morning."),
    )


class ContactPreferencesForm(Form):
    """How the customer wants to hear from us (outreach honours it for every message)."""

    preferred_channel = forms.ChoiceField(
        label=_("Prefers"), required=False,
        choices=[("", _("Email if we have an address, else a text")), ("email", _("Email")), ("sms", _("Text message"))])
    language = forms.RegexField(label=_("Language (optional)"), required=False, max_length=10, regex=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
                                error_messages={"invalid": _("A language code, e.g. en, de or pt-BR.")})
    opted_out = forms.BooleanField(label=_("Asked not to be messaged (no email or text at all)"), required=False)


class DepositionForm(StepForm):
    product = LineField(label=_("Product or service"), max_length=200, required=False)
    busyness = forms.ChoiceField(
        label=_("How busy we were"), choices=[("", _("Choose…"))] + Busyness.choices,
        error_messages={"required": _("Choose how busy it was.")},
    )
    circumstances = TextField(
        label=_("The customer's circumstances"), widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Write the customer's circumstances.")},
    )
    root_cause = TextField(
        label=_("What went wrong, as far as known"), widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Write what went wrong, as far as you know.")},
    )
    prevention = TextField(
        label=_("What would prevent it (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class OutcomeForm(Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=Outcome.choices, widget=forms.RadioSelect,
        error_messages={"required": _("Choose how the recovery ended.")},
    )
    satisfaction = forms.TypedChoiceField(
        label=_("The customer's satisfaction (optional)"), required=False, coerce=int, empty_value=None,
        choices=[("", _("Not asked"))] + [(n, f"{n} of 5") for n in range(1, 6)],
    )


class CoachPhraseForm(Form):
    # Empty: the list on show (see views.coach_phrases).
    language = forms.ChoiceField(label=_("Language of the phrase"), choices=settings.LANGUAGES, required=False,
                                 help_text=_("An apology is checked against the phrases of the customer's language, "
                                             "else of the language of the person writing it."))
    phrase = LineField(label=_("Phrase"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=CoachPhrase.Kind.choices)
    suggestion = LineField(label=_("Warmer wording"), max_length=300)
    active = forms.BooleanField(label=_("In use"), required=False, initial=True)


class SearchForm(Form):
    """What was typed into a search box: one line, as long as a sentence of notes (and a bit)."""

    q = LineField(label=_("Search"), max_length=200, required=False, strip=True)
