"""Huey on Redis, quiet and patient while Redis is down (issue 10, finding 11).

Huey's consumer polls Redis from every worker and its scheduler about once a second; with
Redis down each poll logs a full traceback (~13 000 lines a minute for two consumers). Here
the consumer's own calls (reading the queue and the schedule, queuing periodic tasks, a
task's bookkeeping) back off instead — no Redis call for 1 s, then 2, 4 … up to 30 s — and one line a minute says Redis
is down; one more says when it is back. A periodic task that cannot be queued is dropped: the
scheduler queues it again the next minute. Producers (web requests) still get the error and
decide themselves (mailer.tasks.wake_sender skips the wake-up). While Redis is down nothing
runs through Huey: cron's `mailer_send_now` keeps sending (README, «Redis недоступен»).
"""

import logging
import threading
import time

from huey import RedisHuey
from huey.consumer import Consumer
from huey.storage import RedisStorage
from redis import ConnectionPool
from redis.exceptions import RedisError

logger = logging.getLogger("mailer.task_queue")

MAX_BACKOFF_SECONDS = 30
LOG_EVERY_SECONDS = 60


class Outage:
    """Backoff and a log line a minute, shared by the consumer's threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.delay = 0.0  # 0: Redis answered last time
        self.retry_at = 0.0
        self.logged_at = None
        self.failures = 0

    def waiting(self) -> float:
        """Seconds left before Redis may be tried again (0: try now)."""
        return max(0.0, self.retry_at - time.monotonic())

    def failed(self, exc: Exception) -> None:
        with self.lock:
            now = time.monotonic()
            self.failures += 1
            self.delay = min(MAX_BACKOFF_SECONDS, max(1.0, self.delay * 2))
            self.retry_at = now + self.delay
            if self.logged_at is None or now - self.logged_at >= LOG_EVERY_SECONDS:
                self.logged_at = now
                logger.error(
                    "Redis unreachable: the task queue waits, retrying with backoff",
                    extra={"error": str(exc), "failures": self.failures, "retry_in_seconds": self.delay},
                )

    def recovered(self) -> None:
        if not self.delay:
            return
        with self.lock:
            if self.delay:
                logger.warning("Redis is back: the task queue runs again", extra={"failures": self.failures})
                self.delay, self.retry_at, self.logged_at, self.failures = 0.0, 0.0, None, 0


class ResilientRedisStorage(RedisStorage):
    consumer = False  # True in the consumer process (ResilientRedisHuey.create_consumer)

    def __init__(self, name="huey", url=None, **kwargs):
        if url:
            # Fail fast on a dead or black-holed server; reads wait at most `read_timeout` (1 s).
            kwargs["connection_pool"] = ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=10)
        super().__init__(name, **kwargs)
        self.outage = Outage()

    def _quietly(self, call, empty):
        if self.outage.waiting():
            return empty
        try:
            result = call()
        except RedisError as exc:
            self.outage.failed(exc)
            return empty
        self.outage.recovered()
        return result

    def dequeue(self):
        read = super().dequeue
        task = self._quietly(read, None)
        if task is None and self.outage.delay:
            # A blocking read would have waited up to a second; don't spin instead.
            time.sleep(min(self.read_timeout, self.outage.waiting() or self.read_timeout))
        return task

    def read_schedule(self, ts):
        read = super().read_schedule
        return self._quietly(lambda: read(ts), [])

    # What the consumer writes and reads around a task (periodic tasks queued by its scheduler,
    # revocations, results) is lost during an outage rather than logged as a traceback each.
    # Producers (web requests) still see the error.

    def _consumer_call(self, call, empty):
        return self._quietly(call, empty) if self.consumer else call()

    def enqueue(self, data, priority=None):
        put = super().enqueue
        return self._consumer_call(lambda: put(data, priority), None)

    def peek_many(self, keys):
        read = super().peek_many
        return self._consumer_call(lambda: read(keys), {})

    def put_data(self, key, value, is_result=False):
        put = super().put_data
        return self._consumer_call(lambda: put(key, value, is_result), None)

    def delete_data(self, key):
        delete = super().delete_data
        return self._consumer_call(lambda: delete(key), False)


class ResilientRedisHuey(RedisHuey):
    storage_class = ResilientRedisStorage
    consumer_class = Consumer  # mailer.engine.shutdown makes it graceful on signals

    def create_consumer(self, **options):
        self.storage.consumer = True
        return self.consumer_class(self, **options)
