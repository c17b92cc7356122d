"""Which locations a manager's console covers, and the filters every page of it understands."""

import datetime
import re
import zoneinfo
from dataclasses import dataclass, field

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils import timezone
from django.utils.dates import MONTHS, MONTHS_3, MONTHS_ALT, WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy

from incidents.models import Busyness, Category, Channel, Incident, Stage, User
from incidents.selectors import sees_console, visible_locations
from incidents.validators import validate_in_range

DEFAULT_DAYS = 28
NO_REGION = "(none)"  # how locations without a region appear in breakdowns and clusters  # four of each weekday, so the heatmap compares like with like


@dataclass
class Scope:
    """The locations one manager may see (theirs; an admin's whole organization), read once per request."""

    user: User
    locations: list = field(default_factory=list)

    @property
    def location_ids(self):
        return [location.pk for location in self.locations]

    @property
    def timezone(self):
        """Dates in filters are days in the locations' time zone (UTC when they differ)."""
        zones = {location.timezone for location in self.locations}
        return zoneinfo.ZoneInfo(zones.pop() if len(zones) == 1 else "UTC")

    def by_timezone(self):
        zones = {}
        for location in self.locations:
            zones.setdefault(location.timezone, []).append(location.pk)
        return zones


def scope_for(user):
    """The console's scope, or PermissionDenied for anyone who is not a manager or an admin."""
    if not sees_console(user):
        raise PermissionDenied(gettext("The managers' console is for managers."))
    return Scope(user=user, locations=list(visible_locations(user).order_by("name")))


class QuickSelect(forms.Select):
    """A <select> rendered in one pass: the stock widget renders a template per option, which is most of
    the page's time with a few hundred staff in the pickers."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = "" if value is None else str(value[0] if isinstance(value, (list, tuple)) else value)
        options = format_html_join(
            "", '<option value="{}"{}>{}</option>',
            ((key, mark_safe(" selected") if str(key) == chosen else "", label) for key, label in self.choices),
        )
        attributes = self.build_attrs(self.attrs, attrs)
        return format_html('<select name="{}" id="{}">{}</select>', name, attributes.get("id", ""), options)


# Dates as the app writes them ("4 Nov 2026"), and as links and date pickers send them (2026-11-04).
DAY_FORMATS = ["%Y-%m-%d", "%d %b %Y", "%d %B %Y", "%d %b, %Y", "%b %d %Y", "%b %d, %Y", "%B %d %Y", "%B %d, %Y"]


ENGLISH_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def day_text(day):
    """A date as every page writes it, with the reader's month names: 4 Nov 2026, 4 Dic 2026."""
    return date_format(day, "j M Y")


def in_english_months(text):
    """A typed date with the reader's month names ("4 dic 2026", "4 de diciembre de 2026") in the English
    abbreviations DAY_FORMATS read: strptime knows only English months."""
    for number in range(12, 0, -1):
        for name in {str(MONTHS[number]), str(MONTHS_ALT[number]), str(MONTHS_3[number])}:
            text = re.sub(rf"\b{re.escape(name)}\b\.?", ENGLISH_MONTHS[number - 1], text, flags=re.IGNORECASE)
    # Spanish writes "4 de diciembre de 2026".
    return re.sub(r"\s+(?:de|del)\s+", " ", text, flags=re.IGNORECASE)


class DayField(forms.DateField):
    def to_python(self, value):
        return super().to_python(in_english_months(value) if isinstance(value, str) else value)


class DayInput(forms.DateInput):
    """A date typed as text, shown as "4 Nov 2026"; what was typed comes back as typed."""

    input_type = "text"

    def format_value(self, value):
        return day_text(value) if isinstance(value, datetime.date) else value


