"""The problem pages' forms. They parse what was typed; whether it may be done (an owner of the
organization, a fix not in the future, an action not due before the problem was opened, the version the
person saw) is decided in `problems.services`, whose field errors are shown beside these fields."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy

from incidents.forms import Form, LineField, TextField
from incidents.models import Busyness, Channel
from insights.clusters import WEEKDAYS
from insights.scope import QuickSelect

from .models import Status
from .patterns import Pattern


class PickerField(forms.IntegerField):
    """A choice from a list of staff, locations or categories, sent as an id. Whether the id is one of the
    organization's is the service's question, so an unknown one gets the service's words."""

    def __init__(self, *, choices=(), empty="", **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(widget=QuickSelect(), **kwargs)
        self.empty = empty
        self.set_choices(choices)

    def set_choices(self, choices):
        self.widget.choices = ([("", self.empty)] if self.empty else []) + list(choices)


def date_input():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def local_midnight(day):
    """A day typed in a date box, as the start of that day on the site's clock."""
    return datetime.datetime.combine(day, datetime.time(), tzinfo=timezone.get_current_timezone())


def staff_choices(people):
    return [(person.pk, person.display_name()) for person in people]


class PatternFields(Form):
    """The pattern, in the trends page's terms: every field empty means "any"."""

    location = PickerField(label=gettext_lazy("Location"), empty="Any location")
    region = LineField(label=gettext_lazy("Region"), required=False, max_length=100)
    category = PickerField(label=gettext_lazy("Category"), empty="Any category")
    busyness = forms.ChoiceField(label=gettext_lazy("Busyness"), required=False, choices=[("", gettext_lazy("Any")), *Busyness.choices])
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False, choices=[("", gettext_lazy("Any channel")), *Channel.choices])
    logged_by = PickerField(label=gettext_lazy("Staff on the spot"), empty="Anyone")
    weekday = forms.TypedChoiceField(label=gettext_lazy("Weekday"), required=False, coerce=int, empty_value=None,
                                     choices=[("", gettext_lazy("Any day")), *((n, name) for n, name in enumerate(WEEKDAYS, start=1))])
    hour_from = forms.TypedChoiceField(label=gettext_lazy("From (hour)"), required=False, coerce=int, empty_value=None,
                                       choices=[("", gettext_lazy("Any hour")), *((h, f"{h:02d}:00") for h in range(24))])
    hour_to = forms.TypedChoiceField(label=gettext_lazy("To (hour)"), required=False, coerce=int, empty_value=None,
                                     choices=[("", gettext_lazy("Any hour")), *((h, f"{h % 24:02d}:00") for h in range(1, 25))])

    PATTERN_NAMES = ("location", "region", "category", "busyness", "channel", "logged_by", "weekday", "hour_from", "hour_to")

    def pattern(self):
        data = self.cleaned_data
        return Pattern(location_id=data.get("location"), region=data.get("region") or "",
                       category_id=data.get("category"), busyness=data.get("busyness") or "",
                       channel=data.get("channel") or "", logged_by_id=data.get("logged_by"),
                       weekday=data.get("weekday"), hour_from=data.get("hour_from"), hour_to=data.get("hour_to"))

    @staticmethod
    def initial_of(pattern):
        return {"location": pattern.location_id, "region": pattern.region, "category": pattern.category_id,
                "busyness": pattern.busyness, "channel": pattern.channel, "logged_by": pattern.logged_by_id,
                "weekday": pattern.weekday, "hour_from": pattern.hour_from, "hour_to": pattern.hour_to}


class NewProblemForm(PatternFields):
    title = LineField(label=gettext_lazy("Title"), max_length=200)
    owner = PickerField(label=gettext_lazy("Owner"), required=True)
    suspected_cause = TextField(label=gettext_lazy("Suspected cause"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    field_order = ["title", "owner", "suspected_cause"]

    def __init__(self, *args, staff, locations, categories, **kwargs):
        super().__init__(*args, **kwargs)
        people = staff_choices(staff)
        self.fields["owner"].set_choices(people)
        self.fields["logged_by"].set_choices(people)
        self.fields["location"].set_choices((location.pk, location.name) for location in locations)
        self.fields["category"].set_choices((category.pk, category.name) for category in categories)
        regions = sorted({location.region for location in locations if location.region})
        self.fields["region"].widget.attrs["list"] = "regions"
        self.regions = regions


class EditProblemForm(Form):
    title = LineField(label=gettext_lazy("Title"), max_length=200)
    owner = PickerField(label=gettext_lazy("Owner"), required=True)
    suspected_cause = TextField(label=gettext_lazy("Suspected cause"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    confirmed_cause = TextField(label=gettext_lazy("Confirmed cause"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, staff, **kwargs):
        # The problem page holds several forms with an owner and a confirmed cause: each form's ids are its own.
        super().__init__(*args, auto_id="edit_%s", **kwargs)
        self.fields["owner"].set_choices(staff_choices(staff))


class StatusForm(Form):
    status = forms.ChoiceField(label=gettext_lazy("New status"), choices=Status.choices)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, moves=None, **kwargs):
        super().__init__(*args, **kwargs)
        if moves is not None:
            # Only the moves allowed from here are offered; the service refuses any other that is sent.
            self.fields["status"].widget.choices = [(key, label) for key, label in Status.choices if key in moves]


class FixForm(Form):
    fixed_on = forms.DateField(label=gettext_lazy("The fix was made on"), widget=date_input())
    confirmed_cause = TextField(label=gettext_lazy("Confirmed cause"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="fix_%s", **kwargs)


class ActionForm(Form):
    description = LineField(label=gettext_lazy("What will be changed"), max_length=300)
    owner = PickerField(label=gettext_lazy("Owner"), required=True)
    due_on = forms.DateField(label=gettext_lazy("Due"), widget=date_input())

    def __init__(self, *args, staff, **kwargs):
        super().__init__(*args, auto_id="action_%s", **kwargs)
        self.fields["owner"].set_choices(staff_choices(staff))
