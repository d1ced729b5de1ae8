"""Who is to blame for a reply: real replies of real providers, each with its class.

The table (tests/fixtures/smtp_replies.csv) holds replies as Gmail, Microsoft 365,
Outlook.com, Yahoo, Postfix, Exim, Exchange and Sendmail send them, with the stage they
answer and the party the engine must blame.
"""

import csv
from pathlib import Path

import pytest

from massmail.sending.replies import Blame, Stage, classify

TABLE = Path(__file__).parent / "fixtures" / "smtp_replies.csv"
ROWS = list(csv.DictReader(TABLE.open(encoding="utf-8")))


def test_the_table_covers_every_provider_and_at_least_thirty_replies():
    assert len(ROWS) >= 30
    providers = {row["provider"] for row in ROWS}
    assert {"Gmail", "Microsoft 365", "Yahoo", "Postfix", "Exim", "Exchange"} <= providers


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row['provider']}-{row['code']}-{row['reply'][:30]}")
def test_reply_is_blamed_on_the_right_party(row):
    verdict = classify(row["stage"], int(row["code"]), row["reply"])
    assert verdict.blame == row["blame"]


@pytest.mark.parametrize("stage", [Stage.CONNECT, Stage.EHLO, Stage.AUTH, Stage.MAIL])
def test_anything_refused_before_rcpt_is_the_account(stage):
    assert classify(stage, 550, "5.1.1 User unknown").blame == Blame.ACCOUNT


def test_a_temporary_reply_never_fails_a_row_for_good():
    assert classify(Stage.RCPT, 450, "4.1.1 User unknown").blame == Blame.TEMPORARY
    assert classify(Stage.END, 451, "4.7.26 unauthenticated").blame == Blame.TEMPORARY


def test_a_lost_connection_is_unknown_only_after_the_data():
    assert classify(Stage.END, None, "reset").blame == Blame.UNKNOWN
    assert classify(Stage.RCPT, None, "reset").blame == Blame.TEMPORARY
    assert classify(Stage.RCPT, None, "reset").dropped


@pytest.mark.parametrize("stage, code, reply, quota", [
    ("end", 550, "5.4.5 Daily user sending quota exceeded.", True),
    ("rcpt", 421, "4.7.28 Our system has detected an unusual rate of unsolicited mail", True),
    ("mail", 421, "4.7.0 Too many messages sent from this account, try again later", True),
    ("auth", 535, "5.7.8 Username and Password not accepted.", False),
    ("rcpt", 452, "4.2.2 The email account that you tried to reach is over quota.", False),
])
def test_a_sending_quota_is_told_from_other_account_refusals(stage, code, reply, quota):
    assert classify(stage, code, reply).quota == quota
