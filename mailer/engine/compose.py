"""Building campaign messages: templates compiled once per run (in the sandbox of
mailer.engine.templating), a MIME message per recipient."""

import mimetypes
from dataclasses import dataclass
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import sanitize_address

from mailer.engine.plain_text import html_to_text
from mailer.engine.template_values import plain
from mailer.engine.templating import RenderBudget, compile_template, render_template
from mailer.exceptions import MailerError

HTML_FOOTER = (
    '\n<p style="margin-top:24px;font-size:12px;color:#6b7280">'
    "Вы получили это письмо, потому что есть в нашей базе клиентов. "
    '<a href="{{ unsubscribe_url }}">Отписаться от рассылки</a>.</p>'
)
TAG_HEADER = "X-Tag"
TEXT_FOOTER = "\n\n--\nОтписаться от рассылки: {{ unsubscribe_url }}\n"


class MessageBuildError(MailerError):
    """A campaign's message cannot be built (an attachment file is gone or unreadable): the
    campaign does not start, or the sender pauses it, with this Russian text."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


class CampaignTemplate:
    """A campaign's subject and bodies compiled once, rendered for each recipient.

    Both steps raise CampaignTemplateError (a MailerError) with the Russian text staff read.
    """

    def __init__(self, *, subject, body_html, body_text="", attachments=()):
        self.subject = compile_template(subject, part="subject")
        self.html = compile_template(_with_footer(body_html, HTML_FOOTER), part="body_html")
        self.text = (
            compile_template(_with_footer(body_text, TEXT_FOOTER), part="body_text") if body_text.strip() else None
        )
        self.attachments = tuple(attachments)

    @classmethod
    def for_campaign(cls, campaign):
        return cls(
            subject=campaign.subject,
            body_html=campaign.body_html,
            body_text=campaign.body_text,
            attachments=read_attachments(campaign),
        )

    def render(self, context):
        """One message within one budget of output and time (all three parts together)."""
        budget = RenderBudget()
        subject = render_template(self.subject, context, budget=budget, autoescape=False, part="subject")
        body_html = render_template(self.html, context, budget=budget, autoescape=True, part="body_html")
        if self.text:
            body_text = render_template(self.text, context, budget=budget, autoescape=False, part="body_text")
        else:
            body_text = html_to_text(body_html)  # linear time: no budget needed
        # Headers take no line breaks.
        return Rendered(subject=" ".join(subject.split()), html=body_html, text=body_text)


def trial_render(*, subject: str, body_html: str, body_text: str, context: dict) -> Rendered:
    """Compiles and renders once with `context`: what save, start and test send ask before
    they accept a template. Raises CampaignTemplateError."""
    return CampaignTemplate(subject=subject, body_html=body_html, body_text=body_text).render(context)


def _with_footer(source, footer):
    return source if "unsubscribe_url" in source else source + footer


def read_attachments(campaign) -> list[Attachment]:
    """Every attachment file of the campaign, read now; raises MessageBuildError naming the
    first one that cannot be read."""
    return [_read_attachment(a.file) for a in campaign.attachments.all()]


def _read_attachment(field_file):
    filename = field_file.name.rsplit("/", 1)[-1]
    try:
        with field_file.open("rb") as handle:
            content = handle.read()
    except FileNotFoundError as exc:
        raise MessageBuildError(f"Файла вложения «{filename}» нет в хранилище.") from exc
    except OSError as exc:
        raise MessageBuildError(f"Файл вложения «{filename}» не прочитать ({exc.strerror or exc}).") from exc
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Attachment(filename=filename, content=content, mimetype=mimetype)


def recipient_context(*, email, name, company, variables, unsubscribe_url):
    """Import columns first, so the fixed names always mean what the docs say.

    Every value is a plain copy (mailer.engine.template_values): a template sees data, never
    an object of ours, and whatever it does to a value stays in this render. Variables that
    are not a JSON object (the admin's JSON field takes `[1, 2]`) are no variables.
    """
    variables = plain(variables) if isinstance(variables, dict) else {}
    return {
        **variables,
        "email": plain(email),
        "name": plain(name),
        "company": plain(company) or variables.get("company", ""),
        "unsubscribe_url": plain(unsubscribe_url),
    }


def sample_context(campaign, *, email: str, unsubscribe_url: str, recipient=None) -> dict:
    """The context of `recipient` (staff chose whom to preview as), else of the campaign's
    first recipient (or of a made-up one): what previews, test sends and the checks before
    save and start render with."""
    sample = recipient or (campaign.recipients.select_related("company").first() if campaign and campaign.pk else None)
    return recipient_context(
        email=email or (sample.email if sample else "ivan@example.ru"),
        name=sample.name if sample else "Иван Иванов",
        company=sample.company.name if sample and sample.company else "",
        variables=sample.variables if sample else {},
        unsubscribe_url=unsubscribe_url,
    )


def new_message_id(account, *, idstring):
    domain = account.from_email.rpartition("@")[2] or "localhost"
    return make_msgid(idstring=idstring, domain=domain)


def build_message(*, account, rendered, to, message_id, unsubscribe_url, attachments=(), tag=""):
    headers = {
        "Message-ID": message_id,
        "List-Unsubscribe": _list_unsubscribe(unsubscribe_url),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if tag:  # the campaign's tag in the provider's log (mailer/smtp_bz/delivery.py)
        headers[TAG_HEADER] = tag
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=formataddr((account.from_name, account.from_email)),
        to=[to],
        reply_to=[account.reply_to] if account.reply_to else None,
        headers=headers,
    )
    message.attach_alternative(rendered.html, "text/html")
    for attachment in attachments:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    return message


def _list_unsubscribe(url):
    targets = [f"<{url}>"]
    mailto = settings.MAILER_UNSUBSCRIBE_MAILTO
    if mailto:
        targets.append(f"<mailto:{mailto}?subject=unsubscribe>")
    return ", ".join(targets)


@dataclass(frozen=True)
class Prepared:
    """A message as its bytes on the wire: the envelope and the data Django's SMTP backend
    would build from it in send(). Built before the claim (mailer.engine.sender), so a
    message that breaks while serialised leaves its recipient waiting, not claimed."""

    from_email: str
    recipients: list[str]
    data: bytes


def serialise(message) -> Prepared:
    """What django.core.mail.backends.smtp.EmailBackend._send sends for `message`."""
    encoding = message.encoding or settings.DEFAULT_CHARSET
    return Prepared(
        from_email=sanitize_address(message.from_email, encoding),
        recipients=[sanitize_address(address, encoding) for address in message.recipients()],
        data=message.message().as_bytes(linesep="\r\n"),
    )
