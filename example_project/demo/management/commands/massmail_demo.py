"""`make demo`: the main job end to end on a fresh database, in well under a minute."""

import shutil
import sys
import time
from collections import Counter

from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db.models import Count

from example_project.crm.models import Contact, Lead
from example_project.demo import seed
from example_project.demo.smtp import DemoSMTPServer
from massmail import api
from massmail.models import Delivery, Mailing
from massmail.sending.runner import run


class Command(BaseCommand):
    help = "Seed a demo CRM, send its mailings through an embedded SMTP server, summarise."

    def handle(self, *args, **options):
        call_command("migrate", verbosity=0)
        mail_dir = settings.VAR_DIR / "demo-mail"
        shutil.rmtree(mail_dir, ignore_errors=True)
        server = DemoSMTPServer(mail_dir).start()
        try:
            self.demo(server)
        finally:
            server.stop()

    def demo(self, server):
        managers = seed.create_users()
        seed.seed_crm(managers)
        seed.create_accounts(managers, server.host, server.port)
        seed.configure_settings()
        mailings = []
        for manager in managers:
            mailing = api.create_mailing(
                owner=manager, message=seed.newsletter(manager), name="Autumn news",
                recipients=[Contact.objects.filter(owner=manager), Lead.objects.filter(owner=manager)],
            )
            api.activate(mailing)
            mailings.append(mailing)
        total = Delivery.objects.filter(mailing__in=mailings).count()
        self.stdout.write(f"SMTP server on {server.host}:{server.port}; "
                          f"{len(mailings)} mailings, {total} addresses.")
        started = time.monotonic()
        run(on_batch=lambda *_: self.progress(mailings, total))
        self.stdout.write("")
        self.summary(mailings, server, time.monotonic() - started)
        # `make run` uses this database too: point the accounts at the SMTP server it starts.
        seed.create_accounts(managers, "127.0.0.1", seed.RUN_SMTP_PORT)
        self.stdout.write("\n`make run` shows these mailings in the admin: "
                          "http://127.0.0.1:8000/admin/ (anna/anna, ben/ben, admin/admin).")

    def progress(self, mailings, total):
        finished = Delivery.objects.filter(mailing__in=mailings).exclude(
            status__in=["pending", "claimed", "sending"]).count()
        width = 40
        filled = width * finished // max(total, 1)
        sys.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {finished}/{total}")
        sys.stdout.flush()

    def summary(self, mailings, server, seconds):
        write = self.stdout.write
        deliveries = Delivery.objects.filter(mailing__in=mailings)
        write(f"Finished in {seconds:.1f} s.")
        for mailing in Mailing.objects.filter(pk__in=[m.pk for m in mailings]):
            write(f"\nMailing '{mailing.name}' of {mailing.owner.username}: {mailing.status}")
            excluded = ", ".join(f"{k} {v}" for k, v in sorted(mailing.excluded.items()))
            write(f"  left out at creation: {excluded or 'none'}")
            rows = mailing.deliveries.values("account__from_email", "account__main").annotate(
                n=Count("id")).filter(status="sent").order_by("account__from_email")
            for row in rows:
                kind = "main, VIP only" if row["account__main"] else "mailing account"
                write(f"  sent via {row['account__from_email']} ({kind}): {row['n']}")
        statuses = Counter(deliveries.values_list("status", flat=True))
        vip = deliveries.filter(status="sent", recipient__vip=True).count()
        skipped = Counter(deliveries.filter(status="skipped").values_list("skip_reason", flat=True))
        write(f"\nAll mailings: {dict(sorted(statuses.items()))}; VIP recipients mailed: {vip}")
        write(f"Skipped at send time by reason: {dict(sorted(skipped.items())) or 'none'}")
        notices = [f"{m.to[0]}: {m.subject}" for m in getattr(mail, "outbox", [])]
        write(f"Owners notified: {'; '.join(notices) or 'none'}")
        write(f"The SMTP server received {server.writer.received} emails; they are in "
              f"{server.directory}/ (one .eml file each).")
