"""What every mailer admin shares: ownership scoping and how an action answers."""

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.text import smart_split, unescape_string_literal

from mailer import selectors
from mailer.addresses import is_valid_email, normalize_email
from mailer.exceptions import MailerError
from mailer.models import Campaign


class OwnedAdminMixin:
    """Managers see only rows of their own campaigns; superusers see everything.

    `owner_lookup` is the path from the model to the owning user.
    """

    owner_lookup = "created_by"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{self.owner_lookup: request.user})

    def has_change_permission(self, request, obj=None):
        # unfold checks detail and row actions with the object's id, before any form is
        # shown: another manager's id must be refused there too.
        if isinstance(obj, (str, int)):
            obj = self.get_object(request, str(obj))
            if obj is None:
                return False
        return super().has_change_permission(request, obj)


class RowCountsMixin:
    """A list whose rows show their campaign's progress: the counts of the page's rows only,
    read from the kept counters in one query (`row.recipient_counts`, a selectors.Counts)."""

    def row_campaign_id(self, row):
        return row.pk

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)  # evaluated here, cached for the template
        counts = selectors.recipient_counts(self.row_campaign_id(row) for row in rows)
        for row in rows:
            row.recipient_counts = counts[self.row_campaign_id(row)]
        return changelist


class IndexedSearchMixin:
    """The search of a big list, each condition on an index: a whole e-mail address finds
    that address (`email`), other words `search_fields` by substring (trigram indexes,
    migration 0012), `search_exact_fields` whole (a Message-ID, with or without its angle
    brackets), and the campaign's name through the few campaigns that match it, so the OR
    stays on one table. Words are ANDed, as Django's own search does."""

    search_exact_fields = ()
    search_campaign_name = True

    def get_search_results(self, request, queryset, search_term):
        for word in _words(search_term):
            queryset = queryset.filter(self._word_match(word))
        return queryset, False

    def _word_match(self, word):
        match = Q()
        for field in self.search_exact_fields:
            match |= Q(**{f"{field}__in": [word, f"<{word.strip('<>')}>"]})
        if is_valid_email(word):  # a whole address: that address, on its own index
            return match | Q(email__in={word, normalize_email(word)})
        for field in self.search_fields:
            match |= Q(**{f"{field}__icontains": word})
        if self.search_campaign_name:
            campaigns = Campaign.objects.filter(name__icontains=word).values_list("pk", flat=True)
            match |= Q(campaign_id__in=list(campaigns))
        return match


def _words(search_term):
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if bit:
            yield bit


def redirect_after_action(request, url):
    """A redirect that also works for unfold's dialogs, which post through htmx."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def run_action(request, action, *, success):
    """Runs a service call; shows `success(result)` or the refusal, both in Russian.

    Returns the result, or None when the service refused.
    """
    try:
        result = action()
    except MailerError as refusal:
        messages.error(request, str(refusal))
        return None
    messages.success(request, success(result))
    return result
