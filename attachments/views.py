"""The pages' door: add photos or files from the incident page, and read them back.

A file is served only through these views, to whoever may read its incident (the incident page's own
rule, `incidents.selectors.visible_incidents`); another organization's file is not found. There is no
public media URL.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from incidents.selectors import visible_incidents
from incidents.services import RecoveryError

from . import forms, services
from .models import Attachment, attachment_storage


@login_required
@require_POST
def attach_files(request, reference):
    """The incident page's "Add a photo or file": saved at once, or a message naming the file refused."""
    incident = get_object_or_404(visible_incidents(request.user), reference=reference)
    form = forms.AttachForm(request.POST, request.FILES)
    back = reverse("incident", args=[incident.reference]) + "#attachments"
    if not form.is_valid():
        messages.error(request, _("Choose a photo or a file to attach."))
        return redirect(back)
    try:
        attached = services.attach(incident, by=request.user, prepared=services.prepare_all(form.cleaned_data["files"]))
    except RecoveryError as error:
        messages.error(request, error.message)
        return redirect(back)
    messages.success(request, ngettext("%(count)d file attached.", "%(count)d files attached.", len(attached))
                     % {"count": len(attached)})
    return redirect(back)


@login_required
@require_POST
def remove(request, pk):
    """"Remove" under a photo or file on the incident page: gone at once, or a message saying who may."""
    attachment = _readable(request.user, pk)
    back = reverse("incident", args=[attachment.incident.reference]) + "#attachments"
    try:
        services.remove(attachment, by=request.user)
    except RecoveryError as error:
        messages.error(request, error.message)
        return redirect(back)
    messages.success(request, _("%(name)s removed.") % {"name": attachment.original_name})
    return redirect(back)


def _readable(user, pk):
    """The attachment, with its incident, if `user` may read that incident; otherwise not found."""
    return get_object_or_404(Attachment.objects.filter(incident__in=visible_incidents(user)).select_related("incident"), pk=pk)


@login_required
def download(request, pk):
    return serve(_readable(request.user, pk))


@login_required
def thumbnail(request, pk):
    attachment = _readable(request.user, pk)
    if not attachment.thumbnail:
        raise Http404("No thumbnail.")
    return serve(attachment, thumbnail=True)


def serve(attachment, *, thumbnail=False):
    """The stored file (or its thumbnail), to be kept in the reader's own cache only."""
    name = attachment.thumbnail if thumbnail else attachment.file
    try:
        stored = attachment_storage().open(name, "rb")
    except FileNotFoundError:  # a storage restored without it
        raise Http404("The file is missing.") from None
    response = FileResponse(stored, content_type="image/jpeg" if thumbnail else attachment.content_type,
                            as_attachment=attachment.kind == Attachment.Kind.PDF and not thumbnail,
                            filename=attachment.original_name)
    response["Cache-Control"] = "private, max-age=3600"
    return response
