"""Scale benchmark of massmail on PostgreSQL (issue 14). Not part of the test run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python benchmarks/scale.py [--parts 1,2,3]    # --help lists the options

It never touches your data: like throughput.py it drops and creates a database, named
``massmail_scale`` (or ``$MASSMAIL_SCALE_DATABASE``), on the server of ``DATABASE_URL``
for each run, and removes it at the end. PostgreSQL only: the creation path it measures
is the set-based one.

Parts (each a function that prints its own section; ``PARTS`` lists them in order):

1. ``creation``: for each size, a fresh database is seeded in SQL with that many
   contacts of one manager, shaped like a real list: 0.5% are case variants of the
   previous address (duplicates), 0.2% hold two addresses ("a@x, b@y", which go
   through Python), 2% are not subscribed, 1.4% are disqualified, and 1% of the
   addresses are on the suppression list. A fresh subprocess then times
   ``api.create_mailing`` over all of them and reports its peak memory (VmHWM) and
   the rows and exclusion counts it wrote. Targets: 100,000 in under 3 s, 1,000,000
   in under 30 s, with flat memory.
2. ``multitenant``: ``--managers`` managers (seeded by faults.seed: the 50 KB
   newsletter of throughput.py), each with ``--accounts`` non-main accounts at
   Postfix's smtp-sink and a mailing of ``--recipients`` contacts (10 x 2 x 5,000 per
   account = the issue's 100,000 emails); working hours off, limits 100x the list.
   ``--workers`` Celery workers (faults.Workers: prefork, concurrency 1, prefetch 1)
   on the Redis database of ``REDIS_URL``, emptied before and after. The managers
   activate ``--spacing`` s apart; each activation queues its first batches, and this process
   queues ``massmail.tasks.dispatch`` every ``--dispatch-interval`` s (Celery beat's
   job). smtp-sink dumps every email into a FIFO read by grep, so the sender,
   recipient and Message-ID of each accepted email are counted. It prints the
   aggregate rate, each manager's first and last accepted email after its activation
   (the rows' sent_at), the spread of finish times, duplicates and lost rows.
   Targets: every first email within 5 s, max finish <= 2x the median, 0 and 0.
3. ``ratio``: throughput.py's engine and raw rounds (``--rounds``, interleaved) on a
   single account, its report, and whether the median ratio reaches 0.85.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import faults  # noqa: E402  (Celery workers, seeding a manager, the broker)
import throughput  # noqa: E402  (the database, environment and memory helpers, the sink)

# Its own database, so a throughput.py run on the same server is left alone; another
# name lets two runs share a server.
throughput.BENCHMARK_DATABASE = os.environ.get("MASSMAIL_SCALE_DATABASE", "massmail_scale")
MANAGER = "scale-manager"
SEED_STATEMENT = """
INSERT INTO {table} (first_name, last_name, email, company_id, owner_id, massmail, disqualified)
SELECT 'Anna', 'Smith',
       CASE WHEN i %% 200 = 0 THEN 'Person' || (i - 1) || '@Customers' || ((i - 1) %% 97) || '.example.org'
            WHEN i %% 500 = 1 THEN 'person' || i || '@customers' || (i %% 97) || '.example.org, '
                                  || 'home' || i || '@example.net'
            ELSE 'person' || i || '@customers' || (i %% 97) || '.example.org' END,
       NULL, %s, i %% 50 <> 3, i %% 70 = 5
