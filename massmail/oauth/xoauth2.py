"""The SASL XOAUTH2 initial response, as Microsoft and Google define it.

On the wire it is base64 of ``user=<address>\\x01auth=Bearer <token>\\x01\\x01``.
smtplib's ``SMTP.auth`` and IMAPClient's ``oauth2_login`` apply the base64 themselves,
so this module gives the string before it.
"""


def auth_string(address, access_token):
    return f"user={address}\x01auth=Bearer {access_token}\x01\x01"
