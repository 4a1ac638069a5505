"""Campaign attachments: where they are kept, which files are accepted, who may download them.

They live under MEDIA_ROOT, which no URL serves: an uploaded file must never open on the
admin's origin (an `.html` would run there). Every link to one — the admin's file widget
included, through the storage's `url()` — goes to the download view (admin/attachments.py),
which lets only staff who may see the campaign have it, and always as a download.
"""

from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.deconstruct import deconstructible

# Types a browser or a mail client would run or render as a page: refused even if an
# operator lists them in MAILER_ATTACHMENT_EXTENSIONS.
NEVER_ALLOWED = frozenset(
    {
        "htm",
        "html",
        "xhtml",
        "shtml",
        "mht",
        "mhtml",
        "svg",
        "svgz",
        "xml",
        "xsl",
        "js",
        "mjs",
        "hta",
        "swf",
        "exe",
        "com",
        "bat",
        "cmd",
        "scr",
        "msi",
        "ps1",
        "vbs",
        "jar",
        "sh",
        "php",
    }
)


@deconstructible
class AttachmentStorage(FileSystemStorage):
    """Files under MEDIA_ROOT, linked through the download view instead of a public URL."""

    def url(self, name):
        return reverse("mailer_attachment", args=[name])


def allowed_extensions() -> list[str]:
    configured = {e.strip().lower().lstrip(".") for e in settings.MAILER_ATTACHMENT_EXTENSIONS}
    return sorted(configured - NEVER_ALLOWED - {""})


def validate_upload(upload) -> None:
    """Refuses a new upload of a type not allowed or over MAILER_ATTACHMENT_MAX_BYTES."""
    name = PurePosixPath(upload.name).name
    extension = PurePosixPath(name).suffix.lower().lstrip(".")
    allowed = allowed_extensions()
    if extension not in allowed:
        kind = f"тип .{extension}" if extension else "файл без расширения"
        raise ValidationError(
            f"Файл «{name}» нельзя приложить к письму: {kind} не разрешён. Можно: {', '.join(allowed)}."
        )
    limit = settings.MAILER_ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            f"Файл «{name}» слишком большой: {filesizeformat(upload.size)}, можно не больше {filesizeformat(limit)}."
        )


def may_download(user, campaign) -> bool:
    """The campaign's owner and superusers; another manager must not learn it exists."""
    return user.is_active and user.is_staff and (user.is_superuser or campaign.created_by_id == user.pk)
