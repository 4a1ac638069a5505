"""What both spreadsheet screens (recipients, suppression list) share: bounded imports whose
file waits in private storage bound to the uploader, and exports without live formulas.

A refusal (too big, too many rows, a zip bomb, not a spreadsheet, a forged or stale upload
name) is a Russian message on the import page, never a 500.
"""

import io
import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from import_export.forms import ConfirmImportForm
from unfold.contrib.import_export.forms import ImportForm

from mailer.exceptions import MailerError
from mailer.spreadsheets.formats import EXPORT_FORMATS, IMPORT_FORMATS, neutralised
from mailer.spreadsheets.reader import ReadLimits, SpreadsheetRefused, check_size
from mailer.spreadsheets.uploads import PrivateUploadStorage, UploadRefused, issue_name, redeem_name

logger = logging.getLogger(__name__)

UNREADABLE = "Файл не удалось прочитать: проверьте, что выбран верный формат (xlsx или csv)."
FORGED_FORM = "Форма подтверждения импорта повреждена. Загрузите файл заново."


class BoundedUploadHandler(FileUploadHandler):
    """Keeps no byte of an upload past `max_bytes`: the rest of the body is read and dropped.

    An upload over the limit arrives as an empty file that knows its real size, so the import
    form refuses it by size without a 50 MB file ever reaching memory or disk.
    """

    def __init__(self, request=None, *, max_bytes):
        super().__init__(request)
        self.max_bytes = max_bytes

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        return raw_data if self.received <= self.max_bytes else None  # None: nobody keeps it

    def file_complete(self, file_size):
        if self.received <= self.max_bytes:
            return None  # the next handler (memory or a temporary file) has it all
        return UploadedFile(io.BytesIO(), name=self.file_name, content_type=self.content_type, size=file_size)


class BoundedImportForm(ImportForm):
    """unfold's import form, refusing a file over MAILER_IMPORT_MAX_BYTES before it is read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["import_file"].help_text = ReadLimits.from_settings().hint()

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        try:
            check_size(upload.size)
        except SpreadsheetRefused as refusal:
            _log_refusal(refusal)
            raise forms.ValidationError(str(refusal)) from refusal
        return upload


class IssuedUploadConfirmForm(ConfirmImportForm):
    """Accepts only an upload name issued to this user (see mailer.spreadsheets.uploads)."""

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_import_file_name(self):
        try:
            return redeem_name(self.cleaned_data["import_file_name"], user=self.user)
        except UploadRefused as refusal:
            raise forms.ValidationError(str(refusal)) from refusal

    def clean_format(self):
        chosen = self.cleaned_data["format"]
        if not chosen.isdigit() or int(chosen) >= len(IMPORT_FORMATS):
            raise forms.ValidationError(FORGED_FORM)
        return chosen

    def clean_resource(self):
        chosen = self.cleaned_data["resource"]
        if chosen and chosen != "0":  # each screen imports through one resource
            raise forms.ValidationError(FORGED_FORM)
        return chosen


class SpreadsheetAdminMixin:
    """Mix in before import-export's admin classes."""

    import_formats = IMPORT_FORMATS
    export_formats = EXPORT_FORMATS
    tmp_storage_class = PrivateUploadStorage
    import_form_class = BoundedImportForm
    confirm_form_class = IssuedUploadConfirmForm

    # --- upload ----------------------------------------------------------------------------

    def get_urls(self):
        name = self._import_url_name()
        bounded = path("import/", self.admin_site.admin_view(self.bounded_import_view), name=name)
        return [bounded, *(url for url in super().get_urls() if getattr(url, "name", None) != name)]

    def _import_url_name(self):
        app_label, model_name = self.get_model_info()
        return f"{app_label}_{model_name}_import"

    # Django's CSRF check reads the body, after which no upload handler can be added: the
    # check runs below instead, once the byte limit is in place (Django's documented way).
    @method_decorator(csrf_exempt)
    def bounded_import_view(self, request, **kwargs):
        request.upload_handlers.insert(0, BoundedUploadHandler(request, max_bytes=settings.MAILER_IMPORT_MAX_BYTES))
        return csrf_protect(self.import_action)(request, **kwargs)

    def write_to_tmp_storage(self, import_file, input_format):
        storage = self.tmp_storage_class()
        storage.save_chunks(import_file.chunks())  # chunk by chunk, not joined in memory
        return storage

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, SpreadsheetRefused):
            _log_refusal(e)
        form.add_error("import_file", str(e) if isinstance(e, MailerError) else UNREADABLE)

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        if request.method == "POST" and not context.get("confirm_form"):
            _discard_upload(context.get("form"))  # nothing to confirm: the file has no use left
        return response

    # --- confirm ---------------------------------------------------------------------------

    def get_confirm_form_kwargs(self, request, import_form=None):
        return {**super().get_confirm_form_kwargs(request, import_form), "user": request.user}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["import_file_name"] = issue_name(initial["import_file_name"], user=request.user)
        return initial

    @method_decorator(require_POST)
    def process_import(self, request, **kwargs):
        if not self.has_import_permission(request):
            raise PermissionDenied
        confirm_form = self.create_confirm_form(request)
        if not confirm_form.is_valid():
            return self._back_to_import(request, _first_error(confirm_form))
        try:
            return super().process_import(request, **kwargs)
        except MailerError as refusal:  # the file no longer passes the limits, or vanished
            return self._back_to_import(request, str(refusal))
        finally:
            PrivateUploadStorage(name=confirm_form.cleaned_data["import_file_name"]).remove()

    def _back_to_import(self, request, message):
        messages.error(request, message)
        url = reverse(f"admin:{self._import_url_name()}", current_app=self.admin_site.name)
        return HttpResponseRedirect(url)

    # --- export ----------------------------------------------------------------------------

    def get_data_for_export(self, request, queryset, **kwargs):
        # Every admin export (the export page, the «export selected» action) passes here.
        return neutralised(super().get_data_for_export(request, queryset, **kwargs))


def _discard_upload(import_form):
    upload = getattr(import_form, "cleaned_data", {}).get("import_file")
    name = getattr(upload, "tmp_storage_name", None)
    if name:
        PrivateUploadStorage(name=name).remove()


def _first_error(form):
    return next((error for errors in form.errors.values() for error in errors), FORGED_FORM)


def _log_refusal(refusal):
    logger.info("Spreadsheet import refused", extra={"reason": refusal.reason})
