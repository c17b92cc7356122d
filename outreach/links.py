"""Signed links in messages to the customer, opened without signing in.

The unsubscribe link names the customer and is signed with the app's SECRET_KEY (and a salt of
its own, so no other signed value of the app can stand in for it). It does not expire: an
unsubscribe link in an old email must still work."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

UNSUBSCRIBE_SALT = "outreach.unsubscribe"


def unsubscribe_token(customer):
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"customer": customer.pk}, compress=False)


def unsubscribe_url(customer):
    return settings.SITE_URL.rstrip("/") + reverse("outreach:unsubscribe", args=[unsubscribe_token(customer)])


def customer_id_from_unsubscribe_token(token):
    """The customer's id a token names, or None for a forged, altered or malformed token."""
    try:
        value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        return None
    customer_id = value.get("customer") if isinstance(value, dict) else None
    return customer_id if isinstance(customer_id, int) else None
