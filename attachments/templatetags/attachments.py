"""The incident page's "Photos and files" panel. The page loads this tag (`{% load attachments %}`), so
the record never imports attachments."""

from django import template

from ..forms import AttachForm
from ..models import Attachment

register = template.Library()


@register.inclusion_tag("attachments/tags/panel.html", takes_context=True)
def incident_attachments(context, incident):
    """Thumbnails of the incident's photos and links to its files, and the form that adds more. The
    incident was read through the page's visibility rule, so whoever sees the page sees its files."""
    return {
        "incident": incident,
        "attachments": list(Attachment.objects.filter(incident=incident).select_related("uploaded_by")),
        "form": AttachForm(auto_id="attach-%s"),
        "csrf_token": context.get("csrf_token"),
    }
