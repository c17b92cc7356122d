"""Single sign-on, the rules: which organization's identity provider an email goes to, and who a
verified answer from that provider signs in. The flow around them is allauth's (signing_in.adapters
calls these); setting a provider up is organization_settings.services.save_single_sign_on.

A sign-in through an organization's provider signs in a member of that organization's staff, found
by the verified email the provider vouches for (or by the provider's account already linked to them),
and nobody else: never an account in another organization, never a new account, never a deactivated
one."""

from django.db.models.functions import Lower
from django.utils.translation import gettext

from incidents.models import User
from signing_in.models import SingleSignOn


class Refused(Exception):
    """The provider's answer does not sign anybody in; the message is for the person at the browser."""


def email_domain(email):
    return email.rpartition("@")[2].strip().lower()


def for_email(email):
    return (SingleSignOn.objects.select_related("app", "organization")
            .filter(email_domain=email_domain(email), active=True).first())


def for_app(app):
    sign_on = SingleSignOn.objects.select_related("organization").filter(app=app).first() if app.pk else None
    if sign_on is None or not sign_on.active:
        raise Refused(gettext("Single sign-on is switched off for this organization. Sign in with your username and password."))
    return sign_on


def check_identity(claims, userinfo, nonce_sent):
    """The ID token answers this sign-in (its nonce), and the user information is about the same person."""
    if not nonce_sent or claims.get("nonce") != nonce_sent:
        raise Refused(gettext("The identity provider's answer did not belong to this sign-in. Please start again."))
    if userinfo and userinfo.get("sub") != claims.get("sub"):
        raise Refused(gettext("The identity provider's answer did not hold together. Please start again."))


def member_for(sign_on, *, linked_user, email, email_verified):
    """The member of staff this answer signs in, or Refused."""
    organization = sign_on.organization
    if linked_user is not None:
        member = linked_user
    else:
        if not email or not email_verified:
            raise Refused(gettext("Your identity provider did not confirm your email address, so we cannot tell who you "
                          "are here. Ask your IT team to verify it, or sign in with your username and password."))
        matches = list(User.objects.annotate(email_lower=Lower("email"))
                       .filter(organization=organization, email_lower=email.strip().lower())[:2])
        if len(matches) != 1:
            raise Refused(gettext("%(email)s is not on the staff of %(name)s in Recovery. Ask your manager to invite you.") % {"email": email, "name": organization.name})
        member = matches[0]
    if member.organization_id != organization.id:
        raise Refused(gettext("This account is not on the staff of %(name)s in Recovery.") % {"name": organization.name})
    if not member.is_active:
        raise Refused(gettext("Your account has been deactivated. Ask your manager if this is a mistake."))
    return member
