"""The e-mail body's editor: a visual editor (Trix, shipped with django-unfold and served
from our own static files: it works offline) beside the HTML source, and a list of the
variables to insert.

The HTML source (the textarea, the field itself) stays the truth. The visual mode is opened
by staff, and only for a body of simple markup (paragraphs, headings, emphasis, lists,
links): mailer/static/mailer/body_editor.js reads the body in an inert document, refuses
anything else (tables, styles, images…) rather than mangle it, and hands Trix a copy with
no attribute but a link's address, so no staff HTML runs or loads anything in the admin.
"""

from django.forms import Media
from unfold.contrib.forms.widgets import WysiwygWidget
from unfold.widgets import UnfoldAdminTextareaWidget

FIXED_VARIABLES = ("name", "company", "email", "unsubscribe_url")


class BodyEditorWidget(UnfoldAdminTextareaWidget):
    template_name = "admin/mailer/campaign/body_editor.html"

    def __init__(self, attrs=None, variables=()):
        super().__init__(attrs={"rows": 14, **(attrs or {})})
        self.variables = variables

    @property
    def media(self):
        # Trix and its toolbar's config from unfold, then our script (files: the CSP allows
        # no inline script).
        return super().media + WysiwygWidget().media + Media(js=("mailer/body_editor.js",))

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["variables"] = list(dict.fromkeys([*FIXED_VARIABLES, *self.variables]))
        return context
