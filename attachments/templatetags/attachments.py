"""The incident page's "Photos and files" panel. The page loads this tag (`{% load attachments %}`), so
the record never imports attachments."""

from django import template

from .. import services
from ..forms import AttachForm
from ..models import Attachment

register = template.Library()


@register.inclusion_tag("attachments/tags/panel.html", takes_context=True)
def incident_attachments(context, incident):
    """Thumbnails of the incident's photos and links to its files, and the form that adds more. The
    incident was read through the page's visibility rule, so whoever sees the page sees its files."""
    attachments = list(Attachment.objects.filter(incident=incident).select_related("uploaded_by"))
    request = context.get("request")
    for attachment in attachments:
        attachment.incident = incident  # the page's own row: the rule reads its organization
        attachment.removable = request is not None and services.may_remove(request.user, attachment)
    return {
        "incident": incident,
        "attachments": attachments,
        "form": AttachForm(auto_id="attach-%s"),
        "csrf_token": context.get("csrf_token"),
    }
