"""Helpers of the mailbox feedback tests: messages built from the fixture corpus with
the addresses and Message-IDs that a test actually sent."""

from pathlib import Path

CORPUS = Path(__file__).parent / "fixtures" / "feedback"
# The account address the corpus messages are written to.
CORPUS_ACCOUNT = "sales@sender.example"


def from_corpus(name, **replacements):
    """The bytes of corpus message ``name`` with each key replaced by its value, e.g.
    ``from_corpus("outlook_oof_en.eml", **{"bob.brown@contoso.com": delivery.email})``."""
    data = (CORPUS / name).read_bytes()
    for old, new in replacements.items():
        data = data.replace(old.encode(), new.encode())
    return data


def about(name, delivery, address, message_id):
    """Corpus message ``name`` rewritten to be about ``delivery`` (which went to the
    corpus's ``address`` under ``message_id``)."""
    return from_corpus(name, **{address: delivery.email, message_id: delivery.message_id})
