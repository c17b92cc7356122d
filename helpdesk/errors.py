"""One JSON shape for every error the API answers: {"type", "message", "errors"}.

`type` is a stable machine word, `message` is written for a person, `errors` maps field names to
lists of messages (empty when the error is not about a field). Domain errors raised by
`incidents.services` become HTTP answers here and nowhere else.
"""

from django import db
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from incidents import services


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The incident changed since you read it (If-Match does not match its ETag). Read it again."
    default_code = "precondition_failed"


class InvalidCursor(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The cursor is not one this API gave out. Start again from the first page."
    default_code = "invalid_cursor"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request body."
    default_code = "idempotency_key_reused"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class DatabaseUnavailable(exceptions.APIException):
    """The database is away (restarting, say). Nothing was written; retrying shortly is safe."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Recovery cannot reach its database just now. Nothing was saved; please retry shortly."
    default_code = "unavailable"
    wait = 5


class AlreadyExists(exceptions.APIException):
    """A second incident for a ticket this client already sent; `existing` points at the first."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"

    def __init__(self, message, *, existing=None, field_errors=None):
        super().__init__(message)
        self.existing = existing
        self.field_errors = field_errors or {}


# Domain errors, most specific first.
DOMAIN_STATUS = [
    (services.StepChanged, status.HTTP_409_CONFLICT),
    (services.StepOutOfOrder, status.HTTP_409_CONFLICT),
    (services.Conflict, status.HTTP_409_CONFLICT),
    (services.NotAllowed, status.HTTP_403_FORBIDDEN),
    (services.RecoveryError, status.HTTP_400_BAD_REQUEST),
]

DRF_TYPES = {
    exceptions.ParseError: "parse_error",
    exceptions.ValidationError: "validation_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def error_body(type_, message, errors=None, **extra):
    return {"type": type_, "message": message, "errors": errors or {}, **extra}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("No such incident, customer or resource here.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, services.RecoveryError):
        code = next(code for cls, code in DOMAIN_STATUS if isinstance(exc, cls))
        extra = {}
        if isinstance(exc, services.StepChanged):
            extra = {"current": exc.current, "version": exc.version}
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.field_errors, **extra), status=code)

    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        exc = DatabaseUnavailable()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django answers 500 and logs it

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(max(int(exc.wait + 0.999), 1))

    extra = {}
    if isinstance(exc, AlreadyExists) and exc.existing is not None:
        extra["existing"] = exc.existing
    type_ = DRF_TYPES.get(type(exc)) or getattr(exc, "default_code", None) or "error"
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        message = "Please check the details: " + "; ".join(
            f"{field}: {messages[0]}" for field, messages in errors.items()
        ) if errors else "The request is not valid."
    else:
        errors = getattr(exc, "field_errors", {}) or {}
        message = str(exc.detail)
    set_rollback()
    return Response(error_body(type_, message, errors, **extra), status=exc.status_code, headers=headers)


def _field_errors(detail, prefix=""):
    """DRF's nested error detail, flattened to {"customer.email": ["…"]}."""
    if isinstance(detail, dict):
        flat = {}
        for key, value in detail.items():
            name = "non_field_errors" if key == "non_field_errors" and not prefix else f"{prefix}{key}"
            if isinstance(value, dict):
                flat.update(_field_errors(value, prefix=f"{name}."))
            else:
                flat[name] = [str(item) for item in (value if isinstance(value, list) else [value])]
        return flat
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {"non_field_errors": [str(detail)]}
