# massmail developer commands. Everything runs from a fresh clone: the first target
# that needs it creates .venv and installs the project with its test tools.

PYTHON ?= python3
# `make test DJANGO=6.0` runs the suite on that Django release in its own .venv-dj60
# (Django 6.0 needs Python 3.12 or newer: pass PYTHON=python3.12 when python3 is older).
DJANGO ?=
VENV := .venv$(if $(DJANGO),-dj$(subst .,,$(DJANGO)))
# `make demo` and `make run` share one SQLite database, so the demo's mailings are in the
# admin that `make run` serves. `make run` seeds it only when it is empty.
DEMO_ENV := SQLITE_PATH=var/demo.sqlite3 DATABASE_URL= REDIS_URL=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo run lint superuser messages clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,server]" $(if $(DJANGO),"Django~=$(DJANGO).0")
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	rm -f var/demo.sqlite3 var/demo.sqlite3-wal var/demo.sqlite3-shm
	$(DEMO_ENV) EMAIL_BACKEND=django.core.mail.backends.locmem.EmailBackend \
	  $(BIN)/python manage.py massmail_demo

run: $(STAMP)
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py massmail_run

superuser: $(STAMP)
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py massmail_demo_users

messages: $(STAMP)
	cd massmail && DJANGO_SETTINGS_MODULE=example_project.settings PYTHONPATH=.. \
	  ../$(BIN)/django-admin makemessages -l en --keep-pot --no-obsolete

clean:
	rm -rf .venv .venv-dj* var
