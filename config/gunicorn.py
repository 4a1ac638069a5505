"""gunicorn settings for the Docker image, from the environment like the rest."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"  # to stdout, for `docker compose logs`
# Query values masked and addresses redacted, in the access and the error log alike.
logger_class = "config.gunicorn_logging.RedactingLogger"
# The container sits behind a TLS-terminating proxy that sets X-Forwarded-Proto; only it can
# reach the container's port.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
