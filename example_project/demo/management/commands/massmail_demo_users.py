"""Demo users and data for `make run`: admin/admin, anna/anna and ben/ben."""

from django.core.management.base import BaseCommand

from example_project.demo import seed


class Command(BaseCommand):
    help = "Create the demo superuser admin/admin, managers anna/anna and ben/ben, and a demo CRM."

    def add_arguments(self, parser):
        parser.add_argument("--smtp-port", type=int, default=1025,
                            help="Port of the SMTP server the demo accounts use (default 1025).")

    def handle(self, *args, smtp_port, **options):
        managers = seed.create_users()
        seed.seed_crm(managers)
        seed.create_accounts(managers, "127.0.0.1", smtp_port)
        seed.configure_settings()
        self.stdout.write("Users: admin/admin (superuser), anna/anna and ben/ben (managers).")
