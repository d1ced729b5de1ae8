"""The per-delivery token of tracked links, and the merge field that puts it in.

The token is the delivery id signed with its own salt: a click link copied out of an
email cannot be turned into that recipient's unsubscribe link, and the other way round.

Rewritten links hold one hidden merge field, ``CLICK_TOKEN``, which the prepared
message fills per recipient from the delivery id in the merge context (see
``rendering.recipient_context``): the only per-recipient work of tracking is one HMAC.
Without a delivery id (the admin preview, a test send) the field is ``PREVIEW_TOKEN``,
which is no valid signature: its links still redirect, and record nothing.
"""

from django.core import signing

from ..merge_fields import Field

SALT = "massmail.click"
# The merge context key of the delivery id (not a merge field authors can write).
DELIVERY_KEY = "massmail delivery id"
PREVIEW_TOKEN = "preview"


def make_token(delivery_id):
    """``<id>:<signature>``: a plain Signer, made once per email, so no timestamp or JSON."""
    return signing.Signer(salt=SALT).sign(str(delivery_id))


def read_token(token):
    """The delivery id of ``token``; ``signing.BadSignature`` when forged or damaged."""
    value = signing.Signer(salt=SALT).unsign(token)
    try:
        return int(value)
    except ValueError:
        raise signing.BadSignature("Not a delivery id.") from None


class _TokenField(Field):
    def value(self, context):
        delivery_id = context.get(DELIVERY_KEY)
        return PREVIEW_TOKEN if delivery_id is None else make_token(delivery_id)


# Its source text contains spaces, so it can never be the text of an authored field.
CLICK_TOKEN = _TokenField(source="{{ massmail click token }}", name=DELIVERY_KEY)
