from urllib.parse import urlsplit

import requests


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
