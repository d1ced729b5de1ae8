"""Throughput and memory benchmark of the massmail sending engine.

Run it from the repository root:

    .venv/bin/python benchmarks/throughput.py                       # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/throughput.py                   # PostgreSQL
    options: -n 5000           emails of the throughput run
             --memory-sizes 1000,50000   recipients of the memory runs
             --sink python     use benchmarks/sink.py even when smtp-sink is installed
             --profile FILE    also run the N-email engine run once more under cProfile,
                               write the stats to FILE and print the top costs
             --track-clicks    the newsletter tracks link clicks (its 15 links become
                               signed per-recipient redirects, plus the honeypot)

It never touches your data. On PostgreSQL (``DATABASE_URL`` set) it drops and creates a
database named ``massmail_benchmark`` (or ``$MASSMAIL_BENCHMARK_DATABASE``) on that
server; otherwise it uses a fresh SQLite file ``var/benchmark.sqlite3``. Either is
migrated first and removed at the end.

What it measures, all against the same local SMTP sink (Postfix's ``smtp-sink`` when
installed, else ``benchmarks/sink.py``), which accepts and discards everything:

1. The engine: N contacts of one manager, one SMTP account pointing at the sink, a
   personalised newsletter of about 50 KB (style block, tables, merge fields, an
   unsubscribe link); a mailing is created and activated, then a fresh subprocess
   (``--engine-run``) times ``massmail.sending.runner.run()``: dispatch, claims,
   send-time rule checks, rendering, one reused SMTP connection, and the outcome of
   every email recorded in the database. Every delivery must end ``sent``.
2. Raw smtplib: N copies of one pre-built message of the same size sent over one
   reused connection with MAIL/RCPT/DATA, the same commands the engine issues.
   The ratio engine/raw says how much of the sink's speed the engine's bookkeeping
   (database, rendering, rules) leaves.
3. The per-recipient render cost: the median time of ``prepared.build`` (the part of
   rendering done for every recipient) over 1,000 calls.
4. Memory: for each size in ``--memory-sizes`` the database is reseeded with that many
   recipients and a fresh engine subprocess sends them all; its peak RSS is printed
   (VmHWM on Linux, see ``peak_rss_kb``; ``ru_maxrss`` elsewhere). A worker's memory
   must not grow with the number of recipients.

The engine subprocesses run with DEBUG off (Django keeps no query log), as production
workers do. Timings are printed, never asserted; the exit code is 0 unless the engine
failed to send every email.
"""

import argparse
import json
import os
import resource
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Another name lets two benchmarks share one PostgreSQL server without dropping each
# other's database.
BENCHMARK_DATABASE = os.environ.get("MASSMAIL_BENCHMARK_DATABASE", "massmail_benchmark")
SQLITE_PATH = ROOT / "var" / "benchmark.sqlite3"
SMTP_SINK = "/usr/sbin/smtp-sink"
MANAGER = "bench-manager"
FROM_EMAIL = "news@bench.example.com"
RENDER_CALLS = 1000
SECTIONS = 15  # newsletter sections: about 50 KB per email on the wire

FIRST_NAMES = ["Anna", "Ben", "Chloé", "Dmitri", "Emma", "François", "Grace", "Hiroshi",
               "Ines", "José", "Kai", "Lena", "Mohammed", "Nora", "Oskar", "Zoë"]
LAST_NAMES = ["Müller", "Smith", "O'Brien", "García", "Novák", "Kowalski", "Nguyen",
              "Andersson", "Rossi", "Dubois", "Tanaka", "Okafor"]
COMPANIES = ["Acme & Sons", "Globex", "Initech", "Umbrella <Labs>", "Stark Industries",
             "Wayne Enterprises", "Hooli", "Vandelay Import/Export", "Müller GmbH", "Soylent"]


