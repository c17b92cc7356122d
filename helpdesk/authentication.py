"""Who is calling: an API client by its token, or a member of staff by session or personal token."""

from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from . import fast_reads


class ClientTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`. One query reads the token, its user and the user's API client."""

    model = Token

    def authenticate_credentials(self, key):
        token, user, client = fast_reads.token(key) or (None, None, None)
        if token is None or not user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if client is not None and not client.active:
            raise exceptions.AuthenticationFailed("This API client is switched off.")
        return user, token

