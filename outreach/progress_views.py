"""The progress report on the incident page: save the owner's edit, or send it in one click."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.utils.translation import gettext

from incidents import views as incident_views

from . import progress_reports
from .models import Message
from .progress_forms import ProgressReportForm


@login_required
@require_POST
def progress_report(request, reference):
    """Save or send today's report; on a problem, the incident page again with what was typed."""
    incident = incident_views._visible_incident(request.user, reference)
    form = ProgressReportForm(request.POST, auto_id="progress-%s")
    sending = "send" in request.POST
    if form.is_valid():
        data = form.cleaned_data
        draft = incident.messages.filter(pk=data["draft"], kind=Message.Kind.PROGRESS_REPORT).first()
        if draft is None:
            form.add_error(None, gettext("This report is no longer waiting to be sent."))
        else:
            action = progress_reports.send_report if sending else progress_reports.save_report
            message = incident_views.run_service(form, lambda: action(
                draft, by=request.user, body=data["body"], next_step=data["next_step"]))
            if message is not None:
                messages.success(request, _done(message, sending))
                return redirect(reverse("incident", args=[incident.reference]) + "#progress-report")
    context = incident_views._incident_page(request, incident)
    context["progress_form"] = form
    return render(request, "incidents/detail.html", context, status=400)


def _done(message, sending):
    if not sending:
        return gettext("Progress report saved.")
    if message.status == Message.Status.NOT_SENT:
        return gettext("Progress report not sent: %(status_note)s") % {"status_note": message.status_note}
    return gettext("Progress report on its way to %(to)s.") % {"to": message.to}
