"""A small OpenID Connect provider on 127.0.0.1 for the single sign-on tests.

It speaks the authorization code flow the way django-allauth's OpenID Connect client uses it:
discovery, /authorize (no login page: it signs in whoever ``sign_in_as`` named and consents at
once), /token (client_secret_post or client_secret_basic, single-use codes, PKCE S256), /userinfo
and /jwks. ID tokens are signed RS256 with a key made at start, and a few switches make it hand
out tokens a client must refuse (wrong key, audience, nonce, issuer, or already expired).

    with OIDCProvider() as idp:
        idp.sign_in_as("user-1", "ana@example.com", name="Ana")
        ...  # point the app at idp.issuer + "/.well-known/openid-configuration"

Times come from time.time(), so a test that moves the clock with time-machine moves the tokens'
iat and exp with it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_LIFETIME = 300
SCOPES = ["openid", "profile", "email"]


def _new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def s256(code_verifier: str) -> str:
    """The PKCE S256 code challenge for a code verifier (RFC 7636, section 4.2)."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OIDCProvider:
    client_id = "recovery-sso"
    client_secret = "sso-secret"

    # Tampering switches, for tests of what the client refuses. reset() puts them back.
    bad_signature: bool = False  # id_token signed by a different key, under the same kid
    audience: str | None = None  # aud claim to use instead of client_id
    nonce: str | None = None  # nonce claim to use instead of the one sent to /authorize
    issuer_claim: str | None = None  # iss claim to use instead of the issuer
    expired: bool = False  # exp in the past

    def __init__(self):
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._key = None
        self._other_key = None
        self.kid = uuid.uuid4().hex
        self.requests_seen: list[tuple[str, str]] = []
        self._user: dict | None = None
        self._codes: dict[str, dict] = {}
        self._access_tokens: dict[str, dict] = {}
        self.reset()

    # Lifecycle

    def start(self) -> "OIDCProvider":
        if self._server is not None:
            return self
        self._key = _new_rsa_key()
        self._other_key = _new_rsa_key()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.provider = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="oidc-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> "OIDCProvider":
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def issuer(self) -> str:
        if self._server is None:
            raise RuntimeError("the provider is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    # What the tests set

    def sign_in_as(self, sub, email, email_verified=True, name="", **extra_claims):
        """Whom /authorize signs in from now on (until changed or reset)."""
        with self._lock:
            self._user = {
                "sub": str(sub),
                "email": email,
                "email_verified": email_verified,
                "name": name,
                **extra_claims,
            }

    def reset(self):
        """Back to a plain, honest provider: switches off, nobody signed in, no codes or access
        tokens outstanding, requests_seen emptied. The signing key stays."""
        with self._lock:
            self.bad_signature = False
            self.audience = None
            self.nonce = None
            self.issuer_claim = None
            self.expired = False
            self._user = None
            self._codes.clear()
            self._access_tokens.clear()
            self.requests_seen.clear()

    # What the endpoints answer

    def _discovery(self) -> dict:
        issuer = self.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": issuer + "/authorize",
            "token_endpoint": issuer + "/token",
            "userinfo_endpoint": issuer + "/userinfo",
            "jwks_uri": issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
            "scopes_supported": SCOPES,
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name"],
        }

    def _jwks(self) -> dict:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def _authorize(self, params: dict) -> tuple[int, dict, bytes]:
        if params.get("client_id") != self.client_id:
            return _text(400, "unknown client_id")
        if params.get("response_type") != "code":
            return _text(400, "response_type must be code")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            return _text(400, "redirect_uri is required")
        code_challenge = params.get("code_challenge")
        method = params.get("code_challenge_method", "plain")
        if code_challenge and method != "S256":
            return _text(400, "code_challenge_method must be S256")
        with self._lock:
            if self._user is None:
                return _text(400, "nobody is signed in at the provider")
            code = secrets.token_urlsafe(32)
            self._codes[code] = {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "nonce": params.get("nonce"),
                "code_challenge": code_challenge,
                "code_challenge_method": method if code_challenge else None,
                "scope": params.get("scope", ""),
                "user": dict(self._user),
            }
        answer = {"code": code}
        if "state" in params:
            answer["state"] = params["state"]
        parts = urlsplit(redirect_uri)
        query = urlencode(parse_qsl(parts.query, keep_blank_values=True) + list(answer.items()))
        return 302, {"Location": urlunsplit(parts._replace(query=query))}, b""

    def _client_from(self, headers, form: dict) -> str | None:
        """The authenticated client's id, by HTTP Basic or by client_secret_post, else None."""
        authorization = headers.get("Authorization", "")
        if authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            client_id, sep, client_secret = decoded.partition(":")
            if not sep:
                return None
        else:
            client_id = form.get("client_id")
            client_secret = form.get("client_secret")
        if client_id is None or client_secret is None:
            return None
        if client_id == self.client_id and hmac.compare_digest(client_secret.encode(), self.client_secret.encode()):
            return client_id
        return None

    def _token(self, headers, form: dict) -> tuple[int, dict, bytes]:
        client_id = self._client_from(headers, form)
        if client_id is None:
            return _json(401, {"error": "invalid_client"}, {"WWW-Authenticate": 'Basic realm="token"'})
        if form.get("grant_type") != "authorization_code":
            return _json(400, {"error": "unsupported_grant_type"})
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # used up by this attempt, whatever follows
        if grant is None or grant["client_id"] != client_id:
            return _json(400, {"error": "invalid_grant", "error_description": "unknown or used code"})
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return _json(400, {"error": "invalid_grant", "error_description": "redirect_uri does not match"})
        if grant["code_challenge"]:
            verifier = form.get("code_verifier")
            if not verifier or not hmac.compare_digest(s256(verifier), grant["code_challenge"]):
                return _json(400, {"error": "invalid_grant", "error_description": "code_verifier does not match"})
        access_token = secrets.token_urlsafe(32)
        with self._lock:
            self._access_tokens[access_token] = grant["user"]
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "id_token": self._id_token(grant),
        }
        if grant["scope"]:
            body["scope"] = grant["scope"]
        return _json(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _id_token(self, grant: dict) -> str:
        now = int(time.time())
        claims = dict(grant["user"])
        claims.update(
            {
                "iss": self.issuer_claim if self.issuer_claim is not None else self.issuer,
                "aud": self.audience if self.audience is not None else grant["client_id"],
                "iat": now - 2 * TOKEN_LIFETIME if self.expired else now,
                "exp": now - TOKEN_LIFETIME if self.expired else now + TOKEN_LIFETIME,
            }
        )
        nonce = self.nonce if self.nonce is not None else grant["nonce"]
        if nonce is not None:
            claims["nonce"] = nonce
        key = self._other_key if self.bad_signature else self._key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})

    def _userinfo(self, headers) -> tuple[int, dict, bytes]:
        authorization = headers.get("Authorization", "")
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        with self._lock:
            user = self._access_tokens.get(token)
        if user is None:
            return _json(401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return _json(200, dict(user))


def _text(status: int, text: str) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode("utf-8")


def _json(status: int, data: dict, headers: dict | None = None) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    server_version = "oidc-provider"

    def log_message(self, format, *args):
        pass  # the tests' output stays free of request logs

    @property
    def provider(self) -> OIDCProvider:
        return self.server.provider

    def _route(self, method: str):
        parts = urlsplit(self.path)
        path = parts.path
        provider = self.provider
        with provider._lock:
            provider.requests_seen.append((method, path))
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            form = dict(parse_qsl(raw, keep_blank_values=True))
        else:
            form = {}

        if path == "/.well-known/openid-configuration" and method == "GET":
            answer = _json(200, provider._discovery())
        elif path == "/jwks" and method == "GET":
            answer = _json(200, provider._jwks())
        elif path == "/authorize" and method == "GET":
            answer = provider._authorize(query)
        elif path == "/token" and method == "POST":
            answer = provider._token(self.headers, form)
        elif path == "/userinfo" and method in ("GET", "POST"):
            answer = provider._userinfo(self.headers)
        elif path in ("/.well-known/openid-configuration", "/jwks", "/authorize", "/token", "/userinfo"):
            answer = _text(405, "method not allowed")
        else:
            answer = _text(404, "not found")

        status, headers, body = answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")
