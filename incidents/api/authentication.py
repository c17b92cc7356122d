"""Who is calling: an API client by its token, or a member of staff by session or personal token."""

import functools

from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from incidents import sql
from incidents.models import User

from .models import ApiClient


class ClientTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`. One query reads the token, its user and the user's API client."""

    model = Token

    def authenticate_credentials(self, key):
        token, user, client = sql.fetch_one(_token_sql(), [key], [Token, User, ApiClient]) or (None, None, None)
        if token is None or not user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        token.user = user
        # Cached on the user as select_related would: `user.api_client` asks no query (and raises
        # DoesNotExist for a member of staff).
        User.api_client.related.set_cached_value(user, client)
        if client is not None:
            client.user = user
            if not client.active:
                raise exceptions.AuthenticationFailed("This API client is switched off.")
        return user, token


@functools.cache
def _token_sql():
    # Hand-written (see `incidents.sql`): every API request runs it.
    return (
        f"SELECT {sql.columns(Token, 't')}, {sql.columns(User, 'u')}, {sql.columns(ApiClient, 'c')} "
        f"FROM {sql.table(Token)} t JOIN {sql.table(User)} u ON u.id = t.user_id "
        f"LEFT JOIN {sql.table(ApiClient)} c ON c.user_id = u.id WHERE t.key = %s"
    )
