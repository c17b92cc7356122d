"""`{% progress_report incident %}`: the incident page's block for the day's progress report."""

from django import template

from outreach import progress_reports
from outreach.models import Message
from outreach.progress_forms import ProgressReportForm

register = template.Library()


@register.inclusion_tag("outreach/_progress_report.html", takes_context=True)
def progress_report(context, incident):
    user = context["request"].user
    draft = progress_reports.open_draft(incident) if incident.is_open else None
    form = context.get("progress_form")  # bound, with its errors, when a save or send was refused
    if form is None and draft is not None:
        form = ProgressReportForm(auto_id="progress-%s", initial={
            "draft": draft.pk, "body": draft.body, "next_step": incident.next_step})
    last = (incident.messages.filter(kind=Message.Kind.PROGRESS_REPORT).exclude(status=Message.Status.DRAFT)
            .order_by("-updated_at", "-id").first())
    return {
        "incident": incident,
        "draft": draft,
        "form": form,
        "last": last,
        "may_write": form is not None and progress_reports.may_write_report(user, incident),
        "csrf_token": context.get("csrf_token"),
    }
