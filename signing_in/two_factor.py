"""Two-factor: each person may turn on an authenticator app (TOTP, with recovery codes) on their
account page; allauth asks for a code at every sign-in once it is on. An organization's admin can
require it of its managers and admins (Organization.two_factor_required), who see customers' data
across locations: until they have set it up, every page sends them to set it up.

A wrong or replayed code counts with the sign-in throttle like a wrong password (recovery.sign_in),
so codes cannot be guessed at leisure once the password is known."""

from allauth.mfa import signals
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.dispatch import receiver
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext

from recovery.sign_in import count_failed_sign_in

# Pages someone who must set up two-factor can still open: setting it up, and leaving.
OPEN_WHILE_REQUIRED = ("/accounts/2fa/", "/accounts/logout/", "/logout/", "/accounts/reauthenticate/", "/static/",
                       "/healthz")


def is_required_for(user):
    return bool(user.is_authenticated and user.organization_id and user.is_manager
                and user.organization.two_factor_required)


def require_two_factor(get_response):
    def middleware(request):
        if (not request.path.startswith(OPEN_WHILE_REQUIRED) and is_required_for(request.user)
                and not get_mfa_adapter().is_mfa_enabled(request.user, [Authenticator.Type.TOTP])):
            messages.warning(request, gettext("Your organization asks managers and admins to use two-factor sign-in. "
                                      "Set up an authenticator app to go on."))
            return redirect(reverse("mfa_activate_totp"))
        return get_response(request)
    return middleware


@receiver(signals.authentication_failed)
def count_wrong_code(sender, request, user, **kwargs):
    count_failed_sign_in(request, user.get_username())
