from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils.translation import gettext_lazy as _

from incidents.models import Incident


def attachment_storage():
    """The "attachments" storage (settings.STORAGES): local files under var/, or an S3 bucket in production.
    A callable, so the storage is chosen by the settings in force, not when this module is imported."""
    return storages["attachments"]


class Attachment(models.Model):
    """A photo or a PDF attached to an incident. The stored file is what Recovery re-encoded (no EXIF, no
    GPS), never the bytes the phone sent; the thumbnail is made at upload."""

    class Kind(models.TextChoices):
        PHOTO = "photo", _("Photo")
        PDF = "pdf", _("PDF")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="attachments", db_index=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Where it was attached: "logging", a step's name, or blank (the incident page, the API).
    step = models.CharField(max_length=20, blank=True)
    # Names in the "attachments" storage, read through `attachment_storage()` (not a FileField, whose
    # storage would be fixed when the model is imported).
    file = models.CharField(max_length=200)
    thumbnail = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    size_bytes = models.PositiveIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # What the phone called it, shown on the incident; never part of the stored file's name.
    original_name = models.CharField(max_length=150)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["uploaded_at", "id"]
        indexes = [models.Index(fields=["incident", "uploaded_at"], name="attachment_incident_at")]

    def __str__(self):
        return self.original_name
