"""The OpenID Connect client for an organization's single sign-on: allauth's, with the checks of an ID
token that allauth leaves out in the code flow (it trusts the token endpoint's TLS and skips the
signature, and sends no nonce). Here every ID token must be signed with the provider's published key in
an algorithm it announces, and carry the nonce this sign-in sent (checked in signing_in.adapters)."""

import secrets

from allauth.core.internal.deferred import jwt
from allauth.utils import build_absolute_uri
from django.urls import reverse
from django.utils.translation import gettext
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter

# Asymmetric only: a token signed with a shared secret could come from anyone holding the client secret.
SIGNING_ALGORITHMS = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}


def callback_url(request, provider_id, protocol=None):
    """The redirect address sent to the provider, which its admin registers (Settings shows this one)."""
    callback = reverse(f"{OrganizationSignOn.id}_callback", kwargs={"provider_id": provider_id})
    return build_absolute_uri(request, callback, protocol)


class OrganizationSignOnAdapter(OpenIDConnectOAuth2Adapter):
    def get_callback_url(self, request, app):
        return callback_url(request, self.provider_id, self.redirect_uri_protocol)

    def complete_login(self, request, app, token, **kwargs):
        if not kwargs["response"].get("id_token"):
            raise OAuth2Error(gettext("The identity provider sent no ID token."))
        return super().complete_login(request, app, token, **kwargs)

    def _decode_id_token(self, app, id_token):
        try:
            algorithm = jwt.get_unverified_header(id_token).get("alg")
        except jwt.PyJWTError as error:
            raise OAuth2Error(gettext("Invalid id_token")) from error
        announced = set(self.openid_config.get("id_token_signing_alg_values_supported") or ["RS256"])
        if algorithm not in SIGNING_ALGORITHMS & announced:
            raise OAuth2Error(gettext("ID token signed with %(algorithm)s, which is not accepted.") % {"algorithm": repr(algorithm)})
        return jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
            verify_signature=True,
        )


class OrganizationSignOn(OpenIDConnectProvider):
    id = "organization_sso"
    name = "Single sign-on"
    oauth2_adapter_class = OrganizationSignOnAdapter

    def redirect(self, request, process, next_url=None, data=None, **kwargs):
        # The nonce goes to the provider and into this sign-in's state; the ID token must bring it back.
        nonce = secrets.token_urlsafe(32)
        auth_params = kwargs.pop("auth_params", None)
        if auth_params is None:
            auth_params = self.get_auth_params()
        auth_params["nonce"] = nonce
        return super().redirect(request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs)


provider_classes = [OrganizationSignOn]