FROM generate_series(1, %s) AS i
"""


def parse_args():
    parser = argparse.ArgumentParser(description="Scale benchmark of massmail (PostgreSQL).")
    parser.add_argument("--sizes", default="100000,1000000",
                        help="comma-separated recipient counts of the creation runs")
    parser.add_argument("--streamed", action="store_true",
                        help="also time the streamed path (SQLite's) at the smallest size")
    parser.add_argument("--parts", default="1,2,3",
                        help="comma-separated numbers of the parts to run (1 creation, "
                             "2 many managers, 3 engine/raw ratio)")
    parser.add_argument("--managers", type=int, default=10, help="managers of part 2")
    parser.add_argument("--accounts", type=int, default=2,
                        help="non-main accounts of each manager (part 2)")
    parser.add_argument("--recipients", type=int, default=10_000,
                        help="recipients of each manager's mailing (part 2); the issue's "
                             "100,000 emails are 10 managers x 2 accounts x 5,000 each")
    parser.add_argument("--workers", type=int, default=4,
                        help="Celery worker processes, concurrency 1 each (part 2)")
    parser.add_argument("--spacing", type=float, default=1,
                        help="seconds between two managers' activations (part 2)")
    parser.add_argument("--dispatch-interval", type=float, default=60,
                        help="seconds between two dispatches queued by the benchmark, as the "
                             "production beat's DISPATCH_INTERVAL (part 2)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="part 2 gives up after this many seconds")
    parser.add_argument("--ratio-n", type=int, default=5000,
                        help="emails of each engine and raw round (part 3)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved engine/raw rounds (part 3; the median counts)")
    parser.add_argument("--create-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    args.parts = [int(part) for part in args.parts.split(",") if part.strip()]
    if not set(args.parts) <= set(range(1, len(PARTS) + 1)):
        parser.error(f"--parts takes numbers from 1 to {len(PARTS)}")
    return args


# --- part 1: creating a mailing ------------------------------------------------------

def create_run(streamed):
    """Inside the subprocess: time create_mailing over the seeded contacts, print JSON.
    ``streamed`` takes the path of SQLite and of the fallback cases instead."""
    import django

    django.setup()
    if streamed:
        from massmail import creation

        creation.uses_database = lambda model: False
    from django.contrib.auth import get_user_model

    from example_project.crm.models import Contact
    from massmail import api
    from massmail.models import Message

    user = get_user_model().objects.get(username=MANAGER)
    message = Message.objects.create(owner=user, subject="Hello {{ first_name }}",
                                     content='<p><a href="{{ unsubscribe_url }}">stop</a></p>')
    rss_before = throughput.peak_rss_kb()
    started = time.perf_counter()
    mailing = api.create_mailing(owner=user, message=message,
                                 recipients=[Contact.objects.filter(owner=user)])
    seconds = time.perf_counter() - started
    print(json.dumps({
        "seconds": seconds, "deliveries": mailing.deliveries.count(),
        "excluded": mailing.excluded, "rss_before_kb": rss_before,
        "peak_kb": throughput.peak_rss_kb(),
    }), flush=True)


def seed_creation(size):
    """``size`` contacts of one manager and 1% of their addresses suppressed, in SQL."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from example_project.crm.models import Contact
    from massmail.models import Suppression

    user = get_user_model().objects.create(username=MANAGER, is_staff=True)
    with connection.cursor() as cursor:
        cursor.execute(SEED_STATEMENT.format(table=Contact._meta.db_table), [user.pk, size])
    Suppression.objects.bulk_create(
        [Suppression(email=f"Person{i}@customers{i % 97}.example.org", reason="unsubscribed")
         for i in range(7, size + 1, 100)], batch_size=5000)
    throughput.analyze()


def creation(args):
    """Part 1: create_mailing time and the creating process's peak memory per size."""
    from massmail.models import Mailing, Recipient

    print("1. Creating a mailing (api.create_mailing, set-based on PostgreSQL)")
    print(f"   {'recipients':>10}  {'seconds':>8}  {'deliveries':>10}  {'peak RSS':>9}  "
          f"{'growth':>7}  excluded")
    results = []
    for size in args.sizes:
        with benchmark_database():
            seed_creation(size)
            result = create_subprocess()
            results.append((size, result))
            print_creation(size, result)
            if args.streamed and size == min(args.sizes):
                Mailing.objects.all().delete()  # the same start: no deliveries, no
                Recipient.objects.all().delete()  # Recipient rows
                print_creation(size, create_subprocess("--streamed"), " (streamed path)")
    targets = {100_000: 3, 1_000_000: 30}  # seconds
    for size, result in results:
        if size in targets:
            verdict = "met" if result["seconds"] < targets[size] else "MISSED"
            print(f"   target {size:,} in < {targets[size]} s: {verdict}")
    peaks = [result["peak_kb"] / 1024 for _size, result in results]
    print(f"   peak memory from the smallest to the largest run: "
          f"{peaks[0]:.1f} MB -> {peaks[-1]:.1f} MB ({peaks[-1] - peaks[0]:+.1f} MB)")
    return results


