"""Re-encrypt every stored secret under the newest key of MASSMAIL["ENCRYPTION_KEYS"].

Rotation is: put the new key first in the list (the old ones stay after it, so existing
values still decrypt), run this command, then drop the old keys. Every model field that
is an EncryptedTextField is rotated, not only EmailAccount.password, so a secret added
later cannot be forgotten here (the OAuth2 refresh tokens of EmailAccount are). Cached
OAuth2 access tokens are not rotated: they live an hour, and one that no key decrypts any
more is simply fetched again.

Everything runs in one transaction: if a value cannot be decrypted (its key was already
removed), DecryptionError names the row and nothing is changed, so the old key can be
put back and the command run again.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.db.models import ExpressionWrapper, F

from ... import crypto
from ...crypto import DecryptionError, EncryptedTextField

CHUNK_SIZE = 500


def encrypted_fields():
    """(model, field) of every EncryptedTextField of the installed models."""
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


class Command(BaseCommand):
    help = ("Re-encrypt every stored secret (passwords, OAuth2 refresh tokens) with the first key of "
            'MASSMAIL["ENCRYPTION_KEYS"].')

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default",
                            help="Database alias to rotate (default: %(default)s).")

    def handle(self, *args, database, verbosity, **options):
        crypto._fernet()  # a missing or malformed key fails here, before any row is read
        total = 0
        with transaction.atomic(using=database):
            for model, field in encrypted_fields():
                count = rotate(model, field, database)
                total += count
                if verbosity >= 2:
                    self.stdout.write(f"{model._meta.label}.{field.name}: {count}")
        self.stdout.write(self.style.SUCCESS(
            f"Re-encrypted {total} secret(s) with the newest key. Older keys can now be "
            'removed from MASSMAIL["ENCRYPTION_KEYS"].'
        ))


def rotate(model, field, database):
    """Decrypt each stored value and write it back, which encrypts it under the first key.

    The ciphertext is read as plain text (not through the field) so that a failure can
    name its row; iterator() streams the rows, so memory does not grow with the table.
    """
    manager = model._base_manager.db_manager(database)
    raw = ExpressionWrapper(F(field.attname), output_field=models.TextField())
    rows = (manager.exclude(**{f"{field.attname}__isnull": True}).exclude(**{field.attname: ""})
            .order_by("pk").values_list("pk", raw))
    count = 0
    for pk, token in rows.iterator(chunk_size=CHUNK_SIZE):
        try:
            plaintext = crypto.decrypt(token)
        except DecryptionError as exc:
            raise DecryptionError(f"{model._meta.label} pk={pk}, field {field.name!r}: {exc}") from None
        manager.filter(pk=pk).update(**{field.attname: plaintext})
        count += 1
    return count
