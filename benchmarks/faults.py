"""Fault-storm benchmark: one mailing through real Celery workers and a hostile SMTP server.

Run it from the repository root, with PostgreSQL and Redis (both required):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python benchmarks/faults.py
    options: -n 2000               recipients of the mailing
             --workers 2           Celery worker processes
             --accounts 3          non-main SMTP accounts of the manager, all on the server
             --kill-after 600      accepted emails before one worker is SIGKILLed
             --dispatch-interval 60  seconds between two dispatches (the production beat)
             --retry-delays 5,10,20  MASSMAIL["RETRY_DELAYS"] of this run
             --timeout 900         give up after this many seconds

It never touches your data: it drops and creates a database named ``massmail_faults`` on
the PostgreSQL server of ``DATABASE_URL`` (removed at the end), and it empties the Redis
database of ``REDIS_URL`` at the start and at the end (a SIGKILLed worker leaves its
unacknowledged task there, which the broker would hand out again an hour later).

What runs:

- an SMTP server (aiosmtpd, in this process, on 127.0.0.1) that refuses 2% of the
  recipients as unknown users (550 5.1.1 at RCPT), 1% as full mailboxes (452 4.2.2,
  Gmail's wording), greylists 1% on their first try (451 4.7.1), refuses exactly one
  recipient by policy (Gmail's multi-line 550-5.7.26), and every 500th email it receives
  it reads the whole data and then hangs up without replying;
- ``--workers`` ``celery -A example_project worker`` processes (prefork, concurrency 1,
  prefetch multiplier 1) on the Redis broker, each in its own process group;
- the manager's ``--accounts`` non-main accounts, all on that server, and one mailing of
  ``-n`` contacts (the 50 KB newsletter of throughput.py) sent through them;
- ``massmail.tasks.dispatch`` queued from this process every ``--dispatch-interval``
  seconds (the beat's job; activation queues the first one), not Celery beat itself;
- after ``--kill-after`` accepted emails, the worker running a batch is SIGKILLed (its
  whole process group: the pool child that holds the SMTP session dies with it) and
  started again at once under the same name.

The workers use a settings module written to a temporary directory: the example
project's settings with ``RETRY_DELAYS`` (and nothing else) changed, printed at the start.

What it prints: deliveries by status and failures by class, against what the server
was told to do; duplicates (an address whose data the server received twice) and lost
rows (rows still open at the end, addresses received but recorded neither sent nor
unknown, rows recorded sent that the server never received, Message-IDs that differ);
the seconds from the kill to the first email accepted for the killed worker's account on
a new connection (target under 90 s); the total time. The exit code is 0 only when
duplicates and lost rows are 0, the mailing finished in time and the recovery met its
target.
"""

import argparse
import ast
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import (  # noqa: E402  (benchmarks/ is not a package)
    ROOT,
    analyze,
    base_environment,
    describe_database,
    free_port,
    load_average,
    newsletter_html,
    postgres_admin_connection,
    seed_contacts,
    setup_django,
    status_counts,
)

DATABASE = "massmail_faults"
MANAGER = "faults-manager"
SETTINGS_MODULE = "massmail_faults_settings"
RECOVERY_TARGET = 90
RESET_EVERY = 500
POLL_SECONDS = 0.2
LOG_DIR = ROOT / "var" / "faults"

UNKNOWN_USER = ("550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
                "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
                "550-5.1.1 unnecessary spaces. Learn more at\r\n"
                "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser")
MAILBOX_FULL = ("452-4.2.2 The email account that you tried to reach is over quota. Please direct\r\n"
                "452-4.2.2 the recipient to\r\n"
                "452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp")
GREYLISTED = "451 4.7.1 Greylisting in action, please come back later"
POLICY = ("550-5.7.26 This mail is unauthenticated, which poses a security risk to the\r\n"
          "550-5.7.26 sender and Gmail users, and has been blocked. The sender must\r\n"
          "550-5.7.26 authenticate with at least one of SPF or DKIM. For this message,\r\n"
          "550-5.7.26 DKIM checks did not pass and SPF check for [bench.example.com] did not\r\n"
          "550-5.7.26 pass with ip: [127.0.0.1]. To best protect our users from spam, the\r\n"
          "550 5.7.26 message has been blocked.")
