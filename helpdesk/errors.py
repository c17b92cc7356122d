"""One shape for every error the API answers: an RFC 9457 problem document (`application/problem+json`).

`type` is a stable URI naming the kind of problem (`/api/v1/problems/<code>`, listed in PROBLEMS and
in docs/api.md; the address answers with its description), `title` its short name, `status` the HTTP
status, `detail` what went wrong this time, for a person. Two members of our own: `code`, the last
part of `type` as a word, and `errors`, field names mapped to lists of messages (empty when the
problem is not about a field). `message` repeats `detail`, as the API answered before problem
documents. Domain errors raised by `incidents.services` become HTTP answers here and nowhere else.
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


PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_PATH = "/api/v1/problems/"

# Every kind of problem the API answers with: code -> (title, what it means for an integrator).
PROBLEMS = {
    "validation_error": ("Invalid input", "A field is missing or not valid; `errors` names each field."),
    "invalid": ("Breaks a rule of the recovery", "The request is well formed but a rule refused it; see `detail` and `errors`."),
    "parse_error": ("Not JSON", "The body is not a JSON document."),
    "bad_request": ("Bad request", "The request itself cannot be read (a NUL character, say)."),
    "invalid_cursor": ("Unknown cursor", "The cursor is not one this API gave out; start from the first page."),
    "not_authenticated": ("Not signed in", "No token, or a token that is unknown, expired or revoked."),
    "permission_denied": ("Not allowed", "The token may not do this (its scope, say)."),
    "not_allowed": ("Not allowed by the rules", "The rules of the recovery do not let this caller do this."),
    "not_found": ("Not found", "No such resource for this caller (another organization's is not found either)."),
    "method_not_allowed": ("Method not allowed", "This address does not take this HTTP method."),
    "not_acceptable": ("Not acceptable", "The API answers in JSON only."),
    "unsupported_media_type": ("Unsupported media type", "Send the body as application/json."),
    "conflict": ("Conflict", "The request clashes with what exists (a ticket already logged, say); see `existing`."),
    "out_of_order": ("Step out of order", "The method's steps go in order; `detail` says which comes first."),
    "step_changed": ("Edited meanwhile", "Someone saved this step since you read it; `current` and `version` show what is saved."),
    "precondition_failed": ("Changed since read", "If-Match does not match the current ETag; read again, then retry."),
    "payload_too_large": ("Body too large", "The request body is larger than the API takes."),
    "idempotency_key_reused": ("Idempotency-Key reused", "The key was used before with a different body."),
    "rate_limited": ("Too many requests", "Over the client's rate limit; retry after `Retry-After` seconds."),
    "unavailable": ("Unavailable", "The database is away for a moment; nothing was saved; retry shortly."),
    "error": ("Error", "Something else went wrong."),
}


def problem_type(code):
    return f"{PROBLEM_PATH}{code if code in PROBLEMS else 'error'}"


def error_body(code, message, errors=None, *, status=400, **extra):
    code = code if code in PROBLEMS else "error"
    return {"type": problem_type(code), "title": PROBLEMS[code][0], "status": status, "detail": message,
            "code": code, "message": message, "errors": errors or {}, **extra}


def problem_response(code, message, errors=None, *, status, headers=None, **extra):
    return Response(error_body(code, message, errors, status=status, **extra), status=status, headers=headers,
                    content_type=PROBLEM_CONTENT_TYPE)


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
        return problem_response(exc.code, exc.message, exc.field_errors, status=code, **extra)

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
    return problem_response(type_, message, errors, status=exc.status_code, headers=headers, **extra)


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
