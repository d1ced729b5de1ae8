from django.core.management.base import BaseCommand

from massmail.sending.runner import run


class Command(BaseCommand):
    help = (
        "Send mailings in this process, with the same engine the Celery tasks run. "
        "Default: until no active mailing has sendable work."
    )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="One dispatch round, then stop.")
        mode.add_argument("--forever", action="store_true",
                          help="Keep polling for work (for `make run`).")
        parser.add_argument("--interval", type=float, default=5.0,
                            help="Seconds between polls with --forever (default 5).")

    def handle(self, *args, once, forever, interval, verbosity, **options):
        def report(mailing_id, account_id, result):
            if verbosity >= 2 and result.counts:
                counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
                self.stdout.write(f"mailing {mailing_id} via account {account_id}: {counts}")

        run(once=once, forever=forever, interval=interval, on_batch=report)
