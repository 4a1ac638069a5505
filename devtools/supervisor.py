"""Runs a few processes together until a stop signal or until one of them ends.

`make run` needs the web server, the Huey consumer and the mail catcher to live and die
together. Each child gets its own session, so Ctrl-C in the terminal reaches only this
process, which then stops the children in one known order: SIGINT (each shuts down
gracefully), then SIGTERM, then SIGKILL for any that hang.
"""

import signal
import subprocess
import time
from dataclasses import dataclass

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_SECONDS = 0.2


@dataclass
class Child:
    title: str  # in Russian: staff read it when a child fails
    argv: list
    process: subprocess.Popen | None = None


class Supervisor:
    def __init__(self, children, *, env, cwd, grace_seconds=15):
        self.children = children
        self.env = env
        self.cwd = cwd
        self.grace_seconds = grace_seconds
        self.stop_requested = False

    def start(self):
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._request_stop)
        for child in self.children:
            child.process = subprocess.Popen(child.argv, env=self.env, cwd=self.cwd, start_new_session=True)

    def wait(self, until=lambda: False):
        """Blocks until a stop signal, a child's exit or `until()`; returns the child that
        ended, if any."""
        while not self.stop_requested and not until():
            ended = self.ended_child()
            if ended:
                return ended
            time.sleep(POLL_SECONDS)
        return None

    def ended_child(self):
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop(self):
        """Stops every child that still runs; returns once all of them are gone."""
        alive = [c.process for c in self.children if c.process and c.process.poll() is None]
        for sig, patience in ((signal.SIGINT, self.grace_seconds), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            for process in alive:
                _send(process, sig)
            alive = _wait_all(alive, patience)
            if not alive:
                return

    def _request_stop(self, signum, frame):
        self.stop_requested = True


def _send(process, sig):
    try:
        process.send_signal(sig)
    except ProcessLookupError:
        pass  # it ended between the check and the signal


def _wait_all(processes, seconds):
    deadline = time.monotonic() + seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    return [p for p in processes if p.poll() is None]
