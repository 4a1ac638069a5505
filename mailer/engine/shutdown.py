"""Stopping the sender between two messages.

SIGTERM (docker stop, systemd) and SIGINT (Ctrl-C) ask the sender to finish the message in
flight, record it, release the lock and return: it neither dies mid-message (an unknown
outcome, a lock left for its TTL) nor finishes a whole pass first (longer than a stop grace
period). A second signal stops at once.

The Huey consumer runs the sender in a worker thread, and only the main thread receives
signals: the consumer classes below (HUEY["huey_class"]) pass the request on and make both
signals graceful, so Huey waits for the worker that is finishing its message.
"""

import signal
import threading
from contextlib import contextmanager

import huey
from huey.consumer import Consumer

from config.task_queue import ResilientRedisHuey

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_requested = threading.Event()


def request_stop(signum=None, frame=None) -> None:
    """The sender stops before its next message (a signal handler, or called directly)."""
    _requested.set()


def stop_requested() -> bool:
    return _requested.is_set()


def reset() -> None:
    """For tests: a fresh process never has a stop requested."""
    _requested.clear()


@contextmanager
def stop_on_signals():
    """For a process whose main thread runs the pass itself (`mailer_send_now`): while inside,
    a signal asks the sender to stop, and a second one ends it at once (Python's default)."""

    def handle(signum, frame):
        request_stop()
        signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler)

    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class GracefulConsumer(Consumer):
    """Huey's consumer with SIGTERM as graceful as SIGINT, each asking the sender to stop after
    its message in flight (Huey then waits for that worker; a second signal interrupts it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for signum in STOP_SIGNALS:
            self._signal_actions[signum] = (False, True)  # (restart, graceful), huey 3.5's table

    def _handle_signal(self, signum, frame):
        if signum in STOP_SIGNALS:
            request_stop()
        super()._handle_signal(signum, frame)


class RedisHuey(ResilientRedisHuey):
    consumer_class = GracefulConsumer


class SqliteHuey(huey.SqliteHuey):
    def create_consumer(self, **options):
        return GracefulConsumer(self, **options)
