"""The Settings forms. They parse what was typed; who may change what is decided in `services`."""

import datetime
import functools
import re
import zoneinfo

import holidays
from django import forms
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from holidays import registry as holidays_registry
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from helpdesk import tokens as api_tokens
from helpdesk.models import ApiToken, WebhookEndpoint
from incidents.forms import Form
from incidents import calendar
from incidents.models import Location, Organization, Weekday, holiday_subdivisions
from incidents.services import calendars as calendar_services

from . import services


TIME_ZONES = sorted(zoneinfo.available_timezones() - {"localtime"})


class ModelForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class OrganizationForm(ModelForm):
    class Meta:
        model = Organization
        fields = services.ORGANIZATION_FIELDS
        labels = {"follow_up_window": _("Fix or follow up within"), "heads_up_before": _("Warn the owner before the end by"),
                  "escalate_after": _("Tell the admins after a missed window by"),
                  "progress_report_every": _("Progress report to the customer every"),
                  "progress_reports_send_at": _("Progress reports go by themselves at (local time; empty: owners send them)"),
                  "satisfaction_check_after": _("Ask the customer how they feel this long after the wrap-up"),
                  "problem_watch_period": _("Watch a fixed problem this long without recurrence before proposing to close it"),
                  "two_factor_required": _("Managers and admins must use two-factor sign-in"),
                  "quiet_hours_start": _("No messages to customers from (their location's time)"),
                  "quiet_hours_end": _("until (a message due then waits for this hour)"),
                  "care_flag_days": _("A customer's care flag lasts (days)")}
        widgets = {"quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}


def _spaced(class_name):
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", class_name)


@functools.cache
def holiday_countries():
    """(code, name) of every country the `holidays` package keeps, by name."""
    names = {entry[1]: _spaced(entry[0]) for entry in holidays_registry.COUNTRIES.values()}
    return sorted(((code, names.get(code, code)) for code in holidays.list_supported_countries()), key=lambda pair: pair[1])


def holiday_regions(country):
    """(code, "code — name") of the country's subdivisions with their own holidays."""
    if not country:
        return []
    try:
        named = {code: name for name, code in holidays.country_holidays(country).subdivisions_aliases.items()}
    except (NotImplementedError, AttributeError):
        named = {}
    return [(code, f"{code} — {named[code]}" if code in named else code) for code in holiday_subdivisions(country)]


SPAN = re.compile(r"^\s*(\d{1,2})[:.h]?(\d{2})\s*[-–—]\s*(\d{1,2})[:.h]?(\d{2})\s*$")


class HoursField(forms.CharField):
    """A day's opening hours as typed: spans like 09:00–12:00, separated by commas; empty means closed.
    24:00 is the midnight that ends a day, so 18:00–24:00 closes at midnight and 00:00–24:00 is round
    the clock. A span that closes before it opens runs past midnight (18:00–02:00)."""

    default_error_messages = {
        "invalid": _("Write hours like 09:00–17:00, several spans separated by commas; leave it empty when closed."),
        "same": _("A span cannot end when it starts: for round the clock write 00:00–24:00."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)

    def to_python(self, value):
        text = super().to_python(value)
        spans = []
        for part in filter(None, (piece.strip() for piece in text.split(","))):
            found = SPAN.match(part)
            if not found:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            opens_h, opens_m, closes_h, closes_m = (int(number) for number in found.groups())
            if opens_h > 23 or opens_m > 59 or closes_m > 59 or closes_h > 24 or (closes_h == 24 and closes_m):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            opens, closes = datetime.time(opens_h, opens_m), datetime.time(closes_h % 24, closes_m)
            if (opens_h, opens_m) == (closes_h, closes_m):
                raise forms.ValidationError(self.error_messages["same"], code="same_time")
            spans.append(calendar.Span(opens, closes))
        return spans

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return hours_words(value)
        return value


def hours_words(spans):
    """Spans as the page writes them: 09:00–12:00, 18:00–24:00."""
    return ", ".join(f"{span.opens:%H:%M}–{'24:00' if span.closes == datetime.time(0) else format(span.closes, '%H:%M')}"
                     for span in spans)


def week_summary(business_calendar):
    """The week in a line: Mon–Fri 09:00–18:00 · Sat 10:00–14:00 · Sun closed."""
    groups = []
    for weekday in calendar.WEEKDAYS:
        spans = business_calendar.week[weekday]
        if groups and groups[-1][2] == spans:
            groups[-1][1] = weekday
        else:
            groups.append([weekday, weekday, spans])
    return " · ".join(
        f"{WEEKDAYS_ABBR[first]}{'–' + str(WEEKDAYS_ABBR[last]) if last != first else ''} "
        f"{hours_words(spans) if spans else _('closed')}" for first, last, spans in groups)


class LocationForm(ModelForm):
    timezone = forms.ChoiceField(label=_("Time zone"), choices=[(zone, zone) for zone in TIME_ZONES], initial="UTC")
    holiday_country = forms.ChoiceField(label=_("Closed on the public holidays of"), required=False)
    holiday_subdivision = forms.ChoiceField(label=_("Region (for its own holidays)"), required=False)

    class Meta:
        model = Location
        fields = ["name", "code", "region", "timezone", "holiday_country", "holiday_subdivision"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["holiday_country"].choices = [("", _("No public holidays"))] + holiday_countries()
        country = self.data.get("holiday_country") if self.is_bound else self.instance.holiday_country
        self.fields["holiday_subdivision"].choices = [("", _("The whole country"))] + holiday_regions(country or "")
        self.fields["holiday_subdivision"].help_text = _(
            "Choose the country and save to see its regions.") if not country else ""

    def validate_unique(self):
        pass  # the service decides, with the words a person reads

    def service_values(self):
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class LocationCalendarForm(LocationForm):
    """A location with its business calendar: the week's hours, day by day, and the dated exceptions from
    today on (a few empty rows to add more). The service checks the calendar as a whole."""

    BLANK_EXCEPTIONS = 3

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        saved = calendar_services.calendar_for(self.instance) if self.instance.pk else None
        for weekday, day in Weekday.choices:
            self.fields[f"hours_{weekday}"] = HoursField(
                label=day, initial=list(saved.week[weekday]) if saved else list(services.DEFAULT_WEEK[weekday]),
                widget=forms.TextInput(attrs={"placeholder": _("closed"), "aria-describedby": "hours-hint",
                                              "autocomplete": "off", "class": "hours"}))
        today = (now or timezone.now()).astimezone(self.instance.zone).date()
        upcoming = sorted((day, spans) for day, spans in (saved.exceptions.items() if saved else ()) if day >= today)
        rows = len(upcoming) + self.BLANK_EXCEPTIONS
        if self.is_bound:
            rows = max(rows, 1 + max((int(found.group(1)) for key in self.data
                                      if (found := re.fullmatch(r"exception_(\d+)_date", key))), default=-1))
        self.exception_rows = []
        for number in range(min(rows, 100)):
            day, spans = upcoming[number] if number < len(upcoming) else (None, [])
            self.fields[f"exception_{number}_date"] = forms.DateField(
                label=_("Date"), required=False, initial=day, widget=forms.DateInput(attrs={"type": "date"}))
            self.fields[f"exception_{number}_hours"] = HoursField(
                label=_("Open (empty: closed all day)"), initial=list(spans) if day else "",
                widget=forms.TextInput(attrs={"aria-describedby": "exceptions-hint", "autocomplete": "off",
                                              "class": "hours"}))
            self.exception_rows.append((self[f"exception_{number}_date"], self[f"exception_{number}_hours"]))

    def day_fields(self):
        return [self[f"hours_{weekday}"] for weekday in calendar.WEEKDAYS]

    def clean(self):
        cleaned = super().clean()
        for number in range(len(self.exception_rows)):
            day, hours = cleaned.get(f"exception_{number}_date"), cleaned.get(f"exception_{number}_hours")
            if day is None and hours and f"exception_{number}_date" not in self.errors:
                self.add_error(f"exception_{number}_date", _("Give the date these hours are for."))
        return cleaned

    def service_values(self):
        values = super().service_values()
        values["week"] = [self.cleaned_data[f"hours_{weekday}"] for weekday in calendar.WEEKDAYS]
        # Every row, empty ones too, so the service's `exception_<n>` errors name the row typed in.
        values["exceptions"] = [(self.cleaned_data[f"exception_{number}_date"], self.cleaned_data[f"exception_{number}_hours"])
                                for number in range(len(self.exception_rows))]
        return values


class StaffForm(Form):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"))
    locations = forms.ModelMultipleChoiceField(label=_("Locations"), queryset=None, required=False,
                                               widget=forms.CheckboxSelectMultiple)
    discretion_budget = forms.DecimalField(
        label=_("Discretion budget (optional)"), max_digits=10, decimal_places=2, min_value=0, required=False,
        help_text=_("What they may give one customer without asking a manager; empty means the organization's default."),
    )

    language = forms.ChoiceField(label=_("Language"), required=False, choices=[],
                                 help_text=_("Of the pages and of what Recovery writes to them."))

    def __init__(self, *args, by, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = language_choices()
        self.fields["role"].choices = [(role.value, role.label) for role in services.assignable_roles(by)]
        self.fields["locations"].queryset = services.locations_in_reach(by, organization).order_by("name")


def language_choices():
    return [("", gettext("Their browser's language"))] + list(settings.LANGUAGES)


class LanguageForm(Form):
    """A person's own language."""

    language = forms.ChoiceField(label=_("Language"), required=False, choices=[],
                                 help_text=_("Of the pages and of what Recovery writes to you. Empty: "
                                                        "your browser's language."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", gettext("My browser's language"))] + list(settings.LANGUAGES)


class InviteForm(StaffForm):
    email = forms.EmailField(label=_("Email"), help_text=_("They sign in with it, and get the invitation there."))
    field_order = ["email", "first_name", "last_name", "role", "locations", "discretion_budget", "language"]


class ApiTokenForm(Form):
    scope = forms.ChoiceField(label=_("Scope"), choices=ApiToken.Scope.choices, initial=ApiToken.Scope.WRITE,
                              help_text=_("A read-only token may read everything and change nothing."))
    expires_at = forms.DateTimeField(label=_("Expires (optional)"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                     help_text=_("Empty: until revoked."))


class ApiClientForm(ApiTokenForm):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("The system it is for, e.g. Helpdesk."))
    rate_limit_per_minute = forms.IntegerField(label=_("Requests per minute"), min_value=1, max_value=100000, initial=600)
    field_order = ["name", "rate_limit_per_minute", "scope", "expires_at"]


class RotateTokenForm(Form):
    keep_old_for_hours = forms.IntegerField(
        label=_("Keep the old token working for (hours)"), min_value=0, max_value=720,
        initial=int(api_tokens.DEFAULT_OVERLAP.total_seconds() // 3600),
        help_text=_("Time to put the new token everywhere the old one is used; 0 stops the old one now."),
    )


class WebhookForm(Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(label=_("Events"), choices=WebhookEndpoint.EventType.choices, required=False,
                                       widget=forms.CheckboxSelectMultiple, help_text=_("None ticked means all."))


class SingleSignOnForm(Form):
    issuer = forms.URLField(label=_("Issuer"), max_length=500, assume_scheme="https",
                            help_text=_("Your identity provider's issuer address, e.g. https://login.example.com/realms/staff."))
    client_id = forms.CharField(label=_("Client ID"), max_length=191)
    client_secret = forms.CharField(label=_("Client secret"), max_length=191, required=False,
                                    widget=forms.PasswordInput(render_value=False),
                                    help_text=_("Leave blank to keep the saved secret."))
    email_domain = forms.CharField(label=_("Work email domain"), max_length=253,
                                   help_text=_("People whose email ends in @ this domain are sent to the identity provider."))
    active = forms.BooleanField(label=_("Single sign-on is on"), required=False, initial=True)
