"""SMTP passwords at rest: encrypted in the database, readable only with a configured key,
rotatable to a new key, and a system check when no key is configured in production."""

import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from massmail import crypto
from massmail.checks import encryption_keys_check
from massmail.crypto import DecryptionError
from massmail.management.commands import massmail_rotate_keys
from massmail.models import EmailAccount

from .factories import EmailAccountFactory

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
OTHER = Fernet.generate_key().decode()


def keys(*keys):
    return override_settings(MASSMAIL={"ENCRYPTION_KEYS": list(keys)})


def stored(account):
    """The password column exactly as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT password FROM {EmailAccount._meta.db_table} WHERE id = %s",
                       [account.pk])
        return cursor.fetchone()[0]


def rotate(**options):
    out = io.StringIO()
    call_command("massmail_rotate_keys", stdout=out, **options)
    return out.getvalue()


# --- round trip --------------------------------------------------------------------


@pytest.mark.django_db
def test_password_round_trip_is_encrypted_at_rest():
    with keys(OLD):
        account = EmailAccountFactory(password="s3cret pässwörd")
        raw = stored(account)
        assert raw != "s3cret pässwörd"
        assert "s3cret" not in raw
        assert Fernet(OLD).decrypt(raw.encode()).decode() == "s3cret pässwörd"
        assert EmailAccount.objects.get(pk=account.pk).password == "s3cret pässwörd"
        assert EmailAccount.objects.values_list("password", flat=True).get(pk=account.pk) == (
            "s3cret pässwörd")


@pytest.mark.django_db
def test_same_password_encrypts_differently_each_time():
    with keys(OLD):
        first, second = EmailAccountFactory(password="same"), EmailAccountFactory(password="same")
        assert stored(first) != stored(second)


@pytest.mark.django_db
def test_empty_password_is_stored_empty():
    """An account without SMTP auth needs no key to be read."""
    with keys(OLD):
        account = EmailAccountFactory(password="")
    assert stored(account) == ""
    with keys():
        assert EmailAccount.objects.get(pk=account.pk).password == ""


@pytest.mark.django_db
def test_saving_a_password_without_keys_is_a_configuration_error():
    with keys(), pytest.raises(ImproperlyConfigured, match="ENCRYPTION_KEYS"):
        EmailAccountFactory(password="secret")


def test_invalid_key_is_a_configuration_error():
    with keys("not-a-fernet-key"), pytest.raises(ImproperlyConfigured, match="invalid key"):
        crypto.encrypt("secret")


def test_a_single_key_may_be_given_as_a_string():
    with override_settings(MASSMAIL={"ENCRYPTION_KEYS": OLD}):
        assert crypto.decrypt(crypto.encrypt("secret")) == "secret"


# --- wrong key ---------------------------------------------------------------------


@pytest.mark.django_db
def test_wrong_key_raises_and_never_returns_ciphertext():
    with keys(OLD):
        account = EmailAccountFactory(password="secret")
    with keys(OTHER):
        with pytest.raises(DecryptionError, match="cannot be decrypted") as excinfo:
            EmailAccount.objects.get(pk=account.pk)
        assert "key that encrypted it is missing" in str(excinfo.value)
        with pytest.raises(DecryptionError):
            list(EmailAccount.objects.values_list("password", flat=True))
        # Rows are still usable when the secret is not loaded.
        assert EmailAccount.objects.defer("password").get(pk=account.pk).name == account.name


def test_damaged_ciphertext_raises():
    with keys(OLD):
        token = crypto.encrypt("secret")
        with pytest.raises(DecryptionError):
            crypto.decrypt(token[:-4] + "AAAA")
        with pytest.raises(DecryptionError):
            crypto.decrypt("plain text that was never encrypted")


def test_decryption_error_is_not_the_cryptography_exception():
    """Callers catch massmail's own error; the library's InvalidToken does not leak."""
    assert not issubclass(DecryptionError, InvalidToken)


# --- rotation ----------------------------------------------------------------------


@pytest.mark.django_db
def test_rotation_re_encrypts_under_the_newest_key():
    with keys(OLD):
        first = EmailAccountFactory(password="first secret")
        second = EmailAccountFactory(password="second secret")
        EmailAccountFactory(password="")  # nothing to re-encrypt
    with keys(NEW, OLD):
        output = rotate()
        assert "Re-encrypted 2 secret(s)" in output
        for account, password in ((first, "first secret"), (second, "second secret")):
            assert Fernet(NEW).decrypt(stored(account).encode()).decode() == password
            with pytest.raises(InvalidToken):
                Fernet(OLD).decrypt(stored(account).encode())
    with keys(NEW):  # the old key is gone and every password still decrypts
        assert sorted(EmailAccount.objects.values_list("password", flat=True)) == [
            "", "first secret", "second secret"]


@pytest.mark.django_db
def test_without_rotation_dropping_the_old_key_breaks_decryption():
    with keys(OLD):
        account = EmailAccountFactory(password="secret")
    with keys(NEW, OLD):
        assert EmailAccount.objects.get(pk=account.pk).password == "secret"  # old still reads
    with keys(NEW), pytest.raises(DecryptionError):
        EmailAccount.objects.get(pk=account.pk)


@pytest.mark.django_db
def test_rotation_streams_rows_in_chunks(monkeypatch):
    monkeypatch.setattr(massmail_rotate_keys, "CHUNK_SIZE", 2)
    with keys(OLD):
        accounts = [EmailAccountFactory(password=f"secret {n}") for n in range(5)]
    with keys(NEW, OLD):
        assert "Re-encrypted 5 secret(s)" in rotate(verbosity=2)
    with keys(NEW):
        for n, account in enumerate(accounts):
            assert EmailAccount.objects.get(pk=account.pk).password == f"secret {n}"


@pytest.mark.django_db
def test_rotation_with_a_missing_key_names_the_row_and_changes_nothing():
    with keys(NEW):
        readable = EmailAccountFactory(password="readable")
    with keys(OLD):
        lost = EmailAccountFactory(password="lost")
    before = stored(readable)
    with keys(NEW), pytest.raises(DecryptionError, match=rf"massmail.EmailAccount pk={lost.pk}"):
        rotate()
    assert stored(readable) == before  # one transaction: the earlier row was rolled back


@pytest.mark.django_db
def test_rotation_without_keys_fails_before_reading():
    with keys(), pytest.raises(ImproperlyConfigured):
        rotate()


@pytest.mark.django_db
def test_rotation_of_an_empty_table():
    with keys(NEW):
        assert "Re-encrypted 0 secret(s)" in rotate()


# --- system check ------------------------------------------------------------------


def test_missing_key_is_an_error_outside_debug():
    with keys(), override_settings(DEBUG=False):
        (error,) = encryption_keys_check(None)
        assert error.id == "massmail.E010"
        assert 'MASSMAIL["ENCRYPTION_KEYS"] is empty' in error.msg
        assert "Fernet.generate_key()" in error.hint
        assert "massmail.E010" in [m.id for m in run_checks()]


def test_missing_key_is_allowed_in_debug():
    with keys(), override_settings(DEBUG=True):
        assert encryption_keys_check(None) == []
        assert "massmail.E010" not in [m.id for m in run_checks()]


def test_malformed_key_is_an_error_even_in_debug():
    with keys("too-short"), override_settings(DEBUG=True):
        (error,) = encryption_keys_check(None)
    assert error.id == "massmail.E010"
    assert "invalid key" in error.msg


def test_configured_keys_pass():
    with keys(NEW, OLD), override_settings(DEBUG=False):
        assert encryption_keys_check(None) == []
