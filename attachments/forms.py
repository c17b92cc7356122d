"""The "Photos or files" field, added to the Log a failure form, each step's form and the incident page's
own form. It only collects the files; `services.prepare_all` decides which are kept."""

from django import forms
from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

FIELD = "files"
ACCEPT = "image/*,application/pdf"


class PhotoOrFileInput(forms.FileInput):
    """Several files at once, and on a phone a second button that opens the camera straight away
    (`capture`); the first one offers the gallery, the camera and the phone's files."""

    allow_multiple_selected = True
    template_name = "attachments/widgets/photo_or_file.html"

    def __init__(self, attrs=None):
        super().__init__({"accept": ACCEPT, "data-max-bytes": settings.ATTACHMENT_MAX_BYTES, **(attrs or {})})


class PhotosOrFilesField(forms.FileField):
    widget = PhotoOrFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Photos or files"))
        # Formatted when shown, in the reader's language: a field is made once, when its form class is.
        kwargs.setdefault("help_text", lazy(lambda: gettext("Photos (JPEG, PNG, WebP) or a PDF receipt, up to %(size)d MB each.")
                                            % {"size": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)}, str)())
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(PhotosOrFilesField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []

    def bound_data(self, data, initial):
        return None  # a browser cannot refill a file input: a page shown again asks for the files again


def add_files_field(form):
    """Give `form` (a page's form, bound with request.FILES) the field; returns the form."""
    form.fields[FIELD] = PhotosOrFilesField()
    return form


class AttachForm(forms.Form):
    """The incident page's "Add a photo or file"."""

    files = PhotosOrFilesField(required=True, label=_("Add a photo or file"))
