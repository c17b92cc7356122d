"""Signing in: django-axes counts failures in the database (its AccessAttempt rows), so Redis being
away changes nothing here. The settings next to AXES_* in settings.py say what is counted; this module
holds the few pieces axes leaves to the project:

- where a request comes from (`client_address`): REMOTE_ADDR, or the entry our own proxies wrote;
- the normalised username, so "Fran" and "fran " are one name to the counter;
- the backoff: each failure after a lockout doubles the next one (`lockout_for`);
- the slower ceiling per address, for spraying passwords over many names (`SignInAttempts`);
- the locked-out page, in the product's look;
- counting, and checking, sign-ins that do not go through a password form (two-factor codes, single
  sign-on answers, password-reset links): `count_failed_sign_in`, `is_locked_out`.
"""

import datetime
import ipaddress
import math

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt, AccessLog
from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.forms import PasswordResetForm
from django.db.models import Max, Sum
from django.shortcuts import render
from django.urls import reverse_lazy

from recovery import shared_cache


def client_address(request):
    """REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT proxies, the address the outermost of them saw.

    Each proxy appends the address it received the request from to X-Forwarded-For, so the entry
    TRUSTED_PROXY_COUNT from the right was written by our outermost proxy; everything left of it is
    whatever the client sent, and is never read. A header with fewer entries did not come through
    all our proxies, and a value that is not an address is not trusted either: both count as
    REMOTE_ADDR."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    if len(forwarded) < count:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-count]))
    except ValueError:
        return remote


def client_username(request, credentials=None):
    """The name tried, as the counter keys it: case and surrounding spaces do not make a new name."""
    if credentials is not None:
        username = credentials.get("username")
    else:
        posted = getattr(request, "data", request.POST)
        username = posted.get("login") or posted.get("username")  # the app's form names it "login"
    return (username or "").strip().lower() or None


def cool_off(request=None):
    """How long axes keeps a name's failures from an address: the longest lockout. Whether the name is
    locked now is `SignInAttempts.lockout_ends`, from the failures and the last one's time."""
    return datetime.timedelta(hours=settings.SIGN_IN_LONGEST_LOCKOUT_HOURS)


def lockout_for(failures):
    """Backoff: the fifth failure pauses a name at an address for the cool-off (15 minutes); once that
    is over, every further failure pauses it for twice as long as the last time, up to a day. Tries
    while paused are not counted, so a typo after a pause costs 30 minutes, not hours."""
    beyond = max(failures - settings.AXES_FAILURE_LIMIT, 0)
    return min(datetime.timedelta(minutes=settings.SIGN_IN_COOL_OFF_MINUTES) * 2 ** min(beyond, 16),
               datetime.timedelta(hours=settings.SIGN_IN_LONGEST_LOCKOUT_HOURS))


class SignInAttempts(AxesDatabaseHandler):
    """Axes' database handler, plus a ceiling per address over all names.

    Axes locks a username tried from one address (AXES_LOCKOUT_PARAMETERS) after AXES_FAILURE_LIMIT
    failures, and has only that one limit: listing ["ip_address"] as well would lock a whole shop,
    which shares one address, after a few typos. So the ceiling for spraying is counted here, from the
    same rows: the failures from this address over every name within the cool-off. Nobody's own
    successful sign-in clears other names' rows, so an attacker signing in to their own account does
    not reset it. A person who signed in from this address within SIGN_IN_KNOWN_ADDRESS_DAYS is not
    held by it: a stranger spraying from the shop's address does not lock out the staff who work there.
    """

    def is_locked(self, request, credentials=None):
        return self.lockout_ends(request, credentials) is not None

    def lockout_ends(self, request, credentials=None):
        """When this name at this address, or this address over all names, may try again; None if now."""
        now = request.axes_attempt_time
        ends = []
        for attempts in self.get_user_attempts(request, credentials):  # one per AXES_LOCKOUT_PARAMETERS entry
            row = attempts.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            failures = row["failures"] or 0
            if failures >= settings.AXES_FAILURE_LIMIT and row["last"] + lockout_for(failures) > now:
                ends.append(row["last"] + lockout_for(failures))
        if self.address_over_ceiling(request, credentials):
            ends.append(now + datetime.timedelta(minutes=settings.SIGN_IN_COOL_OFF_MINUTES))
        return max(ends, default=None)

    def address_over_ceiling(self, request, credentials=None):
        since = request.axes_attempt_time - datetime.timedelta(minutes=settings.SIGN_IN_COOL_OFF_MINUTES)
        failures = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address, attempt_time__gt=since
        ).aggregate(total=Sum("failures_since_start"))["total"] or 0
        if failures < settings.SIGN_IN_ADDRESS_FAILURE_LIMIT:
            return False
        known_since = request.axes_attempt_time - datetime.timedelta(days=settings.SIGN_IN_KNOWN_ADDRESS_DAYS)
        username = client_username(request, credentials)
        return not (username and AccessLog.objects.filter(
            username__iexact=username, ip_address=request.axes_ip_address, attempt_time__gt=known_since
        ).exists())


