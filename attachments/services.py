"""Attaching photos and files to an incident: from the Log a failure form, any step, the incident page and
the API, every door through `attach` (or `with_attachments`, for a door that saves something else with them).

Every file is checked and re-encoded before the first write, so a refused file saves nothing: not the
incident being logged, not the step, not the other files. The check reads the content, not the name: a
photo is what Pillow can open as JPEG, PNG or WebP, a receipt is a PDF. A photo is stored re-encoded
from its pixels, turned upright first: the EXIF block (with the phone's GPS position, its serial
number, the moment) and any XMP are not carried over. A PDF is stored as sent.
"""

import io
import uuid
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from incidents.events import record_event
from incidents.models import EventKind
from incidents.services import NotAllowed, RecoveryError, log_incident_once

from .models import Attachment, attachment_storage

FIELD = "files"
# Pillow's format name -> (what is stored, its extension). An iPhone's JPEG opens as MPO (its depth map
# is a second frame); the first frame is kept, as a JPEG.
PHOTO_FORMATS = {"JPEG": ("JPEG", ".jpg"), "MPO": ("JPEG", ".jpg"), "PNG": ("PNG", ".png"), "WEBP": ("WEBP", ".webp")}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
THUMBNAIL_SIZE = (320, 320)
# A phone's largest sensor is 200 megapixels; a file claiming more is a decompression bomb.
MAX_PIXELS = 200_000_000
ORIGINAL_NAME_LENGTH = 150


@dataclass
class Prepared:
    """One file checked and ready to store: the bytes to keep and, for a photo, its thumbnail."""

    original_name: str
    kind: str
    content_type: str
    extension: str
    data: bytes
    thumbnail: bytes = b""
    width: int | None = None
    height: int | None = None


def refused(message, field=FIELD):
    return RecoveryError(message, field_errors={field: [message]})


def megabytes(size_bytes):
    return f"{size_bytes / (1024 * 1024):.1f} MB"


def prepare(upload, *, field=FIELD):
    """Check one uploaded file and make what is stored. RecoveryError naming the file when refused
    (with the error on `field`, the name of the door's file field)."""
    name = shown_name(upload.name)
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise refused(_("“%(name)s” is %(size)s; a file can be at most %(limit)s.") % {
            "name": name, "size": megabytes(upload.size), "limit": megabytes(settings.ATTACHMENT_MAX_BYTES)}, field)
    if upload.size == 0:
        raise refused(_("“%(name)s” is empty.") % {"name": name}, field)
    upload.seek(0)
    if upload.read(5) == b"%PDF-":
        upload.seek(0)
        return Prepared(original_name=name, kind=Attachment.Kind.PDF, content_type="application/pdf", extension=".pdf",
                        data=upload.read())
    upload.seek(0)
    try:
        return _prepare_photo(upload, name)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        # Not an image Pillow reads, or a broken or truncated one.
        pass
    raise refused(_("“%(name)s” is not a photo or a PDF: attach a JPEG, PNG or WebP photo, or a PDF receipt.")
                  % {"name": name}, field)


