"""The example project with massmail installed under the label "newsletter".

Its migrations are the host's own (MIGRATION_MODULES), written by `makemigrations
newsletter` into the package named by NEWSLETTER_MIGRATIONS (tests/test_hosts_label.py
makes one in a temporary directory), since massmail's own migrations carry its label.
The test database gets its own name, so this session can run beside the main one.
"""

import os

from example_project.settings import *  # noqa: F403
from example_project.settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [
    "tests.newsletter.apps.NewsletterConfig" if app == "massmail" else app for app in INSTALLED_APPS
]
MIGRATION_MODULES = {"newsletter": os.environ.get("NEWSLETTER_MIGRATIONS", "newsletter_migrations")}

if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_newsletter"}