def locked_out(request, original_response=None, credentials=None):
    """The page for a refused sign-in: how long to wait and what else to do, and nothing about whether
    the name exists (the counts are the same for a made-up one)."""
    ends = SignInAttempts().lockout_ends(request, credentials)
    wait = (ends - request.axes_attempt_time) if ends else datetime.timedelta(minutes=settings.SIGN_IN_COOL_OFF_MINUTES)
    return render(request, "registration/locked_out.html", {"minutes": math.ceil(wait.total_seconds() / 60)},
                  status=429)


# --- Password reset ------------------------------------------------------------------------------
# Django's own views and form: the form sends nothing to an unknown address, an inactive person, or
# someone without a usable password (an API client's user, an invited person who has not chosen one
# yet: their way in is the invitation), and the page after it reads the same whatever happened.
# Requests are counted in the shared cache per client address and per email address; while that cache
# is away the requests are not limited (`shared_cache`), which costs at most some extra emails.


def _over_hourly_limit(key):
    requests = shared_cache.count("default", key, 60 * 60, consequence="password reset requests are not limited")
    return requests > settings.PASSWORD_RESET_REQUESTS_PER_HOUR


class ThrottledPasswordResetForm(PasswordResetForm):
    error_messages = {"too_many": "Too many reset requests from here. Please wait an hour and try again, or ask "
                                  "your manager."}

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self):
        cleaned = super().clean()
        if _over_hourly_limit(f"password-reset:address:{client_address(self.request)}"):
            raise forms.ValidationError(self.error_messages["too_many"], code="too_many")
        return cleaned

    def get_users(self, email):
        # A few emails an hour to one address at most: a stranger cannot flood someone's inbox, and
        # whether anything was sent stays invisible, as for an unknown address.
        if _over_hourly_limit(f"password-reset:email:{email.strip().lower()}"):
            return iter(())
        return super().get_users(email)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ThrottledPasswordResetForm
    success_url = reverse_lazy("password_reset_done")
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    @property
    def extra_email_context(self):
        # The link in the email is on SITE_URL, never on whatever Host the request named.
        return {"site_url": settings.SITE_URL.rstrip("/")}


def count_failed_sign_in(request, username):
    """A refused sign-in that did not go through a password form (a wrong two-factor code, an identity
    provider's answer that does not check out), counted by the same throttle as a wrong password."""
    user_login_failed.send(sender=__name__, credentials={"username": username or ""}, request=request)


def is_locked_out(request, username):
    """Whether this name at this address (or the address over all names) must wait, for a sign-in that
    does not go through authenticate()."""
    return AxesProxyHandler.is_locked(request, {"username": username or ""})


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choosing a password from an emailed link. A used, expired or made-up link counts as a failed
    sign-in from this address, so links cannot be guessed at leisure; past the address's ceiling the
    page waits like the sign-in does."""

    success_url = reverse_lazy("password_reset_complete")

    def dispatch(self, *args, **kwargs):
        if is_locked_out(self.request, ""):
            return locked_out(self.request, credentials={"username": ""})
        answer = super().dispatch(*args, **kwargs)
        if not self.validlink and answer.status_code == 200:  # a good link first redirects, then is valid
            count_failed_sign_in(self.request, "")
        return answer