def _prepare_photo(upload, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(upload)
        if image.format not in PHOTO_FORMATS:
            raise UnidentifiedImageError(image.format)
        if image.width * image.height > MAX_PIXELS:
            raise Image.DecompressionBombError(name)
        stored_format, extension = PHOTO_FORMATS[image.format]
        image.load()
    upright = ImageOps.exif_transpose(image)  # the phone's "rotate me" tag is applied, then dropped
    icc_profile = image.info.get("icc_profile")
    # Nothing of the original's metadata is carried over: the encoders read EXIF and XMP from `info`.
    upright.info = {}
    if stored_format == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")  # a CMYK scan, say: its colour profile no longer applies
        icc_profile = None
    options = {"icc_profile": icc_profile} if icc_profile else {}
    if stored_format in ("JPEG", "WEBP"):
        options["quality"] = 88
    data = io.BytesIO()
    upright.save(data, stored_format, **options)
    return Prepared(original_name=name, kind=Attachment.Kind.PHOTO, content_type=CONTENT_TYPES[stored_format],
                    extension=extension, data=data.getvalue(), thumbnail=_thumbnail(upright),
                    width=upright.width, height=upright.height)


def _thumbnail(image):
    small = image.copy()
    small.thumbnail(THUMBNAIL_SIZE)
    if small.mode in ("RGBA", "LA", "P"):
        small = small.convert("RGBA")
        background = Image.new("RGB", small.size, "white")
        background.paste(small, mask=small.getchannel("A"))
        small = background
    elif small.mode != "RGB":
        small = small.convert("RGB")
    data = io.BytesIO()
    small.save(data, "JPEG", quality=80)
    return data.getvalue()


def shown_name(name):
    """The file's name as the phone sent it, without any folder, fit for one line of the page."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name or _("file"))[:ORIGINAL_NAME_LENGTH]


def prepare_all(uploads, *, field=FIELD):
    """Check every file before anything is written. The first refused one raises."""
    uploads = list(uploads or [])
    if len(uploads) > settings.ATTACHMENTS_MAX_FILES:
        raise refused(_("Attach at most %(count)d files at a time.") % {"count": settings.ATTACHMENTS_MAX_FILES}, field)
    return [prepare(upload, field=field) for upload in uploads]


def may_attach(user, incident):
    """Whoever may read the incident may add a photo of the failure: the doors find the incident through
    the same rule as reading it; this keeps any door from attaching across organizations."""
    return user.is_authenticated and user.organization_id == incident.organization_id


@transaction.atomic
def attach(incident, *, by, prepared, step="", now=None, field=FIELD):
    """Store checked files (`prepare_all`) on the incident, with one timeline entry. Returns the attachments."""
    if not prepared:
        return []
    if not may_attach(by, incident):
        raise NotAllowed(_("You can only attach files to your own organization's incidents."))
    now = now or timezone.now()
    # One upload at a time per incident, so two at once cannot both pass the count.
    type(incident).objects.select_for_update().filter(pk=incident.pk).first()
    already = Attachment.objects.filter(incident=incident).count()
    if already + len(prepared) > settings.ATTACHMENTS_PER_INCIDENT:
        raise refused(_("An incident can have at most %(limit)d photos and files; this one has %(count)d.") % {
            "limit": settings.ATTACHMENTS_PER_INCIDENT, "count": already}, field)
    storage = attachment_storage()
    stored = []
    try:
        attachments = []
        for item in prepared:
            base = f"{incident.organization_id}/{incident.pk}/{uuid.uuid4().hex}"
            name = storage.save(base + item.extension, ContentFile(item.data))
            stored.append(name)
            thumbnail = ""
            if item.thumbnail:
                thumbnail = storage.save(base + "-thumbnail.jpg", ContentFile(item.thumbnail))
                stored.append(thumbnail)
            attachments.append(Attachment(
                incident=incident, kind=item.kind, step=step, file=name, thumbnail=thumbnail,
                content_type=item.content_type, size_bytes=len(item.data), width=item.width, height=item.height,
                original_name=item.original_name, uploaded_by=by, uploaded_at=now))
        Attachment.objects.bulk_create(attachments)
        names = ", ".join(item.original_name for item in prepared)
        record_event(incident, EventKind.ATTACHED, f"Attached: {names}", at=now, actor=by,
                     after={"files": [item.original_name for item in prepared]})
    except BaseException:
        # The rows roll back with the transaction; the files written so far go too.
        _delete_files(stored)
        raise
    # Should the caller's transaction roll back later, the files stay behind unreferenced; that is the
    # price of writing them before the rows that name them (never the other way round).
    return attachments


def with_attachments(save, *, incident=None, by, uploads, step=""):
    """`save()` (a step, the logging of an incident) and the files with it, all or nothing.

    `save()` returns what it saved; `incident` is that incident, or a function of what `save()` returned.
    """
    prepared = prepare_all(uploads)
    with transaction.atomic():
        result = save()
        target = incident(result) if callable(incident) else incident
        if target is not None:
            attach(target, by=by, prepared=prepared, step=step)
    return result


def log_with_attachments(*, uploads, logged_by, **values):
    """Log a failure from the page (`log_incident_once`) with its photos: a refused file logs nothing.
    A repeat of the same form (a double click) finds the first incident and attaches nothing again."""
    return with_attachments(
        lambda: log_incident_once(logged_by=logged_by, **values),
        incident=lambda result: result[0] if result[1] else None,
        by=logged_by, uploads=uploads, step="logging",
    )


def may_remove(user, attachment):
    """Whoever attached it, or a manager or admin of the organization, may take a photo or file off its
    incident (the wrong photo, another customer's receipt). `attachment.incident` is read for the rule."""
    return (user.is_authenticated and user.organization_id == attachment.incident.organization_id
            and (attachment.uploaded_by_id == user.pk or user.is_manager))


@transaction.atomic
def remove(attachment, *, by, now=None):
    """Take one photo or file off its incident: the row now, with a timeline entry naming it, and the
    stored file and thumbnail once that commits (a rollback leaves the file where the row points)."""
    if not may_remove(by, attachment):
        raise NotAllowed(_("Only whoever attached it, or a manager, can remove a photo or file."))
    now = now or timezone.now()
    names = [name for name in (attachment.file, attachment.thumbnail) if name]
    incident, original_name = attachment.incident, attachment.original_name
    attachment.delete()
    record_event(incident, EventKind.DETACHED, f"Removed: {original_name}", at=now, actor=by,
                 before={"files": [original_name]})
    transaction.on_commit(lambda: _delete_files(names))


def export_attachments(incidents):
    """Registered with `incidents.customer_data.also_export`: what the customer's data export says of the
    incidents' photos and files (what each is and when it was added; the files stay behind the pages)."""
    held = {}
    for attachment in Attachment.objects.filter(incident__in=incidents).order_by("uploaded_at", "id"):
        held.setdefault(attachment.incident_id, []).append({
            "name": attachment.original_name, "kind": attachment.kind, "content_type": attachment.content_type,
            "size_bytes": attachment.size_bytes, "step": attachment.step,
            "uploaded_at": attachment.uploaded_at.isoformat(),
        })
    return "attachments", held


def redact_attachments(incidents):
    """Registered with `incidents.customer_data.also_redact`: an anonymized customer's photos and receipts
    go, rows and files (a photo of a receipt shows a name, a card, a face). The files are deleted once
    the anonymizing commits, so a rollback leaves nothing pointing at a missing file."""
    attachments = Attachment.objects.filter(incident__in=incidents)
    names = [name for pair in attachments.values_list("file", "thumbnail") for name in pair if name]
    attachments.delete()
    transaction.on_commit(lambda: _delete_files(names))


def _delete_files(names):
    storage = attachment_storage()
    for name in names:
        storage.delete(name)
