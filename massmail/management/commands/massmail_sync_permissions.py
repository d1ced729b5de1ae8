"""Give the manager groups massmail's permissions again, outside a migrate.

Loading a host's fixtures can replace groups (fixed ids, other permissions); this puts
massmail's manager permissions back without migrating.
"""

from django.core.management.base import BaseCommand, CommandError

from massmail.permissions import sync_manager_permissions


class Command(BaseCommand):
    help = ("Bring massmail's permissions of the manager groups (MASSMAIL['MANAGER_GROUPS'], "
            "or its own \"Sales managers\" group) to exactly what managers need.")

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="Database to update.")

    def handle(self, *args, database, **options):
        groups, missing = sync_manager_permissions(using=database)
        for group in groups:
            self.stdout.write(f"{group.name}: {group.permissions.count()} permissions")
        if missing:
            raise CommandError('MASSMAIL["MANAGER_GROUPS"] names groups that do not exist: '
                               + ", ".join(missing))