class Filters(forms.Form):
    """Filters shared by the console, the trends, the incident list and the export. All optional."""

    start = DayField(required=False, input_formats=DAY_FORMATS, widget=DayInput(attrs={"placeholder": gettext_lazy("e.g. 4 Nov 2026"), "autocomplete": "off"}), label=gettext_lazy("From"),
                            validators=[validate_in_range])
    end = DayField(required=False, input_formats=DAY_FORMATS, widget=DayInput(attrs={"placeholder": gettext_lazy("e.g. 4 Nov 2026"), "autocomplete": "off"}), label=gettext_lazy("To (inclusive)"),
                          validators=[validate_in_range])
    location = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=gettext_lazy("Location"))
    region = forms.ChoiceField(required=False, label=gettext_lazy("Region"))  # the organization's regions
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=gettext_lazy("Owner"))
    logged_by = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=gettext_lazy("Logged by"))
    stage = forms.ChoiceField(required=False, choices=[("", gettext_lazy("Any stage")), *Stage.choices],
                              label=gettext_lazy("Stage"))
    category = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=gettext_lazy("Category"))
    busyness = forms.ChoiceField(required=False, choices=[("", gettext_lazy("Any")), *Busyness.choices],
                                 label=gettext_lazy("Busyness"))
    channel = forms.ChoiceField(required=False, choices=[("", gettext_lazy("Any channel")), *Channel.choices],
                                label=gettext_lazy("Channel"))
    overdue = forms.BooleanField(required=False, label=gettext_lazy("Late only"))
    weekday = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=gettext_lazy("Weekday"),
                                     choices=[("", gettext_lazy("Any day"))] + [(d, n) for d, n in enumerate(
                                         [WEEKDAYS_ABBR[day] for day in range(7)], start=1)])
    hour = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=gettext_lazy("Hour"),
                                  choices=[("", gettext_lazy("Any hour"))] + [(h, f"{h:02d}:00") for h in range(24)])

    def __init__(self, data, *, scope, staff=(), categories=()):
        super().__init__(data)
        self.scope = scope
        self.fields["location"].choices = [("", gettext("All my locations"))] + [(l.pk, l.name) for l in scope.locations]
        regions = sorted({location.region for location in scope.locations if location.region})
        self.fields["region"].choices = [("", gettext_lazy("All regions"))] + [(name, name) for name in regions] + (
            [(NO_REGION, gettext_lazy("No region"))] if any(not location.region for location in scope.locations) else [])
        people = [("", "Anyone")] + [(u.pk, u.display_name()) for u in staff]
        self.fields["owner"].choices = people
        self.fields["logged_by"].choices = people
        self.fields["category"].choices = [("", gettext("Any category"))] + [(c.pk, c.name) for c in categories]
        for form_field in self.fields.values():
            if type(form_field.widget) is forms.Select:
                form_field.widget = QuickSelect(choices=form_field.choices)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", gettext("The end comes before the start."))
        return data

    def values(self):
        """Cleaned values; invalid fields are dropped (their errors show next to them)."""
        return self.cleaned_data if self.is_bound and self.is_valid() else {
            key: value for key, value in getattr(self, "cleaned_data", {}).items() if key not in self.errors
        }


def staff_of(scope):
    """Active staff of the organization, for filters and the reassign / swarm pickers (one query)."""
    organization_id = scope.user.organization_id
    people = User.objects.filter(is_active=True)
    if organization_id:
        people = people.filter(organization_id=organization_id)
    return list(people.order_by("first_name", "last_name", "username"))


def categories_of(scope):
    organization_id = scope.user.organization_id
    categories = Category.objects.all() if organization_id is None else Category.objects.filter(organization_id=organization_id)
    return list(categories.order_by("name"))


def period_of(values, scope, now=None):
    """[start, end) as aware datetimes: whole days in the scope's time zone; the last four weeks by default."""
    now = now or timezone.now()
    zone = scope.timezone
    today = now.astimezone(zone).date()
    end_day = values.get("end") or today
    start_day = values.get("start") or end_day - datetime.timedelta(days=DEFAULT_DAYS - 1)
    start = datetime.datetime.combine(start_day, datetime.time(), tzinfo=zone)
    end = datetime.datetime.combine(end_day + datetime.timedelta(days=1), datetime.time(), tzinfo=zone)
    return start, end


def previous_period(start, end):
    length = end - start
    return start - length, start


def logged_in(scope, start, end):
    """The incidents logged at the scope's locations in [start, end): every figure's starting set."""
    return Incident.objects.filter(location_id__in=scope.location_ids, logged_at__gte=start, logged_at__lt=end)


def filter_incidents(incidents, values, scope, *, now=None):
    """Apply the filters to a queryset already limited to the scope."""
    simple = {"location": "location_id", "owner": "owner_id", "logged_by": "logged_by_id", "stage": "stage",
              "category": "category_id", "busyness": "busyness", "channel": "channel", "region": "location__region"}
    for key, lookup in simple.items():
        if values.get(key) not in (None, ""):
            value = "" if key == "region" and values[key] == NO_REGION else values[key]
            incidents = incidents.filter(**{lookup: value})
    if values.get("overdue"):
        incidents = incidents.late(now or timezone.now())
    if values.get("weekday") is not None or values.get("hour") is not None:
        incidents = at_local_time(incidents, scope, values.get("weekday"), values.get("hour"))
    return incidents


def at_local_time(incidents, scope, weekday, hour):
    """Incidents that happened (`occurred_at`, as the heatmap counts them) on an ISO weekday / at an hour
    of the day in their own location's time zone.
    One converted column per time zone of the scope; the database converts, nothing is read into Python."""
    condition = Q(pk__in=[])
    for number, (zone_name, location_ids) in enumerate(scope.by_timezone().items()):
        zone = zoneinfo.ZoneInfo(zone_name)
        lookups = {"location_id__in": location_ids}
        if weekday is not None:
            incidents = incidents.annotate(**{f"weekday_{number}": ExtractIsoWeekDay("occurred_at", tzinfo=zone)})
            lookups[f"weekday_{number}"] = weekday
        if hour is not None:
            incidents = incidents.annotate(**{f"hour_{number}": ExtractHour("occurred_at", tzinfo=zone)})
            lookups[f"hour_{number}"] = hour
        condition |= Q(**lookups)
    return incidents.filter(condition)
