"""The dev SMTP catcher: an aiosmtpd server that accepts everything and delivers nothing.

Every message lands in the outbox (devtools.outbox) as a .eml file, so a newcomer or a staging
box sees exactly what the pipeline sent without a real mailbox.
"""

import logging

from aiosmtpd.controller import Controller

from devtools import outbox

logger = logging.getLogger(__name__)


class OutboxHandler:
    def __init__(self, folder):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):
        path = outbox.save(
            envelope.original_content,
            envelope_from=envelope.mail_from,
            envelope_to=envelope.rcpt_tos,
            folder=self.folder,
        )
        # The file name, not the addresses: logs never carry a full address.
        logger.info("Message caught", extra={"file": path.name, "recipients": len(envelope.rcpt_tos)})
        return "250 Message accepted for delivery"


def start(*, host, port, folder):
    """Starts the server in a background thread; call `.stop()` on the result to end it."""
    # A fixed server name: the default looks up this machine's FQDN, which can hang offline.
    controller = Controller(OutboxHandler(folder), hostname=host, port=port, server_hostname="crm-mail-catcher")
    controller.start()
    return controller
