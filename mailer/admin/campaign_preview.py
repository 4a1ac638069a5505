"""The «Предпросмотр» tab: the e-mail as one chosen recipient gets it (subject, the HTML in
an inert sandboxed iframe, the plain-text part as it will be sent) and the variables that
print nothing for some recipients.

Staff HTML is never part of the admin page: the rendered HTML is escaped into `srcdoc` of
an iframe with an empty sandbox, under the admin's Content-Security-Policy.
"""

from django.templatetags.static import static
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString

from mailer.addresses import normalize_email
from mailer.engine.compose import CampaignTemplate, sample_context
from mailer.engine.templating import CampaignTemplateError
from mailer.models import Campaign
from mailer.template_variables import empty_variables

SUGGESTED = 50  # addresses offered in the picker; any other can be typed


def render_preview(campaign: Campaign, *, preview_as: str = "") -> SafeString:
    recipient = None
    if preview_as:
        recipient = campaign.recipients.filter(email=normalize_email(preview_as)).select_related("company").first()
    try:
        rendered = CampaignTemplate(
            subject=campaign.subject, body_html=campaign.body_html, body_text=campaign.body_text
        ).render(sample_context(campaign, email="", unsubscribe_url="#", recipient=recipient))
    except CampaignTemplateError as exc:  # the page opens whatever the body; it says why
        return format_html('<div id="campaign-preview-error" class="text-red-600">{}</div>', str(exc))
    # The rendered parts are SafeStrings (even the plain text), which format_html would insert
    # as they are: escape them explicitly (the HTML so it stays inside the attribute).
    return format_html(
        "{}{}"
        '<div class="text-sm mb-2"><b>Тема:</b> {}</div>'
        '<iframe id="campaign-preview" sandbox="" srcdoc="{}" title="Предпросмотр письма" '
        'class="w-full bg-white rounded-default border border-base-200" style="min-height:320px">'
        "</iframe>"
        '<div class="text-sm mt-4 mb-1"><b>Текстовая часть</b> (так её увидят почтовые программы без HTML):</div>'
        '<pre id="campaign-preview-text" class="text-sm whitespace-pre-wrap bg-base-50 dark:bg-base-800 '
        'rounded-default border border-base-200 dark:border-base-700 p-3">{}</pre>',
        _picker(campaign, preview_as=preview_as, found=recipient),
        _warnings(campaign),
        rendered.subject,
        escape(str(rendered.html)),
        escape(str(rendered.text)),
    )


def _picker(campaign: Campaign, *, preview_as: str, found) -> SafeString:
    """Whose data fill the variables: a search box with the first addresses suggested; the
    script (a file: the CSP allows no inline script) reloads the page with ?preview_as=."""
    if preview_as and found is None:
        whose = format_html('<span class="text-red-600">Получатель «{}» не найден — показан первый.</span>', preview_as)
    elif found is not None:
        whose = format_html("Данные получателя {}.", found.email)
    else:
        whose = "Данные первого получателя (или пример, пока их нет)."
    options = format_html_join(
        "",
        '<option value="{}"></option>',
        ((e,) for e in campaign.recipients.values_list("email", flat=True)[:SUGGESTED]),
    )
    return format_html(
        '<div class="flex flex-row flex-wrap items-center gap-2 mb-3 text-sm">'
        '<label for="preview-as">Показать как получатель:</label>'
        '<input id="preview-as" type="search" list="preview-as-list" value="{}" placeholder="e-mail получателя" '
        'class="border border-base-200 dark:border-base-700 rounded-default px-3 py-1.5 w-72 '
        'bg-white dark:bg-base-900">'
        '<button type="button" id="preview-as-go" class="bg-primary-600 text-white rounded-default px-3 py-1.5">'
        "Показать</button>"
        '<span id="preview-as-whose">{}</span>'
        '<datalist id="preview-as-list">{}</datalist>'
        '<script src="{}"></script></div>',
        preview_as,
        whose,
        options,
        static("mailer/preview_as.js"),
    )


def _warnings(campaign: Campaign) -> SafeString:
    return format_html(
        '<ul id="campaign-preview-warnings" class="text-sm mb-2">{}</ul>',
        format_html_join(
            "",
            '<li class="text-orange-700 dark:text-orange-400">{}</li>',
            ((w.text,) for w in empty_variables(campaign)),
        ),
    )
