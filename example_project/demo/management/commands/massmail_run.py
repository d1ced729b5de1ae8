"""`make run`: the admin, the sending engine and an embedded SMTP server in one process."""

import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from example_project.demo import seed
from example_project.demo.smtp import DemoSMTPServer
from massmail.sending.runner import run


class Command(BaseCommand):
    help = "Serve the admin on 127.0.0.1:8000 with the engine and a local SMTP server beside it."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--smtp-port", type=int, default=seed.RUN_SMTP_PORT)

    def handle(self, *args, addr, smtp_port, **options):
        call_command("massmail_demo_users", smtp_port=smtp_port)
        server = DemoSMTPServer(settings.VAR_DIR / "run-mail", port=smtp_port).start()
        stop = threading.Event()
        engine = threading.Thread(target=run, kwargs={"forever": True, "stop": stop}, daemon=True)
        engine.start()
        self.stdout.write(f"SMTP server on 127.0.0.1:{smtp_port}, emails written to "
                          f"{server.directory}/. Engine running. Admin: http://{addr}/admin/")
        try:
            call_command("runserver", addr, use_reloader=False)
        finally:
            stop.set()
            server.stop()
