"""allauth's hooks, kept thin: the rules they apply are in signing_in.single_sign_on and recovery.sign_in."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.shortcuts import render
from django.utils.translation import gettext, gettext_lazy

from recovery.sign_in import count_failed_sign_in
from signing_in import single_sign_on, two_factor


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return False  # people join by invitation, in Settings

    def is_reauthentication_required(self, *, app, **kwargs):
        """Changing two-factor or seeing recovery codes asks for the password (or a code) again, so nobody
        at an unattended, signed-in device can take them. Someone signed in through their organization's
        identity provider has neither here: asking would only lock them out of setting up two-factor."""
        user = getattr(self.request, "user", None)
        if user is not None and user.is_authenticated and not self.get_reauthentication_methods(user):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)


def refused(request, reason):
    return render(request, "signing_in/refused.html", {"reason": reason}, status=403)


class SingleSignOnAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin):
        return False

    def pre_social_login(self, request, sociallogin):
        """Decide who this answer signs in before allauth signs anyone in; refuse with a clear page."""
        addresses = sociallogin.email_addresses or []
        email = addresses[0].email if addresses else ""
        try:
            if sociallogin.state.get("process") != "login":
                raise single_sign_on.Refused(gettext("Single sign-on signs you in; it cannot be linked from here."))
            sign_on = single_sign_on.for_app(sociallogin.account.get_provider(request).app)
            extra = sociallogin.account.extra_data or {}
            single_sign_on.check_identity(extra.get("id_token") or {}, extra.get("userinfo"),
                                          sociallogin.state.get("nonce"))
            member = single_sign_on.member_for(
                sign_on, linked_user=sociallogin.user if sociallogin.is_existing else None,
                email=email, email_verified=bool(addresses and addresses[0].verified),
            )
        except single_sign_on.Refused as refusal:
            count_failed_sign_in(request, email)
            raise ImmediateHttpResponse(refused(request, str(refusal)))
        if not sociallogin.is_existing:
            sociallogin.connect(request, member)  # from now on the provider's account is this person's

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None):
        # A forged, expired or misaddressed answer, or the provider refusing: counted like a wrong password.
        count_failed_sign_in(request, "")


class TwoFactorAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": gettext_lazy("Your organization asks managers and admins to use two-factor sign-in, so it "
                                       "cannot be turned off."),
        "incorrect_code": gettext_lazy("That code is not right, or it was used already. Enter the code your app shows now."),
    }

    def can_delete_authenticator(self, authenticator):
        return not two_factor.is_required_for(authenticator.user)
