"""Demo users and data for `make run`: admin/admin, anna/anna and ben/ben."""

from django.core.management.base import BaseCommand

from example_project.demo import seed


class Command(BaseCommand):
    help = ("Into an empty database: the demo superuser admin/admin, managers anna/anna and "
            "ben/ben, and a demo CRM. A database with users is left as it is.")

    def add_arguments(self, parser):
        parser.add_argument("--smtp-port", type=int, default=seed.RUN_SMTP_PORT,
                            help="Port of the SMTP server the demo accounts use (default 1025).")

    def handle(self, *args, smtp_port, **options):
        if seed.seed_if_empty(smtp_port):
            self.stdout.write("Users: admin/admin (superuser), anna/anna and ben/ben (managers).")
        else:
            self.stdout.write("The database has users already: nothing seeded, your changes are "
                              "kept (`make clean` starts over).")
