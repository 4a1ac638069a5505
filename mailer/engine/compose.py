"""Building campaign messages: templates compiled once per run (in the sandbox of
mailer.engine.templating), a MIME message per recipient."""

import html
import mimetypes
import re
from dataclasses import dataclass
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.mail import EmailMultiAlternatives
from django.utils.html import strip_tags

from mailer.engine.templating import CampaignTemplateError, RenderBudget, compile_template, render_template

HTML_FOOTER = (
    '\n<p style="margin-top:24px;font-size:12px;color:#6b7280">'
    "Вы получили это письмо, потому что есть в нашей базе клиентов. "
    '<a href="{{ unsubscribe_url }}">Отписаться от рассылки</a>.</p>'
)
TEXT_FOOTER = "\n\n--\nОтписаться от рассылки: {{ unsubscribe_url }}\n"


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
            attachments=[_read_attachment(a.file) for a in campaign.attachments.all()],
        )

    def render(self, context):
        """One message within one budget of output and time (all three parts together)."""
        budget = RenderBudget()
        subject = render_template(self.subject, context, budget=budget, autoescape=False, part="subject")
        body_html = render_template(self.html, context, budget=budget, autoescape=True, part="body_html")
        if self.text:
            body_text = render_template(self.text, context, budget=budget, autoescape=False, part="body_text")
        else:
            body_text = _text_from_html(body_html)
        # Headers take no line breaks.
        return Rendered(subject=" ".join(subject.split()), html=body_html, text=body_text)


def _text_from_html(body_html):
    try:
        return html_to_text(body_html)
    except SuspiciousOperation as exc:  # strip_tags gives up on deeply broken markup
        raise CampaignTemplateError(
            "в HTML столько незакрытых тегов, что текстовую версию не собрать: исправьте HTML "
            "или заполните «Текст письма (без оформления)».",
            part="body_html",
        ) from exc


def trial_render(*, subject: str, body_html: str, body_text: str, context: dict) -> Rendered:
    """Compiles and renders once with `context`: what save, start and test send ask before
    they accept a template. Raises CampaignTemplateError."""
    return CampaignTemplate(subject=subject, body_html=body_html, body_text=body_text).render(context)


def _with_footer(source, footer):
    return source if "unsubscribe_url" in source else source + footer


def _read_attachment(field_file):
    with field_file.open("rb") as handle:
        content = handle.read()
    filename = field_file.name.rsplit("/", 1)[-1]
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Attachment(filename=filename, content=content, mimetype=mimetype)


# Each part stops at the next `<` (the label: at the next `<a`), so a failed match costs the
# distance to the next tag: with `[^>]*` and `(.*?)</a>`, every unclosed link scanned to the
# end of the body, and 100 KB of them took 10 s (quadratic).
_LINK = re.compile(r"""<a\s[^<>]*?href=["']([^"'<>]+)["'][^<>]*>((?:[^<]|<(?!a\s))*?)</a>""", re.IGNORECASE | re.DOTALL)


def html_to_text(body_html):
    """A plain-text twin of an HTML body; links keep their address: `label (url)`."""
    text = _LINK.sub(_link_as_text, body_html)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</h[1-6]>|</li>", "\n", text)
    text = html.unescape(strip_tags(text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _link_as_text(match):
    url, label = match.group(1), match.group(2)
    return label if label == url else f"{label} ({url})"


def recipient_context(*, email, name, company, variables, unsubscribe_url):
    """Import columns first, so the fixed names always mean what the docs say."""
    return {
        **(variables or {}),
        "email": email,
        "name": name,
        "company": company or (variables or {}).get("company", ""),
        "unsubscribe_url": unsubscribe_url,
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


def build_message(*, account, rendered, to, message_id, unsubscribe_url, attachments=()):
    headers = {
        "Message-ID": message_id,
        "List-Unsubscribe": _list_unsubscribe(unsubscribe_url),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
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