# The failed rows' classes, by the enhanced code of their last reply.
FAILURE_CLASSES = {"5.1.1": "unknown user", "4.2.2": "mailbox full", "5.7.26": "policy"}
ADDRESS_INDEX = re.compile(r"^person(\d+)@")
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.I | re.M)


# --- command line -------------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(
        description="Fault-storm benchmark of the massmail engine with real Celery workers.")
    parser.add_argument("-n", type=int, default=2000, help="recipients of the mailing")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--accounts", type=int, default=3, help="non-main SMTP accounts")
    parser.add_argument("--kill-after", type=int, default=600,
                        help="accepted emails before a worker is SIGKILLed")
    parser.add_argument("--dispatch-interval", type=float, default=60,
                        help="seconds between two dispatches (production: DISPATCH_INTERVAL)")
    parser.add_argument("--retry-delays", default="5,10,20",
                        help="MASSMAIL['RETRY_DELAYS'] in seconds, comma-separated")
    parser.add_argument("--timeout", type=float, default=900, help="give up after this long")
    args = parser.parse_args()
    args.retry_delays = [int(delay) for delay in args.retry_delays.split(",")]
    return args


def main():
    args = parse_args()
    url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not url.startswith("postgres") or not redis_url.startswith("redis"):
        print("faults.py needs DATABASE_URL=postgres://... and REDIS_URL=redis://... "
              "(a Redis database of its own: it is emptied)", file=sys.stderr)
        return 2
    return benchmark(args, url, redis_url)


# --- the fault plan and the SMTP server ---------------------------------------------

