# The CRM mailer: one image for the web server (gunicorn), the Huey workers and the staging
# mail catcher; docker-compose.yml picks the command. Settings come from the environment.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
# psycopg[binary] ships its own libpq, so the slim image needs no compiler or system packages.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Build-time steps need settings that load; these keys are never used at run time.
ARG BUILD_ENV="DEBUG=False SECRET_KEY=build-only-not-a-secret MAILER_SECRETS_KEY=YnVpbGQtb25seS1uZXZlci11c2VkLWF0LXJ1bnRpbWU= ALLOWED_HOSTS=localhost DATA_DIR=/tmp/build-data"

# Russian for django-unfold's own strings (locale/): gettext compiles them, then goes away.
RUN if [ -d locale ]; then \
        apt-get update && apt-get install -y --no-install-recommends gettext \
        && env $BUILD_ENV python manage.py compilemessages -l ru -v 0 \
        && apt-get purge -y gettext && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*; \
    fi

# Static files are collected into the image and served by whitenoise (compressed, since
# DEBUG is off).
RUN env $BUILD_ENV python manage.py collectstatic --noinput --verbosity 0 && rm -rf /tmp/build-data

# Runs as an unprivileged user; it owns only the data directory (uploads, the catcher's outbox).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/var/media /app/var/outbox \
    && chown -R app:app /app/var
USER app

ENV DEBUG=False \
    DATA_DIR=/app/var \
    PORT=8000
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "bin/healthcheck"]

CMD ["gunicorn", "config.wsgi:application", "--config", "config/gunicorn.py"]
