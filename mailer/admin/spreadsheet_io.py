"""What both spreadsheet screens (recipients, suppression list) share: bounded imports whose
file waits in private storage bound to the uploader, and exports without live formulas.

A refusal (too big, too many rows, a zip bomb, not a spreadsheet, a forged or stale upload
name) is a Russian message on the import page, never a 500.
"""

import io
import logging
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.db.models import Model
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.text import Truncator
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from import_export.forms import ConfirmImportForm
from unfold.contrib.import_export.forms import ImportForm

from mailer.exceptions import MailerError
from mailer.spreadsheets.formats import EXPORT_FORMATS, IMPORT_FORMATS, neutralised
from mailer.spreadsheets.reader import ReadLimits, SpreadsheetRefused, Table, check_size, read_table
from mailer.spreadsheets.reporting import ImportPreview
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
        if chosen not in {str(index) for index in range(len(IMPORT_FORMATS))}:  # «²» passes isdigit()
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
        name = self._url_name("import")
        bounded = path("import/", self.admin_site.admin_view(self.bounded_import_view), name=name)
        return [bounded, *(url for url in super().get_urls() if getattr(url, "name", None) != name)]

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

    # --- the screens fill these in --------------------------------------------------------

    import_template_name = "admin/mailer/import.html"
    import_columns_help = ""  # what the file must hold, shown over the form

    def preview_import(self, request, form, table: Table) -> ImportPreview:
        raise NotImplementedError

    def run_import(self, request, form, table: Table) -> "Imported":
        raise NotImplementedError

    def import_cancel_url(self, request, form) -> str:
        return reverse(f"admin:{self._url_name('changelist')}", current_app=self.admin_site.name)

    # --- preview ---------------------------------------------------------------------------

    def import_action(self, request, **kwargs):
        """The upload form; posted, the file is stored privately, read and checked, and the page
        shows what the import would do, with «Подтвердить импорт». Nothing is written here."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = self.create_import_form(request)
        context = {}
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["import_file"]
            storage = self.write_to_tmp_storage(upload, None)
            upload.tmp_storage_name = storage.name  # get_confirm_form_initial() issues it
            try:
                table = read_table(storage.read(), IMPORT_FORMATS[int(form.cleaned_data["format"])].kind)
                preview = self.preview_import(request, form, table)
            except MailerError as refusal:
                self.add_data_read_fail_error_to_form(form, refusal)
                storage.remove()  # nothing to confirm: the file has no use left
            else:
                context.update(_preview_context(preview), file_name=upload.name)
                context["confirm_form"] = self.create_confirm_form(request, import_form=form)
                context["cancel_url"] = self.import_cancel_url(request, form)
        context.update(
            self.admin_site.each_context(request),
            title="Импорт из файла",
            form=form,
            opts=self.model._meta,
            media=self.media + form.media,
            columns_help=self.import_columns_help,
            confirm_url=reverse(f"admin:{self._url_name('process_import')}", current_app=self.admin_site.name),
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

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
        """«Подтвердить импорт»: the stored file read again and imported; one admin log entry."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        confirm_form = self.create_confirm_form(request)
        if not confirm_form.is_valid():
            return self._back_to_import(request, _first_error(confirm_form))
        storage = PrivateUploadStorage(name=confirm_form.cleaned_data["import_file_name"])
        try:
            kind = IMPORT_FORMATS[int(confirm_form.cleaned_data["format"])].kind
            done = self.run_import(request, confirm_form, read_table(storage.read(), kind))
        except MailerError as refusal:  # the file no longer passes, vanished, or the campaign changed
            return self._back_to_import(request, str(refusal))
        finally:
            storage.remove()
        _audit(request, self.model, done.audited, done.audit_text)
        messages.success(request, done.message)
        if done.warning:
            messages.warning(request, done.warning)
        return HttpResponseRedirect(done.next_url)

    def _back_to_import(self, request, message):
        messages.error(request, message)
        return HttpResponseRedirect(reverse(f"admin:{self._url_name('import')}", current_app=self.admin_site.name))

    def _url_name(self, view):
        app_label, model_name = self.get_model_info()
        return f"{app_label}_{model_name}_{view}"

    # --- export ----------------------------------------------------------------------------

    def get_data_for_export(self, request, queryset, **kwargs):
        # Every admin export (the export page, the «export selected» action) passes here.
        return neutralised(super().get_data_for_export(request, queryset, **kwargs))


@dataclass(frozen=True)
class Imported:
    """What a screen's `run_import` did: the messages, the one admin log entry, where to go."""

    message: str
    warning: str  # the bad rows, or ""
    audited: Model | None  # the object the log entry is about (none: the screen's model)
    audit_text: str
    next_url: str


def _preview_context(preview):
    return {
        "preview": preview,
        "summary_table": {"headers": ["", "Строк"], "rows": preview.summary},
        "bad_table": {
            "headers": ["Строка", "Адрес в файле", "Причина"],
            "rows": [[row.line, row.value or "пусто", row.reason] for row in preview.bad],
        },
        "sample_table": {"headers": preview.sample_headers, "rows": preview.sample_rows},
    }


def _audit(request, model, obj, text):
    """One LogEntry for a whole import (not one per row): who, what file, what it did."""
    LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=ContentType.objects.get_for_model(model if obj is None else obj),
        object_id=None if obj is None else str(obj.pk),
        object_repr=Truncator(str(obj) if obj is not None else text).chars(200),
        action_flag=ADDITION if obj is None else CHANGE,
        change_message=text,
    )


def _first_error(form):
    return next((error for errors in form.errors.values() for error in errors), FORGED_FORM)


def _log_refusal(refusal):
    logger.info("Spreadsheet import refused", extra={"reason": refusal.reason})