@dataclass
class FaultPlan:
    """Which recipient (by the index in ``person<i>@...``) gets which fault."""

    n: int
    policy_index: int = 0

    def __post_init__(self):
        self.policy_index = next(i for i in range(self.n // 2, self.n) if self.fault(i) is None)

    def fault(self, index):
        if index % 50 == 7:
            return "unknown user"
        if index % 100 == 13:
            return "mailbox full"
        if index % 100 == 29:
            return "greylisted"
        if index == self.policy_index:
            return "policy"
        return None

    def expected(self):
        return Counter(self.fault(i) for i in range(self.n) if self.fault(i))


@dataclass
class Received:
    at: float  # time.monotonic() when the data was complete
    mail_from: str
    rcpt: str
    message_id: str
    opened_at: float  # when the session's EHLO came (connections opened after a kill)
    answered: bool  # False: the server hung up instead of replying


@dataclass
class FaultHandler:
    """aiosmtpd handler applying the plan; runs on the server's thread."""

    plan: FaultPlan
    received: list = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)
    greylisted: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        session.opened_at = time.monotonic()
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_reply(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    def rcpt_reply(self, address):
        match = ADDRESS_INDEX.match(address)
        fault = self.plan.fault(int(match.group(1))) if match else None
        with self.lock:
            if fault == "greylisted":
                if address in self.greylisted:
                    return None
                self.greylisted.add(address)
            if fault:
                self.refused[fault] += 1
        return {"unknown user": UNKNOWN_USER, "mailbox full": MAILBOX_FULL,
                "greylisted": GREYLISTED, "policy": POLICY}.get(fault)

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content
        found = MESSAGE_ID.search(data[:data.find(b"\r\n\r\n")])
        with self.lock:
            answered = (len(self.received) + 1) % RESET_EVERY != 0
            for rcpt in envelope.rcpt_tos:
                self.received.append(Received(
                    time.monotonic(), envelope.mail_from, rcpt,
                    found.group(1).decode() if found else "", getattr(session, "opened_at", 0),
                    answered))
        if not answered:  # all the data arrived; hang up instead of replying
            server.transport.close()
        return "250 2.0.0 OK: queued"

    def snapshot(self):
        with self.lock:
            return list(self.received)


def start_server(plan):
    from aiosmtpd.controller import Controller

    handler = FaultHandler(plan)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, handler


# --- settings, database and broker --------------------------------------------------

def write_settings_module(directory, retry_delays):
    """The example project's settings with this run's RETRY_DELAYS, importable by name."""
    path = Path(directory) / f"{SETTINGS_MODULE}.py"
    path.write_text(
        '"""Settings of one benchmarks/faults.py run (written by it, removed after)."""\n'
        "from example_project.settings import *  # noqa: F403\n\n"
        f"MASSMAIL = {{**MASSMAIL, 'RETRY_DELAYS': {retry_delays!r}}}  # noqa: F405\n")
    return {"DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "PYTHONPATH": os.pathsep.join([str(directory), str(ROOT)])}


def on_database(url, name):
    return urlunparse(urlparse(url)._replace(path="/" + name))


def recreate_database(url):
    """Drop and create the benchmark database; returns the DATABASE_URL pointing at it.
    The server's ``postgres`` database serves for that (the one of ``url`` need not exist)."""
    with postgres_admin_connection(on_database(url, "postgres")) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')
    return on_database(url, DATABASE)


def drop_database(url):
    from django.db import connections

    connections.close_all()
    with postgres_admin_connection(on_database(url, "postgres")) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def empty_broker(redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()


# --- the Celery workers -------------------------------------------------------------

class Workers:
    """``celery -A example_project worker`` subprocesses, each in its own process group
    so that a SIGKILL takes its pool child too."""

    def __init__(self, count, log_dir, prefix="faults"):
        self.names = [f"{prefix}{index + 1}@%h" for index in range(count)]
        self.log_dir = log_dir
        self.processes = {}

    def start(self, name):
        log = open(self.log_dir / f"{name.split('@')[0]}.log", "a")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "example_project", "worker", "-n", name,
             "--concurrency", "1", "--prefetch-multiplier", "1", "--pool", "prefork",
             "--loglevel", "WARNING"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def kill(self, name):
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self):
        """Warm shutdown, then SIGKILL whatever is left after 30 s."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        self.processes.clear()


def _signal_group(process, signum):
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def hostname(name):
    return name.replace("%h", os.uname().nodename)


def wait_ready(app, workers, names, timeout=120):
    """Wait until every named worker answers a ping."""
    wanted = {hostname(name) for name in names}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in workers.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"Worker {name} exited with code {process.returncode}; "
                                   f"see {workers.log_dir}.")
        answers = app.control.ping(destination=sorted(wanted), timeout=1)
        if wanted <= {name for answer in answers for name in answer}:
            return
    raise RuntimeError(f"The workers did not answer within {timeout} s; see {workers.log_dir}.")


def running_batch(app, name):
    """The account id of the batch the worker ``name`` runs now, or None."""
    active = app.control.inspect(destination=[hostname(name)], timeout=1).active() or {}
    for task in active.get(hostname(name), []):
        if task.get("name") == "massmail.tasks.send_batch":
            args = task.get("args")
            args = ast.literal_eval(args) if isinstance(args, str) else args
            return args[1]
    return None


# --- seeding ------------------------------------------------------------------------

def seed(n, accounts, port, manager=MANAGER):
    """The manager, ``accounts`` accounts on the fault server and a paused mailing.
    benchmarks/scale.py seeds several managers (each its own senders) with it."""
    from django.contrib.auth import get_user_model

    from example_project.crm.models import Contact
    from massmail import api
    from massmail.models import EmailAccount, MassmailSettings, Message

    settings = MassmailSettings.load()
    settings.use_business_time = False
    settings.emails_per_day = 100 * n
    settings.unsubscribe_url = "https://crm.example.com/unsubscribed/"
    settings.postal_address = "Example Ltd, 1 Main Street, 12345 Sample Town"
    settings.save()
    user = get_user_model().objects.create(
        username=manager, is_staff=True, email=f"{manager}@bench.example.com")
    for number in range(1, accounts + 1):
        EmailAccount.objects.create(
            owner=user, name=f"Relay {number}", from_email=f"news{number}@{manager}.example.com",
            smtp_host="127.0.0.1", smtp_port=port, smtp_user="", use_tls=False, use_ssl=False,
            daily_limit=100 * n, main=False, massmail=True)
    seed_contacts(user, n)
    message = Message.objects.create(
        owner=user, subject='{{ first_name }}, the quarterly news for {{ company|default:"you" }}',
        content=newsletter_html())
    mailing = api.create_mailing(owner=user, message=message,
                                 recipients=[Contact.objects.filter(owner=user)])
    analyze()
    return mailing


# --- the run ------------------------------------------------------------------------

@dataclass
class Run:
    started: float
    kill_at: float | None = None
    killed_worker: str = ""
    killed_account: int | None = None
    restarted_ready_at: float | None = None
    recovered_at: float | None = None
    finished_at: float | None = None
    lease_end: float | None = None  # when the killed batch's account lease ran out
    dispatches: list = field(default_factory=list)  # when each dispatch was queued
    load_start: str = ""

    def seconds(self, moment):
        return moment - self.started


def drive(args, app, workers, handler, mailing, run):
    """Dispatch, kill and restart, and wait for the mailing to finish or the timeout."""
    from massmail import tasks
    from massmail.models import Delivery, EmailAccount
    from massmail.sending.states import OPEN

    senders = dict(EmailAccount.objects.values_list("pk", "from_email"))
    next_dispatch = run.started + args.dispatch_interval
    deadline = run.started + args.timeout
    while time.monotonic() < deadline:
        if time.monotonic() >= next_dispatch:
            tasks.queue_dispatch()
            run.dispatches.append(time.monotonic())
            next_dispatch += args.dispatch_interval
        received = handler.snapshot()
        if run.kill_at is None and len(received) >= args.kill_after:
            kill_one(app, workers, run)
        if run.kill_at is not None and run.recovered_at is None:
            run.recovered_at = next(
                (r.at for r in received if r.answered and r.opened_at > run.kill_at
                 and r.mail_from == senders.get(run.killed_account)), None)
        if not Delivery.objects.filter(mailing=mailing, status__in=OPEN).exists():
            run.finished_at = time.monotonic()
            return True
        time.sleep(POLL_SECONDS)
    return False


def kill_one(app, workers, run):
    """SIGKILL a worker that is running a batch, then start it again."""
    for name in list(workers.processes):
        account = running_batch(app, name)
        if account is not None:
            break
    else:
        return  # nobody is sending this instant: try again on the next poll
    workers.kill(name)
    run.kill_at = time.monotonic()
    run.killed_worker, run.killed_account = hostname(name), account
    run.lease_end = lease_end(account)
    workers.start(name)
    wait_ready(app, workers, [name])
    run.restarted_ready_at = time.monotonic()


def lease_end(account_id):
    """time.monotonic() at which the account's batch lease ends (None: not held)."""
    from django.utils import timezone

    from massmail.models import EmailAccount

    until = EmailAccount.objects.get(pk=account_id).batch_lease_until
    return time.monotonic() + (until - timezone.now()).total_seconds() if until else None


# --- the report ---------------------------------------------------------------------

def failure_classes(mailing):
    """Counter of failed rows by FAILURE_CLASSES (else "other <code>")."""
    from massmail.models import Delivery
    from massmail.sending.replies import ENHANCED

    classes = Counter()
    for code, reply in mailing.deliveries.filter(status=Delivery.Status.FAILED).values_list(
            "smtp_code", "smtp_reply"):
        match = ENHANCED.match(reply or "")
        enhanced = ".".join(match.groups()) if match else ""
        classes[FAILURE_CLASSES.get(enhanced, f"other {code} {enhanced}".strip())] += 1
    return classes


def check(mailing, received, greylisted):
    """Duplicates and lost rows, comparing the server's log with the rows."""
    from massmail.models import Delivery
    from massmail.sending.states import OPEN, WORKER_STOPPED

    rows = {email: (status, message_id, reply) for email, status, message_id, reply in
            mailing.deliveries.values_list("email", "status", "message_id", "smtp_reply")}
    by_address = Counter(r.rcpt for r in received)
    accepted = {r.rcpt: r for r in received if r.answered}
    reset = {r.rcpt for r in received if not r.answered}
    killed = {email for email, (status, _m, reply) in rows.items()
              if status == Delivery.Status.UNKNOWN and reply == WORKER_STOPPED}
    return {
        "duplicates": sorted(address for address, count in by_address.items() if count > 1),
        "open": sorted(email for email, row in rows.items() if row[0] in OPEN),
        "received, not recorded": sorted(
            address for address in accepted
            if rows.get(address, ("",))[0] not in (Delivery.Status.SENT, Delivery.Status.UNKNOWN)),
        "recorded sent, not received": sorted(
            email for email, row in rows.items()
            if row[0] == Delivery.Status.SENT and email not in accepted),
        # Every email that arrived carries the Message-ID its row committed before sending.
        "Message-ID differs": sorted(
            r.rcpt for r in received if rows.get(r.rcpt, ("", ""))[1] != r.message_id),
        "reset": reset,
        "greylisted, then sent": {email for email in greylisted
                                  if rows.get(email, ("",))[0] == Delivery.Status.SENT},
        "killed": killed,
        "killed and received": killed & set(by_address),
    }


def report(args, database, server_port, run, mailing, handler, plan, ok_in_time):
    from massmail.conf import conf
    from massmail.models import Delivery, EmailAccount

    received = handler.snapshot()
    statuses = status_counts(Delivery)
    found = check(mailing, received, set(handler.greylisted))
    lost = sum(len(found[key]) for key in ("open", "received, not recorded",
                                           "recorded sent, not received", "Message-ID differs"))
    print("massmail fault benchmark")
    print(f"  database      {database}")
    print(f"  broker        {os.environ['REDIS_URL']} (emptied before and after)")
    print(f"  workers       {args.workers} x celery -A example_project worker --pool prefork "
          f"--concurrency 1 --prefetch-multiplier 1 (logs in {LOG_DIR})")
    print(f"  SMTP server   aiosmtpd on 127.0.0.1:{server_port}, {args.accounts} non-main accounts "
          f"on it; faults planned: {dict(plan.expected())}, a reset during DATA every "
          f"{RESET_EVERY} emails received")
    print(f"  dispatch      massmail.tasks.dispatch queued by this process every "
          f"{args.dispatch_interval:g} s (production beat: DISPATCH_INTERVAL="
          f"{conf.DISPATCH_INTERVAL}): at activation, then at "
          f"{', '.join(f'+{run.seconds(at):.0f}' for at in run.dispatches)} s")
    print(f"  settings      working hours off; daily limits {100 * args.n:,}; RETRY_DELAYS="
          f"{conf.RETRY_DELAYS}, MAX_ATTEMPTS={conf.MAX_ATTEMPTS}, LEASE_SECONDS="
          f"{conf.LEASE_SECONDS}, BATCH_SIZE={conf.BATCH_SIZE}, BATCH_MAX_SECONDS="
          f"{conf.BATCH_MAX_SECONDS}, SENDING_GROUP={conf.SENDING_GROUP}, BREAKER_THRESHOLD="
          f"{conf.BREAKER_THRESHOLD}")
    print(f"  load average  {run.load_start} at the start, {load_average()} at the end "
          f"({os.cpu_count()} CPUs)")
    report_rows(args, statuses, mailing, found, plan)
    report_server(handler, received)
    print(f"  duplicates    {len(found['duplicates'])} {found['duplicates'][:5] or ''}")
    print(f"  lost rows     {lost} (open at the end {len(found['open'])}, received but recorded "
          f"neither sent nor unknown {len(found['received, not recorded'])}, recorded sent but "
          f"never received {len(found['recorded sent, not received'])}, received with another "
          f"Message-ID than its row's "
          f"{len(found['Message-ID differs'])})")
    recovery = report_kill(run)
    report_accounts(EmailAccount, mailing)
    total = (run.finished_at or time.monotonic()) - run.started
    print(f"  total time    {total:.1f} s from activation to the last row finished"
          + ("" if ok_in_time else f" (GAVE UP after {args.timeout:g} s: the mailing did not "
                                   f"finish)"))
    return verdict(found["duplicates"], lost, recovery, ok_in_time)


def report_rows(args, statuses, mailing, found, plan):
    failed = failure_classes(mailing)
    expected = plan.expected()
    print(f"  deliveries    {args.n:,}: {dict(sorted(statuses.items()))}")
    print(f"  sent          {statuses.get('sent', 0):,} ({len(found['greylisted, then sent'])} "
          f"of them greylisted first and sent on a retry; {expected['greylisted']} planned)")
    print(f"  failed        {sum(failed.values())}: " + ", ".join(
        f"{label} {count} (planned {expected.get(label, 0)})"
        for label, count in sorted(failed.items())) + f"; {bounced_suppressions()} addresses "
        f"suppressed as bounced")
    planned_faults = sum(plan.fault(int(ADDRESS_INDEX.match(email).group(1))) is not None
                         for email in found["killed"])
    print(f"  unknown       {statuses.get('unknown', 0)}: {len(found['reset'])} reset during "
          f"DATA (data received, no reply), {len(found['killed'])} held by the killed worker "
          f"({len(found['killed and received'])} of them had reached the server; "
          f"{planned_faults} had a planned fault, so that class has fewer failures)")
    print(f"  skipped       {statuses.get('skipped', 0)}")


def bounced_suppressions():
    from massmail.models import Suppression

    return Suppression.objects.filter(reason=Suppression.Reason.BOUNCED).count()


def report_server(handler, received):
    answered = sum(r.answered for r in received)
    print(f"  server        {len(received):,} emails received: {answered:,} accepted, "
          f"{len(received) - answered} reset during DATA; refused at RCPT "
          f"{dict(handler.refused)}")


def report_kill(run):
    """Print the kill and the recovery; returns the recovery in seconds (None: never)."""
    if run.kill_at is None:
        print("  kill          NOT DONE: fewer emails than --kill-after were accepted")
        return None
    print(f"  kill          worker {run.killed_worker} SIGKILLed at +{run.seconds(run.kill_at):.1f} s "
          f"while sending for account {run.killed_account}; restarted, ready "
          f"{run.restarted_ready_at - run.kill_at:.1f} s later")
    if run.lease_end is not None:
        print(f"                the killed batch's hold on account {run.killed_account} "
              f"(its batch lease, not renewed any more) ran out at "
              f"+{run.seconds(run.lease_end):.1f} s, {run.lease_end - run.kill_at:.1f} s after "
              f"the kill")
    if run.recovered_at is None:
        print(f"  recovery      NEVER: no email of account {run.killed_account} was accepted "
              f"on a new connection after the kill")
        return None
    recovery = run.recovered_at - run.kill_at
    print(f"  recovery      {recovery:.1f} s from the kill to account {run.killed_account}'s next "
          f"accepted email (target under {RECOVERY_TARGET} s)")
    return recovery


def report_accounts(model, mailing):
    from django.db.models import Count, Q

    from massmail.models import Delivery

    accounts = model.objects.annotate(sent=Count("deliveries", filter=Q(
        deliveries__mailing=mailing, deliveries__status=Delivery.Status.SENT))).order_by("pk")
    for account in accounts:
        state = "disabled" if account.disabled_at else (
            f"paused until {account.paused_until:%H:%M:%S}" if account.paused_until else "usable")
        print(f"  account {account.pk}     {account.from_email}: {account.sent:,} sent, {state}"
              + (f"; last error: {account.last_error[:100]!r}" if account.last_error else ""))


def verdict(duplicates, lost, recovery, ok_in_time):
    problems = []
    if duplicates:
        problems.append(f"{len(duplicates)} duplicates")
    if lost:
        problems.append(f"{lost} lost rows")
    if not ok_in_time:
        problems.append("the mailing did not finish in time")
    if recovery is None or recovery >= RECOVERY_TARGET:
        problems.append("the killed worker's account did not recover within "
                        f"{RECOVERY_TARGET} s")
    print("  verdict       " + ("OK" if not problems else "FAILED: " + "; ".join(problems)))
    return 1 if problems else 0


def benchmark(args, url, redis_url):
    os.environ.update(base_environment())
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    workers = Workers(args.workers, LOG_DIR)
    controller = None
    with tempfile.TemporaryDirectory() as settings_dir:
        os.environ.update(write_settings_module(settings_dir, args.retry_delays))
        sys.path.insert(0, settings_dir)
        os.environ["DATABASE_URL"] = recreate_database(url)
        try:
            empty_broker(redis_url)
            setup_django()
            from example_project.celery import app
            from massmail import api

            plan = FaultPlan(args.n)
            controller, handler = start_server(plan)
            mailing = seed(args.n, args.accounts, controller.port)
            for name in workers.names:
                workers.start(name)
            wait_ready(app, workers, workers.names)
            run = Run(started=time.monotonic(), load_start=load_average())
            api.activate(mailing)  # queues the first dispatch
            ok_in_time = drive(args, app, workers, handler, mailing, run)
            workers.stop_all()
            mailing.refresh_from_db()
            return report(args, describe_database(), controller.port, run, mailing, handler,
                          plan, ok_in_time)
        finally:
            workers.stop_all()
            if controller:
                controller.stop()
            empty_broker(redis_url)
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
