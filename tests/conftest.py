"""Shared fixtures: a real SMTP server (aiosmtpd), a local stand-in for the smtp.bz API,
pinned Moscow working time, and factories for campaigns."""

import asyncio
import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.contrib.auth.models import User
from django.core.cache import cache

from mailer.engine import shutdown
from mailer.models import Campaign, CampaignRecipient, GlobalMailAccount

MSK = ZoneInfo("Europe/Moscow")


def msk(*args):
    return datetime(*args, tzinfo=MSK)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with no counters, throttles or lock (its own Redis database), and
    with no stop requested of the sender."""
    cache.clear()
    shutdown.reset()
    yield


def unreachable_redis_caches():
    """CACHES pointing at a port where nothing listens."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "KEY_FUNCTION": "config.cache.raw_key",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }


@pytest.fixture
def redis_down(settings):
    """Points the cache at a port where nothing listens: Redis is unreachable."""
    settings.CACHES = unreachable_redis_caches()


@pytest.fixture
def broker_down():
    """Huey as in production (not immediate) with its Redis unreachable: queuing a task fails."""
    from huey import RedisHuey
    from huey.contrib.djhuey import HUEY

    saved = HUEY._immediate, HUEY.storage
    HUEY._immediate = False
    HUEY.storage = RedisHuey(HUEY.name, url=f"redis://127.0.0.1:{free_port()}/0").storage
    yield HUEY
    HUEY._immediate, HUEY.storage = saved


# --- SMTP --------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    message: email.message.EmailMessage
    peer: tuple  # the client's address and port: one per SMTP connection
    raw: bytes = b""  # the DATA as it came over the wire, before any parsing

    @property
    def to(self):
        return self.rcpt_tos[0]


