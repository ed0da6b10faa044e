"""Who is calling FakeX: app bearer, OAuth 2.0 user tokens (PKCE), OAuth 1.0a signatures.

A mixin over FakeX. `authorize()` plays the account owner clicking "Authorize app"
in the browser; POST /2/oauth2/token exchanges the code (PKCE checked) and rotates
refresh tokens (each works once). Every user token belongs to `own_user`, the brand.
OAuth 1.0a requests are verified with oauthlib's signature functions, so a client
that signs wrongly is refused as X would refuse it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature

from socialdesk.networks.x.fake import data as d

TOKEN_PATH = "/2/oauth2/token"
USER_CONTEXT_ONLY = frozenset({"create", "me"})  # route keys refusing an app-only token
_OAUTH1_CLOCK_SKEW = 300  # seconds X tolerates between oauth_timestamp and its clock


@dataclass(frozen=True)
class OAuth1Keys:
    consumer_key: str = "sandbox-consumer-key"
    consumer_secret: str = "sandbox-consumer-secret"
    token: str = "1500000000000000000-sandboxaccesstoken"
    token_secret: str = "sandbox-access-secret"


class _AuthError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(body)
        self.status, self.body = status, body


class XAuthServer:
    """Mixin: FakeX supplies _lock, bearer_token, _own_id."""

    def _init_auth(self, *, require_user_context: bool) -> None:
        self.client_id = "sandbox-client-id"
        self.client_secret: str | None = "sandbox-client-secret"  # None: a public client
        self.redirect_uris = {"http://127.0.0.1:8765/x/callback"}  # socialdesk's default
        self.token_lifetime = 7200.0  # seconds; X's user access tokens last two hours
        self.oauth1_keys = OAuth1Keys()
        self.clock: Callable[[], float] = time.time  # token and code expiry (tests move it)
        self.require_user_context = require_user_context
        self._codes: dict[str, dict] = {}
        self._access: dict[str, dict] = {}  # access token -> {user, expires, scope}
        self._refresh: dict[str, dict] = {}  # refresh token -> {user, scope}; popped on use
        self._nonces: set[str] = set()

    # --- the browser half ---------------------------------------------------------
    def authorize(self, *, code_challenge: str, redirect_uri: str, state: str, scope: str,
                  client_id: str | None = None, code_challenge_method: str = "S256",
                  approve: bool = True) -> str:
        """The redirect X sends the browser to once the owner approves (or cancels)."""
        if (client_id or self.client_id) != self.client_id or redirect_uri not in self.redirect_uris:
            # X shows an error page and never redirects.
            raise ValueError(f"X would refuse this authorize request (client {client_id}, redirect {redirect_uri})")
        if not approve:
            return f"{redirect_uri}?{urlencode({'error': 'access_denied', 'state': state})}"
        code = secrets.token_urlsafe(48)
        with self._lock:
            self._codes[code] = {"challenge": code_challenge, "method": code_challenge_method,
                                 "redirect_uri": redirect_uri, "scope": scope,
                                 "expires": self.clock() + d.AUTHORIZE_CODE_SECONDS}
        return f"{redirect_uri}?{urlencode({'state': state, 'code': code})}"

    def approve(self, authorize_url: str, *, deny: bool = False) -> str:
        """`authorize()` from a whole authorize URL, as a person would open it."""
        q = dict(parse_qsl(urlsplit(authorize_url).query))
        if q.get("response_type") != "code":
            raise ValueError("response_type=code is required")
        return self.authorize(code_challenge=q["code_challenge"], redirect_uri=q["redirect_uri"],
                              state=q.get("state", ""), scope=q.get("scope", ""), client_id=q.get("client_id"),
                              code_challenge_method=q.get("code_challenge_method", "plain"), approve=not deny)

    def revoke_user_tokens(self) -> None:
        """The owner removed the app in X's settings: every token stops working."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    def token_grants(self, grant_type: str | None = None) -> list[str]:
        """grant_type of each token request received (optionally only this one)."""
        grants = [dict(parse_qsl(r.body.decode())).get("grant_type", "") for r in self.requests_to(TOKEN_PATH)]
        return [g for g in grants if grant_type is None or g == grant_type]

    # --- the gateway ------------------------------------------------------------------
    def _identify(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> str:
        """"app" or "user", or raise _AuthError with X's 401 body."""
        auth = headers.get("authorization", "")
        if auth == f"Bearer {self.bearer_token}":
            return "app"
        if auth.startswith("Bearer "):
            with self._lock:
                token = self._access.get(auth[7:])
            if token is not None and self.clock() < token["expires"]:
                return "user"
        elif auth.startswith("OAuth ") and self._oauth1_valid(method, raw_path, headers, body):
            return "user"
        raise _AuthError(401, d.UNAUTHORIZED)

    def _oauth1_valid(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> bool:
        keys = self.oauth1_keys
        try:  # decoded values (the header carries them percent-encoded)
            oauth = dict(signature.collect_parameters(headers={"Authorization": headers["authorization"]},
                                                      exclude_oauth_signature=False))
        except (ValueError, TypeError):
            return False
        if (oauth.get("oauth_consumer_key"), oauth.get("oauth_token")) != (keys.consumer_key, keys.token):
            return False
        if oauth.get("oauth_signature_method") != "HMAC-SHA1" or not oauth.get("oauth_timestamp", "").isdigit():
            return False
        if abs(time.time() - int(oauth["oauth_timestamp"])) > _OAUTH1_CLOCK_SKEW:
            return False
        uri = f"http://{headers.get('host', '')}{raw_path}"
        form = "application/x-www-form-urlencoded" in headers.get("content-type", "")
        request = OAuthRequest(uri, method, body.decode() if form else "", {})
        # JSON bodies are not part of the signature base string; a form body is.
        request.params = signature.collect_parameters(
            uri_query=urlsplit(uri).query, body=body.decode() if form else None,
            headers={"Authorization": headers["authorization"]}, exclude_oauth_signature=True)
        request.signature = oauth.get("oauth_signature", "")
        if not signature.verify_hmac_sha1(request, keys.consumer_secret, keys.token_secret):
            return False
        with self._lock:  # a nonce works once (replay protection)
            if oauth.get("oauth_nonce") in self._nonces:
                return False
            self._nonces.add(oauth.get("oauth_nonce", ""))
        return True

    # --- POST /2/oauth2/token ---------------------------------------------------------
    def _token(self, q, body, headers):
        if "application/x-www-form-urlencoded" not in headers.get("content-type", ""):
            return 400, d.TOKEN_BAD_GRANT_TYPE, {}
        form = dict(parse_qsl(body.decode()))
        if not form.get("client_id"):
            return 400, d.TOKEN_NO_CLIENT_ID, {}
        if form["client_id"] != self.client_id:
            return 401, d.TOKEN_BAD_CLIENT, {}
        if self.client_secret is not None and not self._basic_ok(headers.get("authorization", "")):
            return 401, d.TOKEN_NO_BASIC, {}
        grant = form.get("grant_type")
        with self._lock:
            if grant == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)  # a code works once
                if code is None or not self._code_ok(code, form):
                    return 400, d.TOKEN_BAD_CODE, {}
                return 200, self._issue(code["scope"]), {}
            if grant == "refresh_token":
                old = self._refresh.pop(form.get("refresh_token", ""), None)  # rotation: single use
                if old is None:
                    return 400, d.TOKEN_BAD_REFRESH, {}
                return 200, self._issue(old["scope"]), {}
        return 400, d.TOKEN_BAD_GRANT_TYPE, {}

    def _basic_ok(self, auth: str) -> bool:
        want = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return hmac.compare_digest(auth.encode(), f"Basic {want}".encode())

    def _code_ok(self, code: dict, form: dict) -> bool:
        verifier = form.get("code_verifier", "")
        if code["method"] == "S256":
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        else:
            expected = verifier
        return (self.clock() < code["expires"] and form.get("redirect_uri") == code["redirect_uri"]
                and bool(verifier) and hmac.compare_digest(expected, code["challenge"]))

    def _issue(self, scope: str) -> dict:
        access = secrets.token_urlsafe(64)
        self._access[access] = {"expires": self.clock() + self.token_lifetime, "scope": scope}
        answer = {"token_type": "bearer", "expires_in": int(self.token_lifetime),
                  "access_token": access, "scope": scope}
        if "offline.access" in scope.split():  # no offline.access, no refresh token
            refresh = secrets.token_urlsafe(64)
            self._refresh[refresh] = {"scope": scope}
            answer["refresh_token"] = refresh
        return answer
