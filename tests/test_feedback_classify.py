"""The classifier against a corpus of mailbox messages in the shapes that Gmail,
Outlook/Microsoft 365, Yahoo, Postfix, Exim, qmail, Exchange and Sendmail produce
(tests/fixtures/feedback, expected classes in expected.csv).

Prints the accuracy; it must be at least 95 %, with no human reply taken for a bounce
and no auto-reply classified as anything that suppresses.
"""

import csv
from pathlib import Path

import pytest

from massmail.feedback import classify

CORPUS = Path(__file__).parent / "fixtures" / "feedback"
SUPPRESSING = {"hard", "soft", "complaint", "reply_unsubscribe"}


def label(feedback):
    """The corpus label of a classification."""
    if feedback.kind == classify.BOUNCE:
        if not feedback.failures:
            return "other"
        return "hard" if any(f.permanent for f in feedback.failures) else "soft"
    if feedback.kind == classify.REPLY and feedback.unsubscribe:
        return "reply_unsubscribe"
    return feedback.kind


def corpus():
    with open(CORPUS / "expected.csv", newline="") as table:
        return [(row["file"], row["expected"]) for row in csv.DictReader(table)]


def test_corpus_is_large_and_complete():
    files = {path.name for path in CORPUS.glob("*.eml")}
    listed = {name for name, _expected in corpus()}
    assert files == listed
    assert len(files) >= 40


def test_corpus_accuracy(capsys):
    results = [(name, expected, label(classify.classify((CORPUS / name).read_bytes(),
                                                        {"sales@sender.example"})))
               for name, expected in corpus()]
    wrong = [(name, expected, got) for name, expected, got in results if expected != got]
    accuracy = 1 - len(wrong) / len(results)
    with capsys.disabled():
        print(f"\nfeedback corpus: {len(results) - len(wrong)}/{len(results)} correct "
              f"({accuracy:.1%}); wrong: {wrong or 'none'}")
    assert accuracy >= 0.95
    assert not [w for w in wrong if w[1].startswith("reply") and w[2] in ("hard", "soft")]
    assert not [w for w in wrong if w[1] == "auto_reply" and w[2] in SUPPRESSING]


@pytest.mark.parametrize("name", ["postfix_dsn_user_unknown.eml", "gmail_dsn_address_not_found.eml",
                                  "m365_ndr_recipient_not_found.eml", "qmail_text_bounce.eml",
                                  "exim_text_failed.eml", "yahoo_text_bounce.eml"])
def test_bounces_name_the_recipient_status_and_original(name):
    feedback = classify.classify((CORPUS / name).read_bytes(), {"sales@sender.example"})
    [failure] = feedback.failures
    assert "@" in failure.email and failure.email != "sales@sender.example"
    assert failure.status.startswith("5.")
    assert feedback.original_ids and feedback.original_ids[0].endswith("@sender.example>")


def test_complaint_with_redacted_recipient_keeps_the_original_message_id():
    feedback = classify.classify((CORPUS / "yahoo_arf_complaint.eml").read_bytes())
    assert feedback.kind == classify.COMPLAINT
    assert feedback.original_ids == ["<c7d8e9f0a1b24c3d4e5f6a7b8c9d0e1f@sender.example>"]
    assert feedback.failures[0].email == "yara.complains@yahoo.com"


@pytest.mark.parametrize("data", [b"", b"\x00\xff\xfe garbage", b"Subject: =?bogus?q?x?=\r\n\r\n",
                                  b"Content-Type: multipart/report; report-type=delivery-status; "
                                  b"boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status"
                                  b"\r\n\r\n\r\n\r\nAction: failed\r\n--x--\r\n"])
def test_garbage_is_never_an_error(data):
    assert classify.classify(data).kind in (classify.OTHER, classify.BOUNCE)
