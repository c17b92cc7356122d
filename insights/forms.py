"""The console's forms beyond its filters (those are `scope.Filters`): saving a view, a bulk action."""

from django import forms
from django.utils.translation import gettext_lazy as _

from incidents.models import Incident
from incidents.validators import validate_single_line

from . import bulk
from .models import SavedView


class SavedViewForm(forms.Form):
    page = forms.ChoiceField(choices=SavedView.Page.choices, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name of the view"), max_length=60, validators=[validate_single_line])
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)


class BulkForm(forms.Form):
    """Which incidents (of my locations), which action, whom."""

    incident = forms.ModelMultipleChoiceField(queryset=Incident.objects.none(), label=_("Incidents"),
                                              error_messages={"required": _("Tick at least one incident.")})
    action = forms.ChoiceField(choices=bulk.ACTIONS, label=_("Action"))
    person = forms.TypedChoiceField(coerce=int, label=_("Person"), error_messages={"required": _("Choose a person.")})
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data, *, scope, staff):
        super().__init__(data)
        self.staff = {person.pk: person for person in staff}
        self.fields["person"].choices = [("", _("Choose a person"))] + [(p.pk, p.display_name()) for p in staff]
        self.fields["incident"].queryset = Incident.objects.filter(location_id__in=scope.location_ids).select_related(
            "owner", "customer", "location").order_by("-logged_at", "-pk")

    def clean_incident(self):
        incidents = self.cleaned_data["incident"]
        if len(incidents) > bulk.MAX_INCIDENTS:
            raise forms.ValidationError(_("At most %(count)s incidents at once.") % {"count": bulk.MAX_INCIDENTS})
        return list(incidents)

    def chosen_person(self):
        return self.staff[self.cleaned_data["person"]]

    def back(self):
        """Where to go afterwards: the list the manager came from (only a page of the console)."""
        back = (self.data.get("next") or "")
        return back if back.startswith("/manage/") and "//" not in back else ""