def create_subprocess(*options):
    """Run create_run() in a fresh process (its own peak memory); its JSON result."""
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--create-run", *options], cwd=ROOT,
        stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def print_creation(size, result, note=""):
    growth = (result["peak_kb"] - result["rss_before_kb"]) / 1024
    print(f"   {size:>10,}  {result['seconds']:>8.2f}  {result['deliveries']:>10,}  "
          f"{result['peak_kb'] / 1024:>7.1f} MB  {growth:>+5.1f} MB  "
          f"{json.dumps(result['excluded'], sort_keys=True)}{note}", flush=True)


# --- part 2: many managers sending at once -------------------------------------------

FIRST_EMAIL_TARGET = 5  # seconds from activation to a manager's first accepted email
SPREAD_TARGET = 2  # the slowest manager's finish time over the median manager's
POLL_SECONDS = 1
PROGRESS_SECONDS = 30
SINK_LINES = "^(X-Mail-Args|X-Rcpt-Args|Message-ID):"


class SinkRecord:
    """What smtp-sink accepted: (sender, recipient, Message-ID) of every email.

    smtp-sink appends each email to its dump file (-D); here that file is a FIFO read
    by grep, which passes on only the envelope and Message-ID lines, so nothing of the
    50 KB bodies is kept or written to disk. smtp-sink dumps only emails whose data it
    received whole; the record is complete once smtp-sink has stopped (close())."""

    def __init__(self, directory):
        if os.geteuid() == 0:  # smtp-sink runs as nobody and writes a file beside the dump
            os.chmod(directory, 0o777)
        self.path = Path(directory) / "dump"
        os.mkfifo(self.path)
        os.chmod(self.path, 0o666)
        # Held open so that grep never reads end-of-file between two of smtp-sink's writes.
        self.writer = os.open(self.path, os.O_RDWR)
        self.grep = subprocess.Popen(["grep", "--line-buffered", "-a", "-i", "-E", SINK_LINES,
                                      str(self.path)], stdout=subprocess.PIPE, text=True)
        self.emails = []
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        sender, rcpts, message_id = "", [], None
        for line in self.grep.stdout:
            name, _colon, value = line.partition(":")
            name, value = name.lower(), value.strip()
            if name == "x-mail-args":  # "<address> BODY=8BITMIME ..."
                sender, rcpts, message_id = address(value), [], None
            elif name == "x-rcpt-args":
                rcpts.append(address(value))
            elif message_id is None:  # the header's, not a body line's
                message_id = value
                self.emails.extend((sender, rcpt, message_id) for rcpt in rcpts)

    def close(self):
        os.close(self.writer)  # smtp-sink has stopped: grep reads the end and exits
        self.grep.wait(timeout=30)
        self.thread.join(timeout=30)


def address(arguments):
    """The address of a MAIL or RCPT command's arguments."""
    return arguments.split(" ")[0].strip("<>")


def multitenant(args):
    """Part 2: ``--managers`` managers, each with ``--accounts`` accounts and a mailing of
    ``--recipients`` contacts, activated ``--spacing`` s apart, sent by ``--workers``
    Celery workers into smtp-sink."""
    redis_url = os.environ.get("REDIS_URL", "")
    print(f"2. Many managers at once: {args.managers} managers x {args.accounts} accounts x "
          f"{args.recipients:,} recipients = {args.managers * args.recipients:,} emails")
    if not redis_url.startswith("redis"):
        print("   SKIPPED: set REDIS_URL=redis://... (a Redis database of its own: it is emptied)")
        return None
    faults.LOG_DIR.mkdir(parents=True, exist_ok=True)
    workers = faults.Workers(args.workers, faults.LOG_DIR, prefix="scale")
    with benchmark_database(), tempfile.TemporaryDirectory() as directory:
        record = SinkRecord(directory)
        try:
            with throughput.smtp_sink(dump=record.path) as (sink_name, port):
                faults.empty_broker(redis_url)
                mailings = seed_tenants(args, port)
                from example_project.celery import app

                for name in workers.names:
                    workers.start(name)
                faults.wait_ready(app, workers, workers.names)
                run = drive_tenants(args, mailings)
                workers.stop_all()
        finally:
            workers.stop_all()
            record.close()
            faults.empty_broker(redis_url)
        return report_tenants(args, sink_name, mailings, run, record.emails)


