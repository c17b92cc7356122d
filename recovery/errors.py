"""The page for a server error. A database that is away for a moment (a restart, a failover) is
not a bug: say so with 503 and a retry hint instead of a bare 500."""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.views.defaults import server_error as django_server_error


def server_error(request):
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        # Rendered without the request: its context processors would ask the database again.
        return HttpResponse(render_to_string("503.html"), status=503, headers={"Retry-After": "5"})
    return django_server_error(request)
