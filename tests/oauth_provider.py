"""A local OAuth2 provider for tests (a threaded HTTP server on a free 127.0.0.1 port).

It plays Microsoft's or Google's part: an authorization page (``GET /authorize`` shows
an "Allow" form whose POST redirects back with a code), a token endpoint that checks the
client, the redirect URI and PKCE, issues RS256-signed ID tokens, refreshes and rotates
refresh tokens (the old one stops working, stricter than Microsoft) and answers
``invalid_grant`` for a revoked grant; its published keys (``/jwks``) and an RFC 7662
introspection endpoint (``/introspect``) that Dovecot and the test SMTP server ask.

Time is ``time.time()``, so time_machine moves its token lifetimes too.
"""

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "massmail-test-client"
CLIENT_SECRET = "massmail-test-secret"


@dataclass
class Grant:
    email: str
    scope: str
    refresh_token: str


class FakeProvider:
    def __init__(self, *, lifetime=3600, rotate=True):
        self.lifetime = lifetime
        self.rotate = rotate
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.lock = threading.Lock()
        self.codes = {}  # code -> what the authorization said
        self.grants = {}  # current refresh token -> Grant
        self.access_tokens = {}  # access token -> (email, expires_at)
        self.refreshes = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def settings(self, **overrides):
        """The MASSMAIL["OAUTH_PROVIDERS"] entry of an app registered here."""
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "authorize_url": f"{self.url}/authorize", "token_url": f"{self.url}/token",
                "jwks_url": f"{self.url}/jwks", **overrides}

    # --- the provider's decisions ----------------------------------------------------

    def authorize(self, query, email):
        """The user ``email`` allows the request ``query`` (a dict of the authorization
        URL's parameters): the URL the provider redirects the browser to."""
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID, query
        assert query["code_challenge_method"] == "S256", query
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {**query, "email": email}
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def token(self, form):
        """(status, JSON body) of the token endpoint for the form ``form``."""
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        with self.lock:
            if form.get("grant_type") == "authorization_code":
                return self._exchange(form)
            if form.get("grant_type") == "refresh_token":
                return self._refresh(form)
        return 400, {"error": "unsupported_grant_type"}

    def _exchange(self, form):
        request = self.codes.pop(form.get("code"), None)  # a code works once
        if request is None or form.get("redirect_uri") != request["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "bad code"}
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
        if challenge != request["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        grant = Grant(request["email"], request["scope"], secrets.token_urlsafe(24))
        self.grants[grant.refresh_token] = grant
        body = self._tokens(grant)
        claims = {"iss": self.url, "aud": CLIENT_ID, "sub": grant.email, "nonce": request["nonce"],
                  "email": grant.email, "email_verified": True, "preferred_username": grant.email,
                  "iat": int(time.time()), "exp": int(time.time()) + 600}
        body["id_token"] = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        return 200, body

    def _refresh(self, form):
        grant = self.grants.get(form.get("refresh_token"))
        if grant is None:
            return 400, {"error": "invalid_grant", "error_description": "AADSTS50173: The provided "
                         "grant has expired due to it being revoked."}
        self.refreshes += 1
        if self.rotate:
            del self.grants[grant.refresh_token]
            grant.refresh_token = secrets.token_urlsafe(24)
            self.grants[grant.refresh_token] = grant
        return 200, self._tokens(grant)

    def _tokens(self, grant):
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = (grant.email, time.time() + self.lifetime)
        return {"token_type": "Bearer", "access_token": access_token, "expires_in": self.lifetime,
                "refresh_token": grant.refresh_token, "scope": grant.scope}

    def issue(self, email, scope="https://outlook.office.com/SMTP.Send"):
        """A grant of ``email`` as if it had been connected: its refresh token."""
        grant = Grant(email, scope, secrets.token_urlsafe(24))
        with self.lock:
            self.grants[grant.refresh_token] = grant
        return grant.refresh_token

    def revoke(self, email):
        """The user changed their password: every grant of ``email`` stops working."""
        with self.lock:
            for refresh_token in [t for t, g in self.grants.items() if g.email == email]:
                del self.grants[refresh_token]

    def owner_of(self, access_token):
        """The address an access token is valid for now, or None."""
        email, expires_at = self.access_tokens.get(access_token, (None, 0))
        return email if expires_at > time.time() else None

    def refresh_token_of(self, email):
        with self.lock:
            return next(t for t, g in self.grants.items() if g.email == email)

    def jwks(self):
        return KeySet([self.key]).as_dict(private=False)


def _handler(provider):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            path, _sep, query = self.path.partition("?")
            if path == "/authorize":
                self._allow_page(dict(parse_qsl(query)))
            elif path == "/jwks":
                self._json(200, provider.jwks())
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            path = urlsplit(self.path).path
            if path == "/authorize":
                email = form.pop("email")
                self.send_response(302)
                self.send_header("Location", provider.authorize(form, email))
                self.end_headers()
            elif path == "/token":
                self._json(*provider.token(form))
            elif path == "/introspect":
                email = provider.owner_of(form.get("token", ""))
                self._json(200, {"active": True, "username": email} if email else {"active": False})
            else:
                self._json(404, {"error": "not_found"})

        def _allow_page(self, query):
            fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                             for k, v in query.items())
            page = (f'<!DOCTYPE html><title>Fake provider</title><form method="post" action="/authorize">'
                    f'{fields}<label>Mailbox <input name="email" id="email" '
                    f'value="{html.escape(query.get("login_hint", ""))}"></label>'
                    f'<button type="submit" id="allow">Allow</button></form>')
            self._send(200, "text/html; charset=utf-8", page.encode())

        def _json(self, status, body):
            self._send(status, "application/json", json.dumps(body).encode())

        def _send(self, status, content_type, data):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