def seed_tenants(args, port):
    """The managers, their accounts at the sink and their mailings (created, not active)."""
    started = time.perf_counter()
    mailings = [faults.seed(args.recipients, args.accounts, port, manager=f"manager{number:02}")
                for number in range(1, args.managers + 1)]
    print(f"   seeded in {time.perf_counter() - started:.1f} s (contacts, accounts, "
          f"create_mailing per manager)", flush=True)
    return mailings


def drive_tenants(args, mailings):
    """Activate the mailings ``--spacing`` s apart, queue a dispatch every
    ``--dispatch-interval`` s from the first activation, and wait until no row is open
    (or ``--timeout``). Returns the run's times: {"activated": {mailing id: datetime},
    "dispatches": [seconds after the first activation], "finished": bool, ...}."""
    from django.utils import timezone

    from massmail import api, tasks
    from massmail.models import Delivery
    from massmail.sending.states import OPEN

    run = {"activated": {}, "dispatches": [], "finished": False,
           "load_start": throughput.load_average()}
    started = time.monotonic()
    waiting = list(mailings)
    next_dispatch, next_progress = started + args.dispatch_interval, started + PROGRESS_SECONDS
    while time.monotonic() < started + args.timeout:
        now = time.monotonic()
        while waiting and now >= started + len(run["activated"]) * args.spacing:
            mailing = waiting.pop(0)
            run["activated"][mailing.pk] = timezone.now()
            api.activate(mailing)  # queues its first batches (DISPATCH_ON_ACTIVATE)
        if now >= next_dispatch:
            tasks.queue_dispatch()
            run["dispatches"].append(now - started)
            next_dispatch += args.dispatch_interval
        if not waiting and not Delivery.objects.filter(status__in=OPEN).exists():
            run["finished"] = True
            break
        if now >= next_progress:
            sent = Delivery.objects.filter(status=Delivery.Status.SENT).count()
            print(f"   ... +{now - started:.0f} s: {sent:,} sent", flush=True)
            next_progress += PROGRESS_SECONDS
        time.sleep(POLL_SECONDS if not waiting else 0.05)
    run["seconds"] = time.monotonic() - started
    return run


def tenant_times(mailings, activated):
    """Per mailing: (activation, seconds to its first and to its last accepted email,
    emails sent), from the rows' sent_at (written by the workers on the 250 reply)."""
    from django.db.models import Count, Max, Min

    from massmail.models import Delivery

    rows = {row["mailing"]: row for row in Delivery.objects.filter(
        status=Delivery.Status.SENT).values("mailing").annotate(
        first=Min("sent_at"), last=Max("sent_at"), sent=Count("id")).order_by()}
    times = []
    for mailing in mailings:
        row = rows.get(mailing.pk, {"first": None, "last": None, "sent": 0})
        at = activated.get(mailing.pk)
        times.append((
            mailing, at,
            (row["first"] - at).total_seconds() if at and row["first"] else None,
            (row["last"] - at).total_seconds() if at and row["last"] else None,
            row["sent"]))
    return times


