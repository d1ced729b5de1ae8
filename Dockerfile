# massmail's example project as one image for web, workers and beat (docker-compose.yml).
# Every setting comes from the environment; nothing secret is baked into the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # example_project is run from the source tree, not installed: celery -A needs it on the path.
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=example_project.settings \
    VAR_DIR=/app/var

WORKDIR /app

# Dependencies first, so editing the example project does not reinstall them.
COPY pyproject.toml README.md ./
COPY massmail ./massmail
RUN pip install ".[postgres,server]"

COPY manage.py ./
COPY example_project ./example_project
# The admin's CSS and JS, served by whitenoise from the image.
RUN python manage.py collectstatic --noinput

RUN useradd --create-home --uid 1000 massmail \
    && mkdir -p /app/var/media \
    && chown -R massmail /app/var
USER massmail

EXPOSE 8000
CMD ["gunicorn", "example_project.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
