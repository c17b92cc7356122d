"""The progress report's form on the incident page: what was typed is parsed here; the rules are in
`progress_reports`."""

from django import forms
from django.utils.translation import gettext_lazy

from incidents.forms import Form, TextField


class ProgressReportForm(Form):
    draft = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    next_step = TextField(
        label=gettext_lazy("What you will do next"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("The customer reads it in the report; it is also the incident's next step."),
    )
    body = TextField(
        label=gettext_lazy("The report to the customer"), max_length=5000, widget=forms.Textarea(attrs={"rows": 10}),
        error_messages={"required": gettext_lazy("Write the report before saving or sending it.")},
    )
