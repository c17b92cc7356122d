"""Middleware of our own: response headers Django does not set itself, and requests no view should see."""

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils import translation
from django.utils.translation import gettext

from helpdesk.errors import PROBLEM_CONTENT_TYPE, error_body
from recovery import languages


def security_headers(get_response):
    def middleware(request):
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        return response

    return middleware


def refuse_null_characters(get_response):
    """400 for a NUL character in the address, the query string or a posted form.

    PostgreSQL refuses NUL in text, so a lookup with one failed with a server error wherever the
    value reached a query (a reference in the address, a search, an admin filter). No one types a
    NUL; refusing it here covers every door at once. JSON bodies are checked by the API's parser.
    """

    def middleware(request):
        if _has_null(request):
            if request.path_info.startswith("/api/"):
                body = error_body("bad_request", gettext("The request contains a NUL character (%00); remove it."), status=400)
                return JsonResponse(body, status=400, content_type=PROBLEM_CONTENT_TYPE)
            return HttpResponseBadRequest("The request contains a NUL character (%00); remove it.",
                                          content_type="text/plain; charset=utf-8")
        return get_response(request)

    return middleware


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _has_null(request):
    if "\x00" in request.path_info:
        return True
    if any("\x00" in text for key, values in request.GET.lists() for text in (key, *values)):
        return True
    if request.method == "POST" and request.content_type in FORM_TYPES:
        return any("\x00" in text for key, values in request.POST.lists() for text in (key, *values))
    return False


def person_language(get_response):
    """The signed-in person's own language (their profile) over the browser's, which LocaleMiddleware
    has already chosen. A code the app no longer has is ignored, so the page stays in that choice."""

    def middleware(request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            chosen = languages.supported(getattr(user, "language", ""))
            if chosen and chosen != request.LANGUAGE_CODE:
                translation.activate(chosen)
                request.LANGUAGE_CODE = chosen
        return get_response(request)

    return middleware