def sink_check(emails):
    """Duplicates and lost rows, comparing what the sink accepted with the rows."""
    from massmail.models import Delivery
    from massmail.sending.states import OPEN

    rows = dict(Delivery.objects.values_list("message_id", "status").exclude(message_id=""))
    by_message_id = Counter(message_id for _sender, _rcpt, message_id in emails)
    by_address = Counter((sender, rcpt) for sender, rcpt, _message_id in emails)
    return {
        "duplicate Message-IDs": sum(count - 1 for count in by_message_id.values()),
        "duplicate (sender, recipient)": sum(count - 1 for count in by_address.values()),
        "open at the end": Delivery.objects.filter(status__in=OPEN).count(),
        "recorded sent, not received": sum(
            1 for message_id, status in rows.items()
            if status == Delivery.Status.SENT and message_id not in by_message_id),
        "received, not recorded sent": sum(
            1 for message_id in by_message_id if rows.get(message_id) != Delivery.Status.SENT),
    }


def report_tenants(args, sink_name, mailings, run, emails):
    """Print part 2's results; returns the list of missed targets."""
    from django.db.models import Max

    from massmail.conf import conf
    from massmail.models import Delivery

    first_activation = min(run["activated"].values())
    times = tenant_times(mailings, run["activated"])
    last_sent = Delivery.objects.aggregate(last=Max("sent_at"))["last"]
    elapsed = (last_sent - first_activation).total_seconds() if last_sent else 0
    print(f"   sink        {sink_name}, recording sender, recipient and Message-ID of each "
          f"email through its -D dump (a FIFO read by grep)")
    print(f"   workers     {args.workers} x celery -A example_project worker --pool prefork "
          f"--concurrency 1 --prefetch-multiplier 1, Redis {os.environ['REDIS_URL']}")
    print(f"   dispatch    no beat: each activation queues its first batches "
          f"(DISPATCH_ON_ACTIVATE), and this process queues massmail.tasks.dispatch every "
          f"{args.dispatch_interval:g} s (production beat: "
          f"DISPATCH_INTERVAL={conf.DISPATCH_INTERVAL}): at "
          f"{', '.join(f'+{at:.0f}' for at in run['dispatches']) or 'none'} s")
    print(f"   settings    working hours off, daily limits {100 * args.recipients:,}; BATCH_SIZE="
          f"{conf.BATCH_SIZE}, BATCH_MAX_SECONDS={conf.BATCH_MAX_SECONDS}, SENDING_GROUP="
          f"{conf.SENDING_GROUP}; activations {args.spacing:g} s apart")
    print(f"   load        {run['load_start']} at the start, {throughput.load_average()} at "
          f"the end ({os.cpu_count()} CPUs)")
    sent = sum(row[4] for row in times)
    print(f"   aggregate   {sent:,} sent in {elapsed:.1f} s from the first activation to the "
          f"last accepted email = {sent / elapsed if elapsed else 0:,.0f} emails/s"
          + ("" if run["finished"] else f" (GAVE UP after {args.timeout:g} s)"))
    print(f"   {'manager':<10} {'activated':>9} {'first email':>11} {'finished':>9} {'sent':>7}")
    for mailing, at, first, last, count in times:
        mark = "  <- activated last" if mailing is mailings[-1] else ""
        print(f"   {mailing.owner.username:<10} {seconds(at, first_activation):>9} "
              f"{optional(first):>11} {optional(last):>9} {count:>7,}{mark}")
    return tenant_verdict(times, sink_check(emails), len(emails))


