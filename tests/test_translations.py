"""Every user-facing string is in the translation catalogue a translator starts from."""

import os
import re
import shutil
from pathlib import Path

from django.core.management import call_command

from .conftest import need_service

MASSMAIL = Path(__file__).resolve().parent.parent / "massmail"


def msgids(pot):
    return set(re.findall(r'^msgid "(.+)"$', pot.read_text(), flags=re.MULTILINE))


def test_catalogue_is_up_to_date(tmp_path, monkeypatch):
    need_service("gettext", shutil.which("xgettext"), "needs GNU gettext (xgettext)")
    copy = tmp_path / "massmail"
    shutil.copytree(MASSMAIL, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(copy / "locale")
    (copy / "locale").mkdir()
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["en"], keep_pot=True, verbosity=0)
    fresh, committed = msgids(copy / "locale" / "django.pot"), msgids(MASSMAIL / "locale" / "django.pot")
    assert fresh - committed == set(), "run `make messages` and commit massmail/locale/"
    assert os.path.exists(MASSMAIL / "locale" / "en" / "LC_MESSAGES" / "django.po")
