"""OAuth2 sign-in (XOAUTH2) of Microsoft 365 and Google mailboxes, for SMTP and IMAP.

providers.py   the app registrations and endpoints (MASSMAIL["OAUTH_PROVIDERS"])
flow.py        "Connect": authorization code with PKCE and a signed single-use state
admin.py       the "Connect" button's view on the email account admin
views.py       the callback the provider redirects to
tokens.py      access tokens from the stored refresh token, cached encrypted
xoauth2.py     the SASL XOAUTH2 string
login.py       the one login step of SMTP and IMAP: password or XOAUTH2
exceptions.py  what can go wrong, as MassmailError subclasses
"""
