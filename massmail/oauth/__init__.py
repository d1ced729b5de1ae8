"""OAuth2 sign-in (XOAUTH2) of Microsoft 365 and Google mailboxes, for SMTP and IMAP.

providers.py  the app registrations and endpoints (MASSMAIL["OAUTH_PROVIDERS"])
flow.py       "Connect": authorization code with PKCE and a signed single-use state
tokens.py     access tokens from the stored refresh token, cached encrypted
xoauth2.py    the SASL XOAUTH2 string
login.py      the one login step of SMTP and IMAP, password or XOAUTH2
"""
