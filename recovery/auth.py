"""Log-in throttling: after repeated failures for one username (or from one address), further attempts
are refused for a while, with a message that says so. Counters live in the cache, which is Redis
(shared by every web process) when REDIS_URL is set.

While that cache is unreachable, each web process counts failures in its own memory instead. Staff
must still be able to sign in and log incidents, so refusing every sign-in is no answer; ignoring
failures would give a guesser unlimited tries for as long as the outage lasts. Counting per process
keeps a lockout (at most MAX_FAILURES tries per process in the window) with nothing new to run or
migrate, which is all this needs until the sign-in throttling moves to django-axes. Counts made
during an outage are not carried over to Redis, nor back."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache.backends.locmem import LocMemCache

from recovery import shared_cache

MAX_FAILURES = getattr(settings, "LOGIN_MAX_FAILURES", 5)
LOCKOUT_SECONDS = getattr(settings, "LOGIN_LOCKOUT_SECONDS", 15 * 60)


def _keys(username, address):
    return [f"login-failures:user:{(username or '').strip().lower()}", f"login-failures:ip:{address}"]


_this_process = LocMemCache("login-failures-while-the-cache-is-away", {"OPTIONS": {"MAX_ENTRIES": 10_000}})


def _counting(operation):
    """`operation(counters)` on the default cache, or on this process's memory while it is away."""
    return shared_cache.use("default", operation, lambda: operation(_this_process),
                            consequence="sign-in failures are counted by each web process on its own")


def is_locked_out(username, address):
    keys = _keys(username, address)
    return _counting(lambda counters: any((counters.get(key) or 0) >= MAX_FAILURES for key in keys))


def _note_failure(counters, keys):
    for key in keys:
        counters.add(key, 0, LOCKOUT_SECONDS)  # the window starts at the first failure
        try:
            counters.incr(key)
        except ValueError:  # expired between add and incr
            counters.set(key, 1, LOCKOUT_SECONDS)


def note_failure(username, address):
    keys = _keys(username, address)
    _counting(lambda counters: _note_failure(counters, keys))


def clear_failures(username, address):
    keys = _keys(username, address)
    _counting(lambda counters: counters.delete_many(keys))


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
