"""An SMTP server in its own process for the benchmark: counts what each address received.

python bench/smtp_sink.py PORT OUTFILE   (writes {address: count} as JSON on SIGTERM)
"""

import json
import signal
import sys
import threading
from collections import Counter

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self):
        self.received = Counter()

    async def handle_DATA(self, server, session, envelope):
        self.received.update(envelope.rcpt_tos)
        return "250 OK"


def main(port, outfile):
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()
    with open(outfile, "w") as handle:
        json.dump(handler.received, handle)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
