"""Encryption at rest of SMTP passwords with MultiFernet.

Keys come from ``MASSMAIL["ENCRYPTION_KEYS"]``, newest first: new values are encrypted
with the first key, and any listed key decrypts. A value that no key decrypts raises
DecryptionError; ciphertext is never returned as if it were the password.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from .conf import conf


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


def _fernet():
    keys = conf.ENCRYPTION_KEYS
    if isinstance(keys, str):
        keys = [keys]
    if not keys:
        raise ImproperlyConfigured(
            'MASSMAIL["ENCRYPTION_KEYS"] is empty: SMTP passwords cannot be stored or read.'
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f'MASSMAIL["ENCRYPTION_KEYS"] holds an invalid key: {exc}') from None


def encrypt(plaintext):
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            'A stored SMTP password cannot be decrypted with MASSMAIL["ENCRYPTION_KEYS"]: '
            "the key that encrypted it is missing from the list."
        ) from None


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; the Python value is the plaintext ("" stays "")."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