def tenant_verdict(times, found, received):
    finishes = [last for _m, _a, _f, last, _c in times if last is not None]
    firsts = [first for _m, _a, first, _l, _c in times]
    missed = []
    if len(finishes) == len(times):
        median = statistics.median(finishes)
        spread = max(finishes) / median if median else 0
        print(f"   finish      min {min(finishes):.1f} s, median {median:.1f} s, max "
              f"{max(finishes):.1f} s; max/median {spread:.2f} (target <= {SPREAD_TARGET})")
        if spread > SPREAD_TARGET:
            missed.append(f"finish spread {spread:.2f} > {SPREAD_TARGET}")
    else:
        missed.append(f"{len(times) - len(finishes)} managers sent nothing")
    last_first = firsts[-1]
    print(f"   first email of the manager who activated last: {optional(last_first)} after "
          f"activation (target < {FIRST_EMAIL_TARGET} s); slowest first email of any manager: "
          f"{optional(max((f for f in firsts if f is not None), default=None))}")
    late = sum(1 for first in firsts if first is None or first >= FIRST_EMAIL_TARGET)
    if late:
        missed.append(f"{late} of {len(firsts)} managers' first email >= {FIRST_EMAIL_TARGET} s")
    lost = sum(found[key] for key in ("open at the end", "recorded sent, not received",
                                      "received, not recorded sent"))
    duplicates = found["duplicate Message-IDs"] + found["duplicate (sender, recipient)"]
    print(f"   sink        {received:,} emails accepted and recorded")
    print(f"   duplicates  {duplicates} (by Message-ID {found['duplicate Message-IDs']}, by "
          f"sender and recipient {found['duplicate (sender, recipient)']})")
    print(f"   lost rows   {lost} (open at the end {found['open at the end']}, recorded sent "
          f"but never received {found['recorded sent, not received']}, received but not "
          f"recorded sent {found['received, not recorded sent']})")
    if duplicates:
        missed.append(f"{duplicates} duplicates")
    if lost:
        missed.append(f"{lost} lost rows")
    print("   targets     " + ("all met" if not missed else "MISSED: " + "; ".join(missed)),
          flush=True)
    return missed


def seconds(at, origin):
    return f"+{(at - origin).total_seconds():.1f} s" if at else "never"


def optional(value):
    return f"{value:.1f} s" if value is not None else "never"


# --- part 3: the single-account engine/raw ratio -------------------------------------

RATIO_TARGET = 0.85


def ratio(args):
    """Part 3: throughput.py's engine and raw rounds, interleaved, and their median."""
    print("3. The single-account engine/raw ratio (throughput.py's rounds)", flush=True)
    options = argparse.Namespace(n=args.ratio_n, repeat=args.rounds, track_clicks=False,
                                 memory_sizes=[], profile=None)
    with benchmark_database(), throughput.smtp_sink() as (sink_name, port):
        result = throughput.throughput(options, port)
        throughput.report(sink_name, throughput.describe_database(), options, result, {})
        complete = throughput.all_sent(options, result, {})
    if os.environ.get("REDIS_URL", "").startswith("redis"):
        faults.empty_broker(os.environ["REDIS_URL"])  # the dispatches the activations queued
    median = statistics.median(throughput.ratio(r) for r in result["rounds"])
    print(f"   target median ratio >= {RATIO_TARGET}: "
          f"{'met' if median >= RATIO_TARGET else 'MISSED'} ({median:.2f})"
          + ("" if complete else "; NOT every email was sent"), flush=True)
    return median


# Each a function of ``args`` that prints its section; ``--parts`` picks them by number.
PARTS = [creation, multitenant, ratio]


# --- the benchmark database ----------------------------------------------------------

class benchmark_database:
    """A fresh, migrated benchmark database (the one Django is configured
    with, see main()) for the body of the with block; dropped afterwards."""

    def __enter__(self):
        from django.core.management import call_command
        from django.db import connections

        connections.close_all()
        throughput.drop_postgres_database(ORIGINAL_URL)
        with throughput.postgres_admin_connection(ORIGINAL_URL) as connection:
            connection.execute(f'CREATE DATABASE "{throughput.BENCHMARK_DATABASE}"')
        call_command("migrate", verbosity=0)

    def __exit__(self, *exc):
        from django.db import connections

        connections.close_all()
        throughput.drop_postgres_database(ORIGINAL_URL)


ORIGINAL_URL = os.environ.get("DATABASE_URL", "")


def main():
    args = parse_args()
    if args.create_run:
        create_run(args.streamed)
        return 0
    # A plain `kill` or `timeout` still stops the workers and drops the database.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    if not ORIGINAL_URL.startswith("postgres"):
        print("scale.py measures PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    os.environ.update(throughput.base_environment())
    # Points Django (and the subprocesses) at massmail_benchmark, created empty.
    os.environ.update(throughput.create_database())
    import django

    django.setup()
    print(f"massmail scale benchmark on {throughput.describe_database()}, "
          f"load average {throughput.load_average()}")
    try:
        for number in args.parts:
            PARTS[number - 1](args)
    finally:
        throughput.drop_database(ORIGINAL_URL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