# --- command line -------------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(
        description="Throughput and memory benchmark of the massmail engine.")
    parser.add_argument("-n", type=int, default=5000, help="emails of the throughput run")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of engine and raw measurements (the median ratio counts)")
    parser.add_argument("--memory-sizes", default="1000,50000",
                        help="comma-separated recipient counts of the memory runs")
    parser.add_argument("--sink", choices=["auto", "python"], default="auto",
                        help="auto: Postfix smtp-sink when installed; python: benchmarks/sink.py")
    parser.add_argument("--profile", metavar="FILE",
                        help="profile one more engine run of N emails with cProfile")
    parser.add_argument("--track-clicks", action="store_true",
                        help="send a message with click tracking on (Message.track_clicks)")
    parser.add_argument("--engine-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.memory_sizes = [int(size) for size in args.memory_sizes.split(",") if size.strip()]
    return args


def main():
    args = parse_args()
    if args.engine_run:
        engine_run(args.profile)
        return 0
    return benchmark(args)


# --- the engine subprocess ----------------------------------------------------------

def engine_run(profile_path=None):
    """Inside the subprocess: time run() on the seeded database, print one JSON line."""
    import django

    django.setup()
    from django.db import connections

    from massmail.models import Delivery, Mailing
    from massmail.sending.runner import run

    rss_before = peak_rss_kb()
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_path)
    statuses = status_counts(Delivery)
    result = {
        "elapsed": elapsed,
        "sent": statuses.get(Delivery.Status.SENT, 0),
        "statuses": statuses,
        "mailings": status_counts(Mailing),
        "rss_setup_kb": rss_before,
        "rss_peak_kb": peak_rss_kb(),
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    connections.close_all()
    print(json.dumps(result), flush=True)


def peak_rss_kb():
    """Peak resident memory of this process in KiB.

    On Linux this is VmHWM of /proc/self/status: ``ru_maxrss`` is not usable for a child
    of a large parent, because the kernel carries the parent's RSS high-water mark over
    fork and exec into the child's ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def status_counts(model):
    """{status: rows} of a model with a ``status`` field."""
    from django.db.models import Count

    rows = model.objects.values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}


def run_engine_subprocess(profile_path=None):
    command = [sys.executable, str(Path(__file__).resolve()), "--engine-run"]
    if profile_path:
        command += ["--profile", profile_path]
    completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- the benchmark database ---------------------------------------------------------

def base_environment():
    """Settings of the parent and of the engine subprocesses (they inherit os.environ)."""
    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DJANGO_DEBUG": "false",
        "MASSMAIL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "MASSMAIL_LOG_LEVEL": "WARNING",
    }


def postgres_admin_connection(url):
    import psycopg

    parts = urlparse(url)
    return psycopg.connect(
        dbname=parts.path.lstrip("/") or "postgres", user=parts.username or None,
        password=parts.password or None, host=parts.hostname or None, port=parts.port or None,
        autocommit=True,
    )


def drop_postgres_database(url):
    with postgres_admin_connection(url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCHMARK_DATABASE}" WITH (FORCE)')


def create_database():
    """Create an empty benchmark database; returns the environment pointing at it."""
    url = os.environ.get("DATABASE_URL")
    if url:
        drop_postgres_database(url)
        with postgres_admin_connection(url) as connection:
            connection.execute(f'CREATE DATABASE "{BENCHMARK_DATABASE}"')
        return {"DATABASE_URL": urlunparse(urlparse(url)._replace(path="/" + BENCHMARK_DATABASE))}
    remove_sqlite_files()
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return {"SQLITE_PATH": str(SQLITE_PATH)}


def remove_sqlite_files():
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)


def drop_database(original_url):
    from django.db import connections

    connections.close_all()
    if original_url:
        drop_postgres_database(original_url)
    else:
        remove_sqlite_files()


def setup_django():
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def describe_database():
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        settings = connection.settings_dict
        return f"PostgreSQL {version} (database {settings['NAME']} on {settings['HOST']}:{settings['PORT']})"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version} ({connection.settings_dict['NAME']})"


# --- the SMTP sink ------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, process, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The SMTP sink exited with code {process.returncode}.")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("The SMTP sink did not start listening.")


def postfix_version():
    postconf = shutil.which("postconf") or "/usr/sbin/postconf"
    try:
        return subprocess.run([postconf, "-h", "mail_version"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except OSError:
        return ""


@contextmanager
def smtp_sink(choice="auto", dump=None):
    """Start a sink on a free 127.0.0.1 port; yields (description, port). ``dump``: a
    path smtp-sink appends every email to (its -D option; benchmarks/scale.py reads it
    through a FIFO), which requires smtp-sink."""
    port = free_port()
    if dump and not (choice == "auto" and os.access(SMTP_SINK, os.X_OK)):
        raise RuntimeError(f"Recording what the sink receives needs {SMTP_SINK}.")
    if choice == "auto" and os.access(SMTP_SINK, os.X_OK):
        command = [SMTP_SINK]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # smtp-sink refuses to keep root privileges
        if dump:
            command += ["-D", str(dump)]
        command += [f"127.0.0.1:{port}", "256"]
        version = postfix_version()
        name = f"Postfix smtp-sink {version} ({SMTP_SINK})".replace("  ", " ")
    else:
        command = [sys.executable, str(ROOT / "benchmarks" / "sink.py"), "--port", str(port)]
        reason = "as asked" if choice == "python" else "Postfix smtp-sink is not installed"
        name = f"benchmarks/sink.py (asyncio; {reason})"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield name, port
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- seeding ------------------------------------------------------------------------

def newsletter_html():
    """A realistic newsletter of about 50 KB: style block, layout tables, merge fields."""
    style = "\n".join(
        f".section-{i} h2 {{ color: #{(i * 2654435761) % 0xFFFFFF:06x}; font-size: {18 + i % 5}px; "
        f"margin: 0 0 8px 0; font-family: Georgia, serif; }}\n"
        f".section-{i} p {{ line-height: 1.5; color: #333333; margin: 0 0 12px 0; }}"
        for i in range(SECTIONS)
    )
    paragraph = (
        "Our team spent the last quarter talking to customers like {{ company|default:\"yours\" }} "
        "about what slows them down. The answers were surprisingly consistent: too many tools, "
        "too little time, and reports that arrive after the decisions they were meant to inform. "
        "This issue collects what we learned and what we are changing because of it, from the "
        "new dashboards to the way our support team answers tickets at night."
    )
    sections = []
    for i in range(SECTIONS):
        sections.append(f"""
<tr><td class="section-{i}" style="padding: 24px 32px; border-bottom: 1px solid #eeeeee;">
  <h2>{i + 1}. What changed in area {i + 1}, {{{{ first_name }}}}</h2>
  <p>{paragraph}</p>
  <p>{paragraph.replace("customers", "partners")}</p>
  <table class="facts" width="100%" cellpadding="0" cellspacing="0"><tr>
    <td class="fact">Faster reports<br><strong>{i * 3 + 12}%</strong></td>
    <td class="fact">Tickets closed<br><strong>{i * 17 + 240}</strong></td>
    <td class="fact">New features<br><strong>{i + 4}</strong></td>
  </tr></table>
  <p><a class="button" href="https://crm.example.com/news/{i}?utm_source=newsletter">Read more</a></p>
</td></tr>""")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Quarterly news</title>
<style>
body {{ margin: 0; padding: 0; background: #f4f4f4; }}
.wrapper {{ width: 100%; background: #f4f4f4; }}
.container {{ width: 640px; margin: 0 auto; background: #ffffff; }}
.header {{ background: #003366; color: #ffffff; padding: 24px 32px; font-family: Arial, sans-serif; }}
.fact {{ width: 33%; text-align: center; font-family: Arial, sans-serif; font-size: 13px;
  color: #555555; padding: 8px; }}
.button {{ display: inline-block; background: #0066cc; color: #ffffff; padding: 10px 18px;
  text-decoration: none; border-radius: 4px; }}
.footer {{ font-size: 12px; color: #888888; padding: 24px 32px; font-family: Arial, sans-serif; }}
{style}
</style></head>
<body><table class="wrapper" width="100%" cellpadding="0" cellspacing="0"><tr><td>
<table class="container" cellpadding="0" cellspacing="0">
<tr><td class="header"><h1>Hello {{{{ first_name }}}} {{{{ last_name }}}}</h1>
<p>The quarterly news for everyone at {{{{ company|default:"your company" }}}}.</p></td></tr>
{"".join(sections)}
<tr><td class="footer">
<p>You receive this email as {{{{ email }}}} because {{{{ company|default:"you" }}}} works with us.</p>
<p>{{{{ postal_address }}}}</p>
<p><a href="{{{{ unsubscribe_url }}}}">Unsubscribe</a> at any time with one click.</p>
</td></tr></table></td></tr></table></body></html>
"""


def clear_data():
    from example_project.crm.models import Company, Contact
    from massmail.models import Delivery, Mailing, Message, Recipient

    for model in (Delivery, Mailing, Message, Recipient, Contact, Company):
        model.objects.all().delete()


def manager_and_account(port, daily_limit):
    from django.contrib.auth import get_user_model

    from massmail.models import EmailAccount, MassmailSettings

    settings = MassmailSettings.load()
    settings.use_business_time = False
    settings.emails_per_day = daily_limit
    settings.unsubscribe_url = "https://crm.example.com/unsubscribed/"
    settings.postal_address = "Example Ltd, 1 Main Street, 12345 Sample Town"
    settings.save()
    user, _created = get_user_model().objects.get_or_create(
        username=MANAGER, defaults={"is_staff": True, "email": "manager@bench.example.com"})
    EmailAccount.objects.update_or_create(owner=user, name="Benchmark sink", defaults={
        "from_email": FROM_EMAIL, "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_user": "",
        "use_tls": False, "use_ssl": False, "daily_limit": daily_limit, "paused_until": None,
        "disabled_at": None,
    })
    return user


def seed_contacts(user, size):
    from example_project.crm.models import Company, Contact

    companies = Company.objects.bulk_create(
        [Company(name=name, owner=user, email=f"office@company{i}.example.org")
         for i, name in enumerate(COMPANIES)])
    for start in range(0, size, 5000):
        Contact.objects.bulk_create([
            Contact(first_name=FIRST_NAMES[i % len(FIRST_NAMES)],
                    last_name=LAST_NAMES[i % len(LAST_NAMES)],
                    email=f"person{i}@customers{i % 97}.example.org",
                    company=companies[i % len(companies)] if i % 5 else None,
                    owner=user)
            for i in range(start, min(start + 5000, size))
        ])


def seed(size, port, daily_limit, track_clicks=False):
    """Fresh data: ``size`` contacts, the account at the sink, an active mailing."""
    from example_project.crm.models import Contact
    from massmail import api
    from massmail.models import Message

    clear_data()
    user = manager_and_account(port, daily_limit)
    seed_contacts(user, size)
    message = Message.objects.create(
        owner=user, subject='{{ first_name }}, the quarterly news for {{ company|default:"you" }}',
        content=newsletter_html(), track_clicks=track_clicks)
    started = time.perf_counter()
    mailing = api.create_mailing(owner=user, message=message,
                                 recipients=[Contact.objects.filter(owner=user)])
    mailing.create_seconds = time.perf_counter() - started
    api.activate(mailing)
    analyze()
    return mailing


def analyze():
    """Refresh the planner's statistics after the bulk insert, as autovacuum would soon."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


# --- rendering and raw SMTP ---------------------------------------------------------

def sample_context(index):
    from massmail.tracking.tokens import DELIVERY_KEY

    return {
        DELIVERY_KEY: index,  # signs the tracked links, as the engine's context does
        "first_name": FIRST_NAMES[index % len(FIRST_NAMES)],
        "last_name": LAST_NAMES[index % len(LAST_NAMES)],
        "full_name": f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {LAST_NAMES[index % len(LAST_NAMES)]}",
        "company": COMPANIES[index % len(COMPANIES)],
        "email": f"person{index}@customers.example.org",
        "unsubscribe_url": f"https://crm.example.com/massmail/unsubscribe/token-{index}/",
        "postal_address": "Example Ltd, 1 Main Street, 12345 Sample Town",
    }


def build(prepared, index):
    from massmail import rendering

    context = sample_context(index)
    return prepared.build(
        context, from_email=FROM_EMAIL, to_email=context["email"],
        message_id=rendering.make_message_id(FROM_EMAIL), list_id="<news.bench.example.com>",
        unsubscribe_url=context["unsubscribe_url"],
    )


def render_cost(prepared, calls=RENDER_CALLS):
    """Median microseconds of one prepared.build."""
    timings = []
    for index in range(calls):
        started = time.perf_counter_ns()
        build(prepared, index)
        timings.append(time.perf_counter_ns() - started)
    return statistics.median(timings) / 1000


def commit_latency_ms(samples=200):
    """Median milliseconds of a one-row UPDATE committed on its own: the floor under
    every per-email commit of the engine (``sending`` before, the outcome after)."""
    from massmail.models import MassmailSettings

    timings = []
    for index in range(samples):
        started = time.perf_counter()
        MassmailSettings.objects.filter(pk=1).update(emails_per_day=10_000_000 + index)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def raw_smtp_rate(port, data, count):
    """Send ``count`` copies of ``data`` over one smtplib connection; (elapsed, sent)."""
    sent = 0
    started = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
    smtp.ehlo()
    for index in range(count):
        code, _reply = smtp.mail(FROM_EMAIL)
        if code == 250:
            code, _reply = smtp.rcpt(f"person{index}@customers.example.org")
        if code in (250, 251):
            code, _reply = smtp.data(data)
        sent += code == 250
    smtp.quit()
    return time.perf_counter() - started, sent


# --- the benchmark ------------------------------------------------------------------

def throughput(args, port):
    """The engine and raw smtplib rates for N emails (``--repeat`` interleaved rounds, since
    other work on a small machine moves single measurements), and the render cost."""
    from massmail import rendering

    load_start = load_average()
    rounds = []
    for _ in range(args.repeat):
        mailing = seed(args.n, port, daily_limit(args), args.track_clicks)
        engine = run_engine_subprocess()
        prepared = rendering.prepare(mailing.message)
        data = build(prepared, 0)
        raw_elapsed, raw_sent = raw_smtp_rate(port, data, args.n)
        rounds.append({"engine": engine, "raw_elapsed": raw_elapsed, "raw_sent": raw_sent})
    return {
        "rounds": rounds, "load_start": load_start, "size": len(data),
        "html_chars": len(mailing.message.content),
        "inlined_chars": len(prepared.render(sample_context(0)).html),
        "render_us": render_cost(prepared),
        "commit_ms": commit_latency_ms(),
    }


def daily_limit(args):
    """An account limit that never stops any of the runs."""
    return 10 * max([args.n, *args.memory_sizes])


def memory(args, port):
    """{size: engine result} of one engine subprocess per recipient count."""
    results = {}
    for size in args.memory_sizes:
        mailing = seed(size, port, daily_limit(args), args.track_clicks)
        results[size] = run_engine_subprocess()
        results[size]["expected"] = size
        results[size]["create_seconds"] = mailing.create_seconds
    return results


def profile(args, port, path):
    seed(args.n, port, daily_limit(args), args.track_clicks)
    run_engine_subprocess(profile_path=path)
    import pstats

    print(f"\ncProfile of the engine run of {args.n:,} emails ({path}), by own time:")
    stats = pstats.Stats(path)
    stats.sort_stats("tottime").print_stats(25)
    print("... and by cumulative time:")
    stats.sort_stats("cumulative").print_stats(40)


def rate(sent, elapsed):
    return sent / elapsed if elapsed else 0.0


def round_rates(round_result):
    """(engine, raw) emails per second of one round of throughput()."""
    engine = round_result["engine"]
    return (rate(engine["sent"], engine["elapsed"]),
            rate(round_result["raw_sent"], round_result["raw_elapsed"]))


def ratio(round_result):
    """engine/raw emails per second of one round of throughput()."""
    engine_rate, raw_rate = round_rates(round_result)
    return engine_rate / raw_rate if raw_rate else 0


def megabytes(kilobytes):
    return kilobytes / 1024


def load_average():
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def report(sink_name, database, args, result, memory_results):
    print("massmail throughput benchmark")
    print(f"  sink               {sink_name}")
    print(f"  database           {database}")
    print(f"  load average       {result['load_start']} at the start, {load_average()} at the end "
          f"(1/5/15 min, {os.cpu_count()} CPUs; other work on the machine skews rates)")
    print(f"  N                  {args.n:,} emails, {args.repeat} rounds of engine then raw")
    print(f"  click tracking     {'on' if args.track_clicks else 'off'}")
    print(f"  message size       {result['size']:,} bytes per email "
          f"(HTML {result['html_chars']:,} characters as written, "
          f"{result['inlined_chars']:,} after CSS inlining)")
    ratios = []
    for number, round_result in enumerate(result["rounds"], 1):
        engine = round_result["engine"]
        engine_rate, raw_rate = round_rates(round_result)
        ratios.append(ratio(round_result))
        print(f"  round {number}: engine  {engine['sent']:,} sent in {engine['elapsed']:.2f} s = "
              f"{engine_rate:,.0f} emails/s  (deliveries: {engine['statuses']}, "
              f"mailing: {engine['mailings']})")
        print(f"  round {number}: raw     {round_result['raw_sent']:,} sent in "
              f"{round_result['raw_elapsed']:.2f} s = {raw_rate:,.0f} emails/s   "
              f"ratio {ratios[-1]:.2f}")
    print(f"  ratio engine/raw   {statistics.median(ratios):.2f} (median of "
          f"{', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"  render cost        {result['render_us']:,.0f} µs per recipient "
          f"(median of {RENDER_CALLS:,} prepared.build calls)")
    print(f"  commit latency     {result['commit_ms']:.2f} ms per one-row UPDATE in its own "
          f"transaction (median of 200)")
    if memory_results:
        print("  engine peak RSS    (fresh subprocess per size; after django.setup / peak)")
        for size, run_result in memory_results.items():
            print(f"    {size:>9,} recipients  {megabytes(run_result['rss_setup_kb']):6.1f} MB / "
                  f"{megabytes(run_result['rss_peak_kb']):6.1f} MB  "
                  f"({run_result['sent']:,} sent in {run_result['elapsed']:.1f} s = "
                  f"{rate(run_result['sent'], run_result['elapsed']):,.0f} emails/s; "
                  f"create_mailing took {run_result['create_seconds']:.1f} s)")
        sizes = list(memory_results)
        if len(sizes) > 1:
            first, last = memory_results[sizes[0]], memory_results[sizes[-1]]
            difference = megabytes(last["rss_peak_kb"] - first["rss_peak_kb"])
            print(f"    difference {sizes[-1]:,} - {sizes[0]:,}: {difference:+.1f} MB")


def all_sent(args, result, memory_results):
    """Every engine run sent every email and finished its mailing; says what went wrong."""
    runs = [(r["engine"], args.n) for r in result["rounds"]]
    runs += [(r, r["expected"]) for r in memory_results.values()]
    ok = True
    for run_result, expected in runs:
        statuses, mailings = run_result["statuses"], run_result["mailings"]
        if statuses != {"sent": expected} or mailings != {"done": 1}:
            print(f"ERROR: expected {expected} deliveries sent and one mailing done, got "
                  f"deliveries {statuses}, mailings {mailings}", file=sys.stderr)
            ok = False
    return ok


def benchmark(args):
    original_url = os.environ.get("DATABASE_URL")
    os.environ.update(base_environment())
    os.environ.update(create_database())
    try:
        setup_django()
        database = describe_database()
        with smtp_sink(args.sink) as (sink_name, port):
            result = throughput(args, port)
            memory_results = memory(args, port)
            report(sink_name, database, args, result, memory_results)
            if args.profile:
                profile(args, port, args.profile)
    finally:
        drop_database(original_url)
    return 0 if all_sent(args, result, memory_results) else 1


if __name__ == "__main__":
    sys.exit(main())
