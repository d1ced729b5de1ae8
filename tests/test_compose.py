"""docker-compose.yml describes a stack that can work: every service's command points at
code that exists in this repository, the services find each other by name, and there
is exactly one Celery beat. (No Docker engine is needed: the file is only parsed.)"""

import importlib.util
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from django.utils.module_loading import import_string

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")
CONFIG = ("DATABASE_URL", "REDIS_URL", "MASSMAIL_SITE_URL", "MASSMAIL_ENCRYPTION_KEYS",
          "DJANGO_SECRET_KEY", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS")


@pytest.fixture(scope="module")
def services():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def command(service):
    value = service["command"]
    return value.split() if isinstance(value, str) else list(value)


def interpolated(value):
    """``value`` as Compose would pass it with the ``${VAR:-default}`` defaults applied."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def environment(service):
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: interpolated(value) for key, value in env.items()}


def option(args, name):
    return args[args.index(name) + 1]


def test_services(services):
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat", "mailpit"}


def test_app_services_build_the_dockerfile(services):
    assert (ROOT / "Dockerfile").is_file()
    for name in APP_SERVICES:
        build = services[name]["build"]
        context = ROOT / build["context"]
        assert (context / build.get("dockerfile", "Dockerfile")).resolve() == ROOT / "Dockerfile"


def test_dockerfile_installs_the_project_with_postgres_and_server_extras():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert 'pip install ".[postgres,server]"' in dockerfile
    for path in re.findall(r"^COPY (\S+)", dockerfile, flags=re.M):
        assert (ROOT / path).exists(), path


def test_migrate_runs_once_and_the_app_waits_for_it(services):
    migrate = services["migrate"]
    assert command(migrate)[:3] == ["python", "manage.py", "migrate"]
    assert (ROOT / "manage.py").is_file()
    assert migrate["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name


def test_web_serves_the_wsgi_module_with_gunicorn(services):
    args = command(services["web"])
    assert args[0] == "gunicorn"
    module = args[1].partition(":")[0]
    assert module == "example_project.wsgi"
    assert importlib.util.find_spec(module) is not None
    assert services["web"]["ports"] == ["8000:8000"]


def test_worker_runs_the_celery_app_and_can_be_scaled(services):
    worker = services["worker"]
    args = command(worker)
    assert args[:2] == ["celery", "-A"] and args[3] == "worker"
    assert importlib.util.find_spec(f"{args[2]}.celery") is not None
    # `--scale worker=3` fails with a fixed container name or a published host port.
    assert "container_name" not in worker and "ports" not in worker


def test_exactly_one_beat_with_the_database_scheduler(services):
    beats = [name for name, service in services.items()
             if "command" in service and "beat" in command(service)]
    assert beats == ["beat"]
    beat = services["beat"]
    args = command(beat)
    assert args[:4] == ["celery", "-A", "example_project", "beat"]
    scheduler = option(args, "--scheduler")
    assert scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
    assert import_string(scheduler.replace(":", ".")).__name__ == "DatabaseScheduler"
    assert beat.get("deploy", {}).get("replicas", 1) == 1


def test_celery_app_module_exists():
    assert importlib.util.find_spec("example_project.celery") is not None
    from example_project.celery import app

    assert app.main == "example_project"


def test_app_services_are_configured_through_the_environment(services):
    for name in APP_SERVICES:
        env = environment(services[name])
        assert set(CONFIG) <= set(env), name
        assert env["DJANGO_DEBUG"] == "false"
        database = urlparse(env["DATABASE_URL"])
        assert database.scheme == "postgres" and database.hostname == "postgres", name
        assert database.port == 5432 and database.path == "/massmail"
        redis = urlparse(env["REDIS_URL"])
        assert redis.scheme == "redis" and redis.hostname == "redis", name


def test_secrets_have_no_default(services):
    """Compose refuses to start without them instead of running with a known key."""
    env = services["web"]["environment"]
    for key in ("DJANGO_SECRET_KEY", "MASSMAIL_ENCRYPTION_KEYS"):
        assert env[key].startswith(f"${{{key}:?"), key


def test_database_credentials_match_the_postgres_service(services):
    postgres = environment(services["postgres"])
    database = urlparse(environment(services["web"])["DATABASE_URL"])
    assert (database.username, database.password, database.path.lstrip("/")) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"])


def test_mailpit_catches_smtp_and_shows_it(services):
    ports = services["mailpit"]["ports"]
    assert "1025:1025" in ports and "8025:8025" in ports


def test_services_wait_for_healthy_postgres_and_redis(services):
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["redis"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_web_and_workers_share_the_attachments(services):
    mounts = [set(services[name].get("volumes", [])) for name in ("web", "worker")]
    assert mounts[0] & mounts[1]


def test_admin_static_files_are_served_by_the_image():
    """gunicorn serves no static files: the image collects them for whitenoise, which the
    example settings add outside DEBUG, from the `server` extra."""
    assert "collectstatic --noinput" in (ROOT / "Dockerfile").read_text()
    assert "whitenoise" in (ROOT / "pyproject.toml").read_text()
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in (
        ROOT / "example_project" / "settings.py").read_text()
