"""massmail under another app label: the host's migrations are generated with
`makemigrations newsletter`, then tests/newsletter/check_label.py runs in its own pytest
session on tests/settings_newsletter.py (a label is fixed for the life of a process)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args, env):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_massmail_works_under_the_label_newsletter(tmp_path):
    migrations = tmp_path / "newsletter_migrations"
    migrations.mkdir()
    (migrations / "__init__.py").touch()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_newsletter",
           "NEWSLETTER_MIGRATIONS": "newsletter_migrations",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}

    made = run(["-m", "django", "makemigrations", "newsletter", "--noinput"], env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert (migrations / "0001_initial.py").exists()

    session = run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--create-db",
                   "--ds", "tests.settings_newsletter", "tests/newsletter/check_label.py"], env)
    assert session.returncode == 0, session.stdout[-5000:] + session.stderr[-3000:]
    assert " passed" in session.stdout
