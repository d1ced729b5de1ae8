"""``manage.py massmail_read_mailboxes``: the mailbox feedback reader without Celery."""

import time

from django.core.management.base import BaseCommand

from massmail.conf import conf
from massmail.feedback.reader import read_all


class Command(BaseCommand):
    help = ("Read bounces, complaints, auto-replies and replies from the mailboxes of the "
            "accounts that have feedback on (read-only). Default: every FEEDBACK_INTERVAL "
            "seconds until stopped.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Read each mailbox once, then stop.")

    def handle(self, *args, once, verbosity, **options):
        while True:
            for account_id, counts in read_all().items():
                if verbosity >= 1:
                    self.stdout.write(self._line(account_id, counts))
            if once:
                return
            time.sleep(conf.FEEDBACK_INTERVAL)

    @staticmethod
    def _line(account_id, counts):
        if counts is None:
            return f"account {account_id}: not read (busy or failing, see the account's page)"
        summary = ", ".join(f"{kind} {number}" for kind, number in sorted(counts.items()))
        return f"account {account_id}: {summary or 'nothing new'}"
