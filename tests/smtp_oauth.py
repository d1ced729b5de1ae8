"""A test SMTP server that signs in with XOAUTH2 only, as Exchange Online and Gmail do.

A login succeeds when the bearer token is one the fake provider issued, has not expired,
and belongs to the ``user=`` of the XOAUTH2 string; a refusal sends the error challenge
and then 535, as the real servers do. Mail is accepted only after a successful login.
"""

import base64
import json
import secrets
from dataclasses import dataclass, field

from aiosmtpd.smtp import MISSING, AuthResult

from .smtp import Handler, SMTPServer


@dataclass
class XOAuth2Handler(Handler):
    provider: object = None
    # (user, access token) of every successful login, and the refused ones.
    logins: list = field(default_factory=list)
    refused: list = field(default_factory=list)

    async def auth_XOAUTH2(self, server, args):
        if len(args) > 1:
            response = base64.b64decode(args[1])
        else:
            response = await server.challenge_auth("")
            if response is MISSING:
                return AuthResult(success=False, handled=False)
        fields = dict(part.split("=", 1) for part in response.decode().split("\x01") if "=" in part)
        user, token = fields.get("user"), fields.get("auth", "").removeprefix("Bearer ")
        if user and self.provider.owner_of(token) == user:
            self.logins.append((user, token))
            return AuthResult(success=True, auth_data=user)
        self.refused.append((user, token))
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"})
        await server.challenge_auth(error)  # the client answers with an empty line
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


class XOAuth2SMTPServer(SMTPServer):
    def __init__(self, provider):
        super().__init__(XOAuth2Handler(provider=provider))
        self.authenticator.password = secrets.token_hex(16)  # no password signs in
