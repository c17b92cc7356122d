"""The local OpenID Connect provider answers as a real one would, and its switches spoil exactly
what they say, so the single sign-on tests can trust both its good and its bad tokens."""

import secrets
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from tests.oidc_provider import OIDCProvider, s256

REDIRECT_URI = "http://testserver/accounts/oidc/recovery/login/callback/"


@pytest.fixture(scope="module")
def running_provider():
    with OIDCProvider() as provider:
        yield provider


@pytest.fixture
def idp(running_provider):
    running_provider.reset()
    running_provider.sign_in_as("user-42", "ana@example.com", name="Ana Lima", preferred_username="ana")
    yield running_provider
    running_provider.reset()


def authorize(idp, *, verifier=None, nonce="n-0S6_WzA2Mj", state="st-123", **overrides):
    """Goes through /authorize as a browser would; returns the redirect's query parameters."""
    params = {
        "client_id": idp.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": state,
        "nonce": nonce,
    }
    if verifier is not None:
        params.update(code_challenge=s256(verifier), code_challenge_method="S256")
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    response = requests.get(idp.issuer + "/authorize", params=params, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(idp, code, *, verifier=None, secret=None, basic=False, redirect_uri=REDIRECT_URI):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    secret = idp.client_secret if secret is None else secret
    auth = None
    if basic:
        auth = (idp.client_id, secret)
    else:
        data.update(client_id=idp.client_id, client_secret=secret)
    return requests.post(idp.issuer + "/token", data=data, auth=auth, timeout=5)


def jwks_key(idp, token):
    config = requests.get(idp.discovery_url, timeout=5).json()
    key_set = jwt.PyJWKSet.from_dict(requests.get(config["jwks_uri"], timeout=5).json())
    kid = jwt.get_unverified_header(token)["kid"]
    return next(k for k in key_set.keys if k.key_id == kid).key


def verify(idp, token, **kwargs):
    kwargs.setdefault("audience", idp.client_id)
    kwargs.setdefault("issuer", idp.issuer)
    return jwt.decode(token, jwks_key(idp, token), algorithms=["RS256"], **kwargs)


def id_token_for(idp, **authorize_kwargs):
    verifier = secrets.token_urlsafe(48)
    code = authorize(idp, verifier=verifier, **authorize_kwargs)["code"]
    response = exchange(idp, code, verifier=verifier)
    assert response.status_code == 200, response.text
    return response.json()["id_token"]


def test_discovery_names_every_endpoint_under_the_issuer(idp):
    response = requests.get(idp.issuer + "/.well-known/openid-configuration", timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    config = response.json()
    assert config["issuer"] == idp.issuer
    assert idp.issuer.startswith("http://127.0.0.1:") and not idp.issuer.endswith("/")
    assert config["authorization_endpoint"] == idp.issuer + "/authorize"
    assert config["token_endpoint"] == idp.issuer + "/token"
    assert config["userinfo_endpoint"] == idp.issuer + "/userinfo"
    assert config["jwks_uri"] == idp.issuer + "/jwks"
    assert config["response_types_supported"] == ["code"]
    assert config["subject_types_supported"] == ["public"]
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert config["token_endpoint_auth_methods_supported"] == ["client_secret_post", "client_secret_basic"]
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"openid", "email", "profile"} <= set(config["scopes_supported"])


def test_jwks_publishes_the_signing_key_as_rsa_jwk(idp):
    (key,) = requests.get(idp.issuer + "/jwks", timeout=5).json()["keys"]

    assert key["kty"] == "RSA" and key["use"] == "sig" and key["alg"] == "RS256"
    assert key["kid"] == idp.kid
    assert key["e"] == "AQAB" and len(key["n"]) > 300  # a 2048-bit modulus
    assert "d" not in key  # public half only


def test_code_flow_with_pkce_gives_an_id_token_that_verifies_with_the_jwks(idp):
    verifier = secrets.token_urlsafe(48)
    redirect = authorize(idp, verifier=verifier, state="state with spaces & marks")
    assert redirect["state"] == "state with spaces & marks"

    response = exchange(idp, redirect["code"], verifier=verifier)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["access_token"]
    claims = verify(idp, body["id_token"])
    assert claims["iss"] == idp.issuer and claims["aud"] == idp.client_id
    assert claims["sub"] == "user-42"
    assert claims["email"] == "ana@example.com" and claims["email_verified"] is True
    assert claims["name"] == "Ana Lima" and claims["preferred_username"] == "ana"
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["exp"] - claims["iat"] == 300
    assert jwt.get_unverified_header(body["id_token"])["kid"] == idp.kid

    userinfo = requests.get(
        idp.issuer + "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=5
    )
    assert userinfo.status_code == 200
    assert userinfo.json() == {
        "sub": "user-42",
        "email": "ana@example.com",
        "email_verified": True,
        "name": "Ana Lima",
        "preferred_username": "ana",
    }
    assert ("GET", "/authorize") in idp.requests_seen
    assert ("POST", "/token") in idp.requests_seen
    assert ("GET", "/userinfo") in idp.requests_seen


def test_client_secret_basic_is_accepted_too(idp):
    code = authorize(idp)["code"]

    response = exchange(idp, code, basic=True)

    assert response.status_code == 200, response.text
    assert verify(idp, response.json()["id_token"])["sub"] == "user-42"


def test_without_a_nonce_the_id_token_carries_none(idp):
    claims = verify(idp, id_token_for(idp, nonce=None))

    assert "nonce" not in claims


def test_the_code_cannot_be_used_twice(idp):
    code = authorize(idp)["code"]
    assert exchange(idp, code).status_code == 200

    again = exchange(idp, code)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_an_unknown_code_is_refused(idp):
    response = exchange(idp, "made-up-code")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("basic", [False, True])
def test_a_wrong_secret_is_refused_and_does_not_use_up_the_code(idp, basic):
    code = authorize(idp)["code"]

    refused = exchange(idp, code, secret="guessed", basic=basic)

    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid_client"}
    assert exchange(idp, code, basic=basic).status_code == 200


def test_a_token_request_without_client_credentials_is_refused(idp):
    code = authorize(idp)["code"]

    response = requests.post(
        idp.issuer + "/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        timeout=5,
    )

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


@pytest.mark.parametrize("sent_verifier", ["the-wrong-verifier-" + "x" * 30, None])
def test_a_wrong_or_missing_code_verifier_is_refused(idp, sent_verifier):
    code = authorize(idp, verifier=secrets.token_urlsafe(48))["code"]

    response = exchange(idp, code, verifier=sent_verifier)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "id_token" not in response.json()


def test_a_redirect_uri_other_than_the_authorized_one_is_refused(idp):
    code = authorize(idp)["code"]

    response = exchange(idp, code, redirect_uri="http://evil.example/callback/")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"client_id": "someone-else"}, "client_id"),
        ({"response_type": "token"}, "response_type"),
        ({"redirect_uri": None}, "redirect_uri"),
        ({"code_challenge": "abc", "code_challenge_method": "plain"}, "S256"),
    ],
)
def test_authorize_refuses_bad_requests_in_plain_text(idp, overrides, message):
    params = {"client_id": idp.client_id, "response_type": "code", "redirect_uri": REDIRECT_URI, **overrides}
    params = {k: v for k, v in params.items() if v is not None}

    response = requests.get(idp.issuer + "/authorize", params=params, allow_redirects=False, timeout=5)

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert message in response.text


