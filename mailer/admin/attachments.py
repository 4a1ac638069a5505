"""The only way to an attachment: a download for staff who may see its campaign."""

from pathlib import PurePosixPath

from django.http import FileResponse, Http404

from mailer.attachments import may_download
from mailer.models import CampaignAttachment


def download_attachment(request, name):
    """Always a download, never a page: `Content-Disposition: attachment`, a type no browser
    renders, and nosniff. Another manager's file and a missing one are the same 404."""
    attachment = CampaignAttachment.objects.select_related("campaign").filter(file=name).first()
    if attachment is None or not may_download(request.user, attachment.campaign):
        raise Http404("Вложение не найдено.")
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("Файл вложения не найден на диске.") from exc
    response = FileResponse(
        handle, as_attachment=True, filename=PurePosixPath(name).name, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
