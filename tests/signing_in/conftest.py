from urllib.parse import urlsplit

import pytest
import requests

from organization_settings import services
from tests.oidc_provider import OIDCProvider


@pytest.fixture(scope="session")
def running_idp():
    with OIDCProvider() as idp:
        yield idp


@pytest.fixture
def idp(running_idp):
    running_idp.reset()
    yield running_idp
    running_idp.reset()


@pytest.fixture
def sign_on(settings, organization, admin, idp):
    """Harbour Hotels signs its staff in through the local provider; their emails end in @example.com."""
    settings.SINGLE_SIGN_ON_ALLOW_HTTP = True
    return services.save_single_sign_on(organization, by=admin, issuer=idp.issuer, client_id=idp.client_id,
                                        client_secret=idp.client_secret, email_domain="example.com")


def provider_address(start):
    """Where the app's "taking you to your organization's sign-in" page sends the browser."""
    assert start.status_code == 200, start.content.decode()[:500]
    url = start.context["url"]
    assert f'content="0; url={url}"'.replace("&", "&amp;") in start.content.decode()
    return url


def through_provider(client, email, address="203.0.113.7"):
    """Start single sign-on for `email` as a browser would, let the provider answer, and return the
    app's answer to the provider's redirect back."""
    start = client.post("/accounts/sso/", {"email": email}, REMOTE_ADDR=address)
    authorize = requests.get(provider_address(start), allow_redirects=False, timeout=5)
    assert authorize.status_code == 302, authorize.text
    back = urlsplit(authorize.headers["Location"])
    return client.get(f"{back.path}?{back.query}", REMOTE_ADDR=address)
