"""The Settings forms. They parse what was typed; who may change what is decided in `services`."""

import zoneinfo

from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk import tokens as api_tokens
from helpdesk.models import ApiToken, WebhookEndpoint
from incidents.forms import Form
from incidents.models import Location, Organization

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
        labels = {"follow_up_window": "Fix or follow up within", "heads_up_before": "Warn the owner before the end by",
                  "escalate_after": "Tell the admins after a missed window by",
                  "progress_report_every": "Progress report to the customer every",
                  "progress_reports_send_at": "Progress reports go by themselves at (local time; empty: owners send them)",
                  "satisfaction_check_after": "Ask the customer how they feel this long after the wrap-up",
                  "problem_watch_period": "Watch a fixed problem this long without recurrence before proposing to close it",
                  "two_factor_required": "Managers and admins must use two-factor sign-in",
                  "quiet_hours_start": "No messages to customers from (their location's time)",
                  "quiet_hours_end": "until (a message due then waits for this hour)",
                  "care_flag_days": _("A customer's care flag lasts (days)")}
        widgets = {"quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}


class LocationForm(ModelForm):
    timezone = forms.ChoiceField(label=_("Time zone"), choices=[(zone, zone) for zone in TIME_ZONES], initial="UTC")

    class Meta:
        model = Location
        fields = ["name", "code", "region", "timezone", "opens_at", "closes_at"]
        widgets = {"opens_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "closes_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}
        labels = {"opens_at": "Opens at", "closes_at": "Closes at"}

    def validate_unique(self):
        pass  # the service decides, with the words a person reads


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

    def __init__(self, *args, by, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(role.value, role.label) for role in services.assignable_roles(by)]
        self.fields["locations"].queryset = services.locations_in_reach(by, organization).order_by("name")


class InviteForm(StaffForm):
    email = forms.EmailField(label=_("Email"), help_text=_("They sign in with it, and get the invitation there."))
    field_order = ["email", "first_name", "last_name", "role", "locations", "discretion_budget"]


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
