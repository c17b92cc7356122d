"""API tokens as secrets: made here, shown once, kept only as their SHA-256, and retired by expiry,
rotation or revocation. Every door (the Settings page, the management commands, the admin) goes through
these functions; authentication asks `refusal` whether a token still opens the door.

A token reads `rcv_1a2b3c4d_<secret>`: `rcv_` says what it is (a secret scanner can look for it), the
eight characters after it are a public id that names the token in logs and on the Settings page, and the
secret is 256 random bits. Tokens from before this scheme (40 hex characters, no prefix) keep working:
their hash was copied when they moved here (migration 0002), and their first eight characters name them.
"""

import datetime
import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from incidents.services import RecoveryError

from .models import ApiToken

PREFIX = "rcv_"
# How long a rotated token keeps working beside its successor, unless the caller says otherwise: a day is
# enough to roll the new one out to every machine of an integration.
DEFAULT_OVERLAP = datetime.timedelta(hours=24)
LONGEST_OVERLAP = datetime.timedelta(days=30)


def hash_of(key):
    """The SHA-256 (hex) under which a token is kept and looked up."""
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key):
    """The public part of a token, safe to log: `rcv_` and its id, or a legacy token's first 8 characters."""
    if key.startswith(PREFIX):
        return key[: len(PREFIX) + 8]
    return key[:8]


def issue(client, *, scope=ApiToken.Scope.WRITE, expires_at=None, now=None):
    """A new token for `client`. Returns (ApiToken, token): the token is not kept, so show it now."""
    now = now or timezone.now()
    if scope not in ApiToken.Scope.values:
        raise RecoveryError("Unknown scope.", field_errors={"scope": [f"Choose one of: {', '.join(ApiToken.Scope.values)}."]})
    if expires_at is not None and expires_at <= now:
        raise RecoveryError("A token cannot expire in the past.", field_errors={"expires_at": ["Choose a later time."]})
    key = f"{PREFIX}{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        client=client, prefix=prefix_of(key), key_hash=hash_of(key), scope=scope, expires_at=expires_at
    )
    return token, key


@transaction.atomic
def rotate(token, *, keep_old_for=DEFAULT_OVERLAP, now=None):
    """A successor for `token` with its scope; the new token works at once, the old one until
    `now + keep_old_for` (never longer than it was going to). Returns (new ApiToken, new token)."""
    now = now or timezone.now()
    if not datetime.timedelta(0) <= keep_old_for <= LONGEST_OVERLAP:
        raise RecoveryError(
            "The old token can be kept for up to 30 days.",
            field_errors={"keep_old_for": ["Between 0 and 720 hours."]},
        )
    # Locked, so two rotations at once cannot both extend the old token's life.
    old = ApiToken.objects.select_for_update().get(pk=token.pk)
    if refusal(old, now) is not None:
        raise RecoveryError("Only a working token can be rotated; issue a new one instead.")
    new, key = issue(old.client, scope=old.scope, now=now)
    ends = now + keep_old_for
    if old.expires_at is None or old.expires_at > ends:
        old.expires_at = ends
        old.save(update_fields=["expires_at"])
    token.expires_at = old.expires_at
    return new, key


def revoke(token, *, now=None):
    """The token stops working from the next request. Its row stays, so logs that name its prefix can
    still be traced to a client."""
    now = now or timezone.now()
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.refresh_from_db(fields=["revoked_at"])
    return token


def refusal(token, now):
    """Why `token` no longer signs anyone in at `now`, in words for the caller; None while it works."""
    if token.revoked_at is not None and token.revoked_at <= now:
        return f"This token ({token.prefix}…) was revoked; ask the organization's admin for a new one."
    if token.expires_at is not None and token.expires_at <= now:
        return f"This token ({token.prefix}…) expired at {token.expires_at.astimezone(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; use its successor or ask for a new one."
    return None


def state(token, now):
    """One word for the Settings page: working, expired or revoked."""
    if token.revoked_at is not None and token.revoked_at <= now:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "working"


def may_write(token):
    """The rule of scopes: a read-only token may read everything its client sees and change nothing."""
    return token.scope == ApiToken.Scope.WRITE


def live_tokens(client, now=None):
    """The client's tokens that still work, newest first."""
    now = now or timezone.now()
    return [token for token in client.tokens.all() if refusal(token, now) is None]
