"""The page forms. They parse and check what was typed; the rules of the recovery live in services."""

import re
import uuid

from django import forms

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
    customer_name = LineField(label="Customer's name", max_length=200, required=False)
    customer_phone = LineField(label="Phone (optional)", max_length=40, required=False,
                               widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))
    customer_email = forms.EmailField(label="Email (optional)", required=False)
    summary = WrappedLineField(
        label="What happened", widget=forms.Textarea(attrs={"rows": 3}), help_text="A sentence or two is enough.",
        error_messages={"required": "Say what happened, in a sentence or two."},
    )
    channel = forms.ChoiceField(label="How the customer reached us", choices=Channel.choices, initial=Channel.IN_PERSON)
    location = forms.ModelChoiceField(label="Location", queryset=None, empty_label=None)
    category = LineField(
        label="Category (optional)", max_length=100, required=False,
        help_text="The product or service, in your words, e.g. Room service.",
    )
    severity = forms.ChoiceField(label="How bad", choices=Severity.choices, initial=Severity.MEDIUM, required=False)
    busyness = forms.ChoiceField(label="How busy we were", choices=[("", "Not sure")] + Busyness.choices, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["location"].queryset = selectors.visible_locations(user)
        self.fields["location"].initial = user.locations.order_by("name").first()
        self.fields["form_token"].initial = uuid.uuid4()
        self.fields["category"].widget.attrs["list"] = "categories"
        self.fields["customer_name"].widget.attrs.update({"autocomplete": "off", "data-customer-search": ""})

    def clean_customer(self):
        customer_id = self.cleaned_data.get("customer")
        if not customer_id:
            return None
        customer = selectors.visible_customers(self.user).filter(pk=customer_id).first()
        if customer is None:
            raise forms.ValidationError("That customer is not on file any more; search again or add them as new.")
        return customer

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("customer") and not (cleaned.get("customer_name") or "").strip():
            if "customer" not in self.errors:
                self.add_error("customer_name", "Type the customer's name, or pick them from the list.")
        return cleaned

    def clean_customer_phone(self):
        return parse_phone(self.cleaned_data.get("customer_phone"))

    def new_customer(self):
        return {
            "name": self.cleaned_data["customer_name"].strip(),
            "email": self.cleaned_data["customer_email"],
            "phone": self.cleaned_data["customer_phone"],
        }


class StepForm(Form):
    """A step that can be edited: `expected_version` is the version the person saw (0: none yet)."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, initial=0)


class ApologyForm(StepForm):
    channel = forms.ChoiceField(label="How you apologized", choices=Channel.choices, initial=Channel.IN_PERSON)
    text = TextField(
        label="What you said", widget=forms.Textarea(attrs={"rows": 4, "data-coach": ""}),
        error_messages={"required": "Write what you said, as near as you remember it."},
        help_text="As near as you remember it. The coach points out phrases that can sound like a fake apology.",
    )
    customer_accepted = forms.BooleanField(
        label="The customer signalled the apology landed (e.g. “I know it's not your fault”)", required=False
    )


class ReviewForm(StepForm):
    customer_account = TextField(
        label="Their account of what happened", widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write what happened, as the customer tells it."},
    )
    customer_losses = TextField(
        label="What they lost (time, money, face in front of others)", required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    customer_needs = TextField(
        label="What they need for a good outcome", widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Write what the customer needs for a good outcome."},
    )


class FixForm(StepForm):
    description = TextField(
        label="What was done", widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write what was done, even if it is not fixed yet."},
    )
    fixed = forms.BooleanField(label="It is fixed", required=False)
    gesture_kind = forms.ChoiceField(
        label="Something extra (optional)", choices=[("", "None")] + Gesture.Kind.choices, required=False
    )
    gesture_description = LineField(label="What you gave", max_length=300, required=False)
    gesture_cost = forms.DecimalField(
        label="What it cost", min_value=0, max_digits=10, decimal_places=2, required=False,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "data-gesture-cost": ""}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("gesture_kind"):
            if not cleaned.get("gesture_description"):
                self.add_error("gesture_description", "Say what you gave, e.g. “a free dessert”.")
            if cleaned.get("gesture_cost") is None and "gesture_cost" not in self.errors:
                self.add_error("gesture_cost", "Enter what it cost (0 if nothing).")
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
    ("email", "Email it to the customer"),
    ("sms", "Text it to the customer"),
    (Channel.PHONE, "I phoned"),
    (Channel.LETTER, "I wrote a card or letter"),
    (Channel.IN_PERSON, "In person"),
    (Channel.CHAT, "Chat"),
    (Channel.WEB, "Web"),
    (Channel.OTHER, "Other"),
]


class FollowUpForm(Form):
    kind = forms.ChoiceField(label="Kind of follow-up", choices=FollowUp.Kind.choices)
    channel = forms.ChoiceField(label="How", choices=FOLLOW_UP_HOW, initial=Channel.PHONE)
    subject = LineField(label="Subject (email)", max_length=200, required=False)
    note = TextField(
        label="Note", widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": "Write what you told the customer (or your colleagues)."},
    )
    send_at = forms.DateTimeField(
        label="Send at (optional)", required=False, validators=[validate_in_range],
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="The location's local time; empty: now. A message due at night waits for the morning.",
    )


class ContactPreferencesForm(Form):
    """How the customer wants to hear from us (outreach honours it for every message)."""

    preferred_channel = forms.ChoiceField(
        label="Prefers", required=False,
        choices=[("", "Email if we have an address, else a text"), ("email", "Email"), ("sms", "Text message")])
    language = forms.RegexField(label="Language (optional)", required=False, max_length=10, regex=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
                                error_messages={"invalid": "A language code, e.g. en, de or pt-BR."})
    opted_out = forms.BooleanField(label="Asked not to be messaged (no email or text at all)", required=False)


class DepositionForm(StepForm):
    product = LineField(label="Product or service", max_length=200, required=False)
    busyness = forms.ChoiceField(
        label="How busy we were", choices=[("", "Choose…")] + Busyness.choices,
        error_messages={"required": "Choose how busy it was."},
    )
    circumstances = TextField(
        label="The customer's circumstances", widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Write the customer's circumstances."},
    )
    root_cause = TextField(
        label="What went wrong, as far as known", widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write what went wrong, as far as you know."},
    )
    prevention = TextField(
        label="What would prevent it (optional)", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class OutcomeForm(Form):
    outcome = forms.ChoiceField(
        label="Outcome", choices=Outcome.choices, widget=forms.RadioSelect,
        error_messages={"required": "Choose how the recovery ended."},
    )
    satisfaction = forms.TypedChoiceField(
        label="The customer's satisfaction (optional)", required=False, coerce=int, empty_value=None,
        choices=[("", "Not asked")] + [(n, f"{n} of 5") for n in range(1, 6)],
    )


class CoachPhraseForm(Form):
    phrase = LineField(label="Phrase", max_length=200)
    kind = forms.ChoiceField(label="Kind", choices=CoachPhrase.Kind.choices)
    suggestion = LineField(label="Warmer wording", max_length=300)
    active = forms.BooleanField(label="In use", required=False, initial=True)


class SearchForm(Form):
    """What was typed into a search box: one line, as long as a sentence of notes (and a bit)."""

    q = LineField(label=_("Search"), max_length=200, required=False, strip=True)
