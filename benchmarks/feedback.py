"""Mailbox feedback benchmark: the reader against a real Dovecot with 10,000 messages.

Run it from the repository root (Debian's dovecot-imapd must be installed):

    .venv/bin/python benchmarks/feedback.py                        # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/feedback.py                    # PostgreSQL
    options: -n 10000   messages of the full run
             --small 1000   messages of the first run (memory comparison)

It never touches your data: like throughput.py it creates and drops a database
(``massmail_feedback_benchmark`` on the PostgreSQL server of ``DATABASE_URL``, else
``var/feedback-benchmark.sqlite3``), and Dovecot
is a private instance from tests/imap.py on a free 127.0.0.1 port.

It seeds one account whose IMAP settings point at that Dovecot and a mailing of 1,000
sent deliveries, then writes messages into the INBOX's Maildir: the fixture corpus
(tests/fixtures/feedback: bounces, delays, complaints, auto-replies, replies, other)
over and over, each with its own Message-ID and about one of the deliveries, so the
reader classifies, matches and records as in production (the first report of a kind
changes a delivery, repeats find it done). A fresh subprocess reads the first ``--small``
messages, then, after the rest are written and the account's position is reset, another
reads all ``-n``. Each prints its rate and its peak RSS (VmHWM); the peaks must be about
equal, since the reader fetches in chunks of bounded size.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from itertools import cycle
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402  (the benchmark database and peak memory helpers)

# Its own throwaway database, so it can run beside the throughput benchmark.
throughput.BENCHMARK_DATABASE = "massmail_feedback_benchmark"
throughput.SQLITE_PATH = ROOT / "var" / "feedback-benchmark.sqlite3"

DELIVERIES = 1000
CORPUS = ROOT / "tests" / "fixtures" / "feedback"
OUR_ID = re.compile(rb"<[0-9a-f]{32}@sender\.example>")
HEADER_ID = re.compile(rb"^Message-I[Dd]:[^\r\n]*", re.M)


def parse_args():
    parser = argparse.ArgumentParser(description="Mailbox feedback reader benchmark.")
    parser.add_argument("-n", type=int, default=10000, help="messages of the full run")
    parser.add_argument("--small", type=int, default=1000, help="messages of the first run")
    parser.add_argument("--read", type=int, metavar="ACCOUNT", help=argparse.SUPPRESS)
    return parser.parse_args()


def read_run(account_id):
    """Inside the subprocess: read the account's mailbox once, print one JSON line."""
    import django

    django.setup()
    from massmail.feedback.reader import read_account

    profiler = None
    if os.environ.get("FEEDBACK_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    counts = read_account(account_id)
    elapsed = time.perf_counter() - started
    if profiler:
        profiler.disable()
        profiler.dump_stats(os.environ["FEEDBACK_PROFILE"])
    print(json.dumps({"elapsed": elapsed, "counts": counts, "rss_peak_kb": throughput.peak_rss_kb()}))


def run_reader(account_id):
    completed = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--read",
                                str(account_id)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def seed(dovecot):
    """The account reading ``dovecot`` and its mailing of DELIVERIES sent rows."""
    from django.utils import timezone

    from massmail.models import Delivery
    from tests.factories import DeliveryFactory, EmailAccountFactory, MailingFactory

    account = EmailAccountFactory(from_email="sales@sender.example", **dovecot.account_fields())
    mailing = MailingFactory(owner=account.owner)
    for index in range(DELIVERIES):
        DeliveryFactory(mailing=mailing, account=account, status=Delivery.Status.SENT,
                        sent_at=timezone.now(), message_id=f"<bench-{index}@sender.example>")
    return account


def corpus_messages():
    return [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))]


def write_messages(dovecot, start, stop, corpus):
    """Messages ``start``..``stop`` into the Maildir, each unique and about one delivery."""
    for index, data in zip(range(start, stop), cycle(corpus)):
        data = OUR_ID.sub(f"<bench-{index % DELIVERIES}@sender.example>".encode(), data)
        data = HEADER_ID.sub(f"Message-ID: <bench-message-{index}@mailbox.example>".encode(),
                             data, count=1)
        dovecot.deliver(data)


def warm_up(dovecot):
    """Let Dovecot index the new Maildir files, so the run times reading, not indexing."""
    with dovecot.client() as client:
        client.select_folder("INBOX", readonly=True)
        client.search(["ALL"])


def report(database, runs):
    print("massmail mailbox feedback benchmark")
    print(f"  database      {database}")
    print("  IMAP server   Dovecot (tests/imap.py), 127.0.0.1, Maildir")
    for size, result in runs:
        rate = size / result["elapsed"] if result["elapsed"] else 0
        print(f"  {size:>6,} messages read in {result['elapsed']:.2f} s = {rate:,.0f} messages/s, "
              f"peak RSS {result['rss_peak_kb'] / 1024:.1f} MB")
        print(f"         {json.dumps(result['counts'], sort_keys=True)}")
    growth = (runs[-1][1]["rss_peak_kb"] - runs[0][1]["rss_peak_kb"]) / 1024
    print(f"  memory growth from {runs[0][0]:,} to {runs[-1][0]:,} messages: {growth:+.1f} MB")
    print(f"  load average  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def benchmark(args):
    from tests.imap import Dovecot

    original_url = os.environ.get("DATABASE_URL")
    os.environ.update(throughput.base_environment())
    os.environ.update(throughput.create_database())
    dovecot = Dovecot(user="sales@sender.example").start()
    try:
        throughput.setup_django()
        database = throughput.describe_database()
        account = seed(dovecot)
        corpus = corpus_messages()
        write_messages(dovecot, 0, args.small, corpus)
        warm_up(dovecot)
        runs = [(args.small, run_reader(account.pk))]
        write_messages(dovecot, args.small, args.n, corpus)
        warm_up(dovecot)
        type(account).objects.filter(pk=account.pk).update(feedback_last_uid=0,
                                                           feedback_uidvalidity=None)
        runs.append((args.n, run_reader(account.pk)))
        report(database, runs)
    finally:
        dovecot.stop()
        throughput.drop_database(original_url)
    return 0


def main():
    args = parse_args()
    if args.read:
        read_run(args.read)
        return 0
    return benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
