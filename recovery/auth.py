"""Log-in throttling: after repeated failures for one username (or from one address), further attempts
are refused for a while, with a message that says so. Counters live in the cache, which is Redis
(shared by every web process) when REDIS_URL is set."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

MAX_FAILURES = getattr(settings, "LOGIN_MAX_FAILURES", 5)
LOCKOUT_SECONDS = getattr(settings, "LOGIN_LOCKOUT_SECONDS", 15 * 60)


def _keys(username, address):
    return [f"login-failures:user:{(username or '').strip().lower()}", f"login-failures:ip:{address}"]


def is_locked_out(username, address):
    return any((cache.get(key) or 0) >= MAX_FAILURES for key in _keys(username, address))


def note_failure(username, address):
    for key in _keys(username, address):
        cache.add(key, 0, LOCKOUT_SECONDS)  # the window starts at the first failure
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, LOCKOUT_SECONDS)


def clear_failures(username, address):
    cache.delete_many(_keys(username, address))


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked_out": "Too many failed attempts. Please wait 15 minutes and try again, or ask a manager to reset "
        "your password.",
    }

    def clean(self):
        username = self.data.get("username", "")
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        if is_locked_out(username, address):
            raise forms.ValidationError(self.error_messages["locked_out"], code="locked_out")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            note_failure(username, address)
            raise
        clear_failures(username, address)
        return cleaned
