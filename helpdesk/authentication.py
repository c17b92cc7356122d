"""Who is calling: an API client by its token, or a member of staff by session or personal token."""

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.authtoken.models import Token

from . import fast_reads, tokens
from .models import ApiToken


class ClientTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`. One query reads the token, its user and the user's API client.

    An API client's token (`ApiToken`) must be neither revoked nor expired; a member of staff's personal
    token is a `rest_framework.authtoken` Token. The token's prefix, never the token, goes to the request log."""

    model = Token

    def authenticate(self, request):
        self.prefix = ""  # DRF makes an authenticator per request
        try:
            return super().authenticate(request)
        finally:
            if self.prefix:
                # On the Django request, which the request log reads once the answer is made: it names the
                # token that signed in, or the expired or revoked one that was refused.
                request._request.api_token_prefix = self.prefix

    def authenticate_credentials(self, key):
        token, user, client = fast_reads.token(key) or (None, None, None)
        if isinstance(token, ApiToken):
            self.prefix = token.prefix
        if token is None or not user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if client is not None and not client.active:
            raise exceptions.AuthenticationFailed("This API client is switched off.")
        if isinstance(token, ApiToken):
            refused = tokens.refusal(token, timezone.now())
            if refused:
                raise exceptions.AuthenticationFailed(refused)
        return user, token


class TokenScope(permissions.BasePermission):
    """A read-only token reads and never writes, on every API view (`helpdesk.tokens.may_write`).
    A session or a member of staff's personal token is held to that person's role by the services."""

    message = "This token is read-only: it may read (GET) but not change anything. Use a token with the write scope."

    def has_permission(self, request, view):
        token = request.auth
        if request.method in permissions.SAFE_METHODS or not isinstance(token, ApiToken):
            return True
        return tokens.may_write(token)
