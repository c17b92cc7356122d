"""Who is calling: an API client by its token, or a member of staff by session or personal token."""

from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


class ClientTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`. One query reads the token, its user and the user's API client."""

    model = Token

    def authenticate_credentials(self, key):
        token = Token.objects.select_related("user", "user__api_client").filter(key=key).first()
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        client = getattr(token.user, "api_client", None)
        if client is not None and not client.active:
            raise exceptions.AuthenticationFailed("This API client is switched off.")
        return token.user, token
