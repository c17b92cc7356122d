"""Structured logs: one JSON object per line, each carrying the id of the request that caused it.

A request id comes from the load balancer's X-Request-ID header when it sends one (so a request can be
followed across services), or is made here; it is echoed back on the response.
"""

import contextvars
import json
import logging
import re
import time
import uuid

request_id = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
access_log = logging.getLogger("recovery.requests")


def request_id_middleware(get_response):
    def middleware(request):
        incoming = request.headers.get("X-Request-ID", "")
        token = request_id.set(incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex)
        started = time.monotonic()
        try:
            response = get_response(request)
            response["X-Request-ID"] = request_id.get()
            access_log.info(
                "request",
                extra={"request_id": request_id.get(), "method": request.method, "path": request.path, "status": response.status_code,
                       "duration_ms": round((time.monotonic() - started) * 1000, 1),
                       "user": getattr(getattr(request, "user", None), "username", "") or "",
                       # An API token is named by its public prefix (set by helpdesk.authentication), never logged whole.
                       "token": getattr(request, "api_token_prefix", "")},
            )
            return response
        finally:
            request_id.reset(token)

    return middleware


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
