"""Safe retries: a POST with an `Idempotency-Key` header is carried out once per key and caller.

The key row is inserted first, in the same transaction as the work. A concurrent repeat's INSERT
waits on the unique constraint until the first transaction commits, then fails, and the repeat
answers with the stored first answer; if the first rolled back (a 5xx), the repeat does the work.
"""

import hashlib
import json

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from incidents.validators import one_line

from .errors import IdempotencyKeyReused
from .models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Location", "ETag")


def request_hash(request):
    """Method, path and the parsed body: a repeat that only reorders JSON keys is the same request."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=_text_of)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _text_of(value):
    """A file in a multipart body counts by its content, not its name."""
    if isinstance(value, UploadedFile):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return digest.hexdigest()
    return str(value)


def once(request, produce):
    """Answer `request` with `produce()` (a Response, errors included) at most once per key."""
    key = request.headers.get(HEADER)
    if not key:
        with transaction.atomic():
            response = produce()
            if response.status_code >= 400:
                transaction.set_rollback(True)  # nothing half-written stays
        return response
    from rest_framework.exceptions import ValidationError

    if len(key) > 255 or one_line(key) != key:
        # The key is stored: a NUL in it is refused by PostgreSQL, a control character is a mistake.
        raise ValidationError({HEADER: ["At most 255 characters, printable, without spaces at either end."]})
    digest = request_hash(request)
    inserted = False
    try:
        with transaction.atomic():
            # First statement of the transaction, with no savepoint: a concurrent repeat waits here
            # until the first commits, then fails on the unique constraint and replays its answer.
            record = IdempotencyKey.objects.create(
                user=request.user, key=key, request_hash=digest, status_code=0, created_at=timezone.now()
            )
            inserted = True
            response = produce()
            if response.status_code < 400:
                _keep(record, response)
                return response
            # An error: whatever the request half-wrote is rolled back, key included ...
            transaction.set_rollback(True)
    except IntegrityError:
        if inserted:
            raise
        return _replay(request.user, key, digest)
    if response.status_code < 500:
        # ... and the error answer is kept on its own, so a repeat gets the same answer.
        try:
            with transaction.atomic():
                _keep(IdempotencyKey(user=request.user, key=key, request_hash=digest, created_at=timezone.now()), response)
        except IntegrityError:
            pass  # a concurrent repeat kept its answer first
    return response


def _keep(record, response):
    record.status_code = response.status_code
    rendered = JSONRenderer().render(response.data) or b"null"
    # PostgreSQL's jsonb refuses \u0000: should an answer ever echo one, keep it as U+FFFD.
    record.response_body = json.loads(rendered.replace(b"\\u0000", b"\\ufffd"))
    record.response_headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    if response.content_type:  # a problem document's application/problem+json
        record.response_headers["Content-Type"] = response.content_type
    record.save()


def _replay(user, key, digest):
    record = IdempotencyKey.objects.get(user=user, key=key)
    if record.request_hash != digest:
        raise IdempotencyKeyReused()
    headers = dict(record.response_headers)
    content_type = headers.pop("Content-Type", None)
    response = Response(record.response_body, status=record.status_code, headers=headers, content_type=content_type)
    response[REPLAYED_HEADER] = "true"
    return response


def prune(*, now=None):
    """Forget keys older than IDEMPOTENCY_KEY_TTL (24 hours by default). Returns how many."""
    now = now or timezone.now()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=now - settings.IDEMPOTENCY_KEY_TTL).delete()
    return deleted
