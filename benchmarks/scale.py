"""Scale benchmark of massmail on PostgreSQL (issue 14). Not part of the test run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/scale.py
    options: --sizes 100000,1000000   recipients of the creation runs (part 1)

It never touches your data: like throughput.py it drops and creates a database, named
``massmail_scale``, on the server of ``DATABASE_URL`` for each run, and removes it at
the end. PostgreSQL only: the creation path it measures is the set-based one.

Parts (each a function that prints its own section; ``PARTS`` lists them in order):

1. ``creation``: for each size, a fresh database is seeded in SQL with that many
   contacts of one manager, shaped like a real list: 0.5% are case variants of the
   previous address (duplicates), 0.2% hold two addresses ("a@x, b@y", which go
   through Python), 2% are not subscribed, 1.4% are disqualified, and 1% of the
   addresses are on the suppression list. A fresh subprocess then times
   ``api.create_mailing`` over all of them and reports its peak memory (VmHWM) and
   the rows and exclusion counts it wrote. Targets: 100,000 in under 3 s, 1,000,000
   in under 30 s, with flat memory.
2. The multi-tenant run (10 managers x 2 accounts x 5,000 recipients, 4 Celery
   workers on Redis, smtp-sink) and 3. the single-account engine/raw ratio belong to
   the sending engine; add them to ``PARTS`` below.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402  (the database, environment and memory helpers)

# Its own database, so a throughput.py run on the same server is left alone.
throughput.BENCHMARK_DATABASE = "massmail_scale"
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
    parser.add_argument("--create-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
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


# Parts 2 (multi-tenant) and 3 (engine/raw ratio) go here, each a function of ``args``
# that prints its section, appended to PARTS.
PARTS = [creation]


# --- the benchmark database ----------------------------------------------------------

class benchmark_database:
    """A fresh, migrated ``massmail_scale`` database (the one Django is configured
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
        for part in PARTS:
            part(args)
    finally:
        throughput.drop_database(ORIGINAL_URL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