class RecordingHandler:
    """Accepts everything except what a rule refuses; keeps what it received.

    Rules match the recipient's address by suffix ("" matches every address): `refuse` answers
    RCPT TO, `data_reply` answers the end of DATA (the message is not kept), `drop_after_data`
    keeps the message and closes the connection without a reply, `close_after` answers 250 and
    then closes the connection (a server dropping an idle client), `hang_after_data` delays the
    250 after DATA by that many seconds. `mail_from_reply` answers every MAIL FROM.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        self.received = []
        self.rcpt_seen = []  # every RCPT TO address the server was asked, refused ones too
        self.refuse = {}  # address suffix → SMTP reply, e.g. "550 5.1.1 User unknown"
        self.data_reply = {}  # address suffix → SMTP reply at the end of DATA
        self.drop_after_data = set()  # address suffixes
        self.close_after = set()  # address suffixes
        self.hang_after_data = {}  # address suffix → seconds
        self.mail_from_reply = None
        self.on_message = None  # called with each Received, in the server's thread

    @staticmethod
    def _rule(rules, address):
        address = address.lower()
        if isinstance(rules, dict):
            return next((reply for suffix, reply in rules.items() if address.endswith(suffix)), None)
        return any(address.endswith(suffix) for suffix in rules)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mail_from_reply:
            return self.mail_from_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_seen.append(address)
        reply = self._rule(self.refuse, address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        to = envelope.rcpt_tos[0]
        reply = self._rule(self.data_reply, to)
        if reply:
            return reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), message, session.peer, envelope.content)
        self.received.append(received)
        if self.on_message:
            self.on_message(received)
        if self._rule(self.drop_after_data, to):
            server.transport.abort()  # delivered, but the client never hears so
        elif self._rule(self.close_after, to):
            asyncio.get_running_loop().call_later(0.02, server.transport.close)
        delay = self._rule(self.hang_after_data, to)
        if delay:
            await asyncio.sleep(delay)
        return "250 Message accepted for delivery"

    def addresses(self):
        return [r.to for r in self.received]


@pytest.fixture(scope="session")
def _smtp_controller():
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def smtp_server(_smtp_controller):
    _smtp_controller.handler.reset()
    return _smtp_controller


@pytest.fixture
def mail_account(db, smtp_server):
    GlobalMailAccount.objects.update_or_create(
        pk=1,
        defaults={
            "is_enabled": True,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "use_tls": False,
            "use_ssl": False,
            "from_email": "crm@example.ru",
            "from_name": "Отдел продаж",
            "reply_to": "sales@example.ru",
            "per_user_daily_limit": 0,
        },
    )
    return GlobalMailAccount.load()


@pytest.fixture
def inbox(smtp_server, mail_account):
    """What the SMTP server received, with the account pointed at it."""
    return smtp_server.handler


# --- time ----------------------------------------------------------------------------------


@pytest.fixture
def clock():
    """Pins time (for every thread) at Monday 2026-11-30 10:00 MSK; `clock.move_to(...)`."""
    with time_machine.travel(msk(2026, 11, 30, 10, 0), tick=False) as traveller:
        yield traveller


# --- people and campaigns ------------------------------------------------------------------


@pytest.fixture
def owner(db):
    return User.objects.create_user("manager_a", "a@crm.example", "pass", is_staff=True)


@pytest.fixture
def other_owner(db):
    return User.objects.create_user("manager_b", "b@crm.example", "pass", is_staff=True)


def make_campaign(owner, *, recipients=0, emails=(), name="Осенняя рассылка", **fields):
    campaign = Campaign.objects.create(
        name=name,
        subject=fields.pop("subject", "Предложение для {{ company }}"),
        body_html=fields.pop("body_html", "<p>Здравствуйте, {{ name }}!</p>"),
        created_by=owner,
        **fields,
    )
    addresses = list(emails) or [f"client{i}@example.com" for i in range(recipients)]
    CampaignRecipient.objects.bulk_create(
        CampaignRecipient(campaign=campaign, email=address, name=f"Клиент {i}") for i, address in enumerate(addresses)
    )
    return campaign


# --- smtp.bz API stand-in --------------------------------------------------------------------


class FakeSmtpBz:
    """A local HTTP server answering like api.smtp.bz; tests set `status` and `body`.

    The routes and the shapes of their answers are documented in docs/smtp-bz-api.md.
    `GET …/unsubscribe` pages through `unsubscribed` (the provider's own list, items as the
    API returns them) unless `unsubscribe_body` overrides the answer; `POST …/unsubscribe/add`
    appends to it, `POST …/unsubscribe/remove` takes the address off it. `GET …/log/message`
    pages through `messages` (log items as the API returns them; `tag`, `is_open`, `from` and
    `to` filter) unless `log_body` overrides the answer. Every other GET answers `body`.
    `status` applies to every route; `post_status`, when set, to POSTs only.
    """

    def __init__(self):
        self.status = 200
        self.body = {"tarif": "free", "quota": 14794, "tarif_quota": 15000, "hsent": 6, "hlimit": 100}
        self.unsubscribed = []
        self.unsubscribe_body = None
        self.messages = []
        self.log_body = None
        self.post_status = None
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path, _, query = self.path.partition("?")
                fake.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
                if path.endswith("/unsubscribe"):
                    self._answer(fake.unsubscribe_page(parse_qs(query)))
                elif path.endswith("/log/message"):
                    self._answer(fake.log_page(parse_qs(query)))
                else:
                    self._answer(fake.body)

            def do_POST(self):
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
                fake.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "form": form})
                status = fake.post_status or fake.status
                if self.path.endswith("/unsubscribe/add") and status == 200:
                    fake.unsubscribed.append({"address": form["address"][0], "reason": "api"})
                if self.path.endswith("/unsubscribe/remove") and status == 200:
                    gone = form["address"][0]
                    fake.unsubscribed = [item for item in fake.unsubscribed if item.get("address") != gone]
                self._answer({"result": True}, status)

            def _answer(self, body, status=None):
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status or fake.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def unsubscribe_page(self, query):
        if self.unsubscribe_body is not None:
            return self.unsubscribe_body
        limit, offset = int(query.get("limit", ["100"])[0]), int(query.get("offset", ["0"])[0])
        return {"data": self.unsubscribed[offset : offset + limit], "total": len(self.unsubscribed)}

    def log_page(self, query):
        if self.log_body is not None:
            return self.log_body
        arg = {key: values[0] for key, values in query.items()}
        found = [
            item
            for item in self.messages
            if arg.get("tag") in (None, item.get("tag"))
            and arg.get("is_open") in (None, str(int(bool(item.get("is_open")))))
            and arg.get("from", "") <= str(item.get("date", arg.get("from", "")))[:10] <= arg.get("to", "9999")
        ]
        limit, offset = int(arg.get("limit", 100)), int(arg.get("offset", 0))
        return {"data": found[offset : offset + limit], "total": len(found)}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp_bz(settings):
    fake = FakeSmtpBz()
    settings.MAILER_SMTP_BZ_API_URL = fake.url
    yield fake
    fake.close()