def test_authorize_refuses_when_nobody_is_signed_in(idp):
    idp.reset()
    params = {"client_id": idp.client_id, "response_type": "code", "redirect_uri": REDIRECT_URI}

    response = requests.get(idp.issuer + "/authorize", params=params, allow_redirects=False, timeout=5)

    assert response.status_code == 400
    assert "signed in" in response.text


def test_userinfo_refuses_an_unknown_access_token(idp):
    response = requests.get(idp.issuer + "/userinfo", headers={"Authorization": "Bearer nope"}, timeout=5)

    assert response.status_code == 401
    assert requests.get(idp.issuer + "/userinfo", timeout=5).status_code == 401


def test_bad_signature_gives_a_token_that_fails_verification_against_the_jwks(idp):
    idp.bad_signature = True

    token = id_token_for(idp)

    assert jwt.get_unverified_header(token)["kid"] == idp.kid  # same kid, so the client finds a key
    with pytest.raises(jwt.InvalidSignatureError):
        verify(idp, token)
    idp.reset()
    idp.sign_in_as("user-42", "ana@example.com")
    verify(idp, id_token_for(idp))  # and the honest token still verifies


def test_audience_switch_shows_in_the_aud_claim(idp):
    idp.audience = "another-app"

    token = id_token_for(idp)

    with pytest.raises(jwt.InvalidAudienceError):
        verify(idp, token)
    assert verify(idp, token, audience="another-app")["aud"] == "another-app"


def test_nonce_switch_replaces_the_nonce_that_was_sent(idp):
    idp.nonce = "replayed-nonce"

    claims = verify(idp, id_token_for(idp, nonce="the-sent-nonce"))

    assert claims["nonce"] == "replayed-nonce"


def test_issuer_claim_switch_shows_in_the_iss_claim(idp):
    idp.issuer_claim = "https://impostor.example"

    token = id_token_for(idp)

    with pytest.raises(jwt.InvalidIssuerError):
        verify(idp, token)
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "https://impostor.example"


def test_expired_switch_gives_a_token_past_its_exp(idp):
    idp.expired = True

    token = id_token_for(idp)

    with pytest.raises(jwt.ExpiredSignatureError):
        verify(idp, token)


def test_reset_turns_every_switch_off(idp):
    idp.bad_signature = True
    idp.audience = "x"
    idp.nonce = "y"
    idp.issuer_claim = "z"
    idp.expired = True

    idp.reset()

    assert (idp.bad_signature, idp.audience, idp.nonce, idp.issuer_claim, idp.expired) == (False, None, None, None, False)
    assert idp.requests_seen == []
    idp.sign_in_as("user-7", "bo@example.com")
    claims = verify(idp, id_token_for(idp, nonce="fresh"))
    assert claims["sub"] == "user-7" and claims["nonce"] == "fresh"


def test_requests_are_not_logged_to_stderr(idp, capfd):
    requests.get(idp.issuer + "/.well-known/openid-configuration", timeout=5)
    requests.get(idp.issuer + "/nowhere", timeout=5)

    assert capfd.readouterr().err == ""
    assert idp.requests_seen[-2:] == [("GET", "/.well-known/openid-configuration"), ("GET", "/nowhere")]


def test_start_and_stop_free_the_port():
    provider = OIDCProvider().start()
    issuer = provider.issuer
    assert requests.get(issuer + "/jwks", timeout=5).status_code == 200

    provider.stop()

    with pytest.raises(requests.ConnectionError):
        requests.get(issuer + "/jwks", timeout=5)
