"""`GET /healthz`: can this process reach its database and its cache (Redis in production)?

For load balancers and Docker's HEALTHCHECK: JSON, 200 when both answer, 503 otherwise. It
names what failed but not why: the reason goes to the log, not to an anonymous caller.
"""

import logging
import secrets

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PROBE_KEY = "crm:healthz"


@never_cache
def healthz(request):
    checks = {"database": _check(_database), "cache": _check(_cache)}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )


def _check(probe):
    try:
        probe()
    except (DatabaseError, RedisError, OSError) as exc:
        logger.error("Health check failed", extra={"check": probe.__name__.strip("_"), "error": str(exc)})
        return "unavailable"
    return "ok"


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache():
    # A write and a read back: a cache that accepts connections but cannot store is not up.
    # A key of its own per probe, so concurrent checks never read each other's value.
    key = f"{PROBE_KEY}:{secrets.token_hex(8)}"
    cache.set(key, 1, 30)
    stored = cache.get(key)
    cache.delete(key)
    if stored != 1:
        raise OSError("the cache did not return what was just stored")
