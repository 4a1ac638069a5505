"""Which template variables a campaign prints, and for how many waiting recipients each is
empty: «{{ city }}» with no city sends «(г. )», an empty name «Здравствуйте, !».

Shown in the preview and in the start and schedule dialogs (which then ask to confirm). A
variable printed through `default` (`{{ name|default:"коллеги" }}`) is never empty; names
bound inside the template (`{% for %}`, `{% with %}`) are not the recipients'.
"""

from dataclasses import dataclass

from django.db.models import Count, Q, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.template.base import VariableNode
from django.template.defaulttags import ForNode, WithNode

from mailer.engine.templating import CampaignTemplateError, compile_template
from mailer.models import Campaign, CampaignRecipient

ALWAYS_SET = {"email", "unsubscribe_url", "forloop"}  # the sender fills these for everyone
FILLS_THE_GAP = {"default", "default_if_none"}


@dataclass(frozen=True)
class EmptyVariable:
    name: str
    empty: int  # waiting recipients for whom it prints nothing
    waiting: int

    @property
    def text(self) -> str:
        return (
            f"{{{{ {self.name} }}}} пусто у {self.empty} из {self.waiting} получателей — "
            f'на его месте будет пустое место. Можно задать замену: {{{{ {self.name}|default:"…" }}}}.'
        )


def printed_variables(*sources: str) -> set[str]:
    """The recipients' variables the templates print with no default (first names only:
    `company.name` is `company`). A template that does not compile prints nothing here: the
    save and start checks say why."""
    names, bound = set(), set(ALWAYS_SET)
    for source in sources:
        try:
            nodelist = compile_template(source or "", part="body_html").nodelist
        except CampaignTemplateError:
            continue
        for node in nodelist.get_nodes_by_type(ForNode):
            bound.update(node.loopvars)
        for node in nodelist.get_nodes_by_type(WithNode):
            bound.update(node.extra_context)
        for node in nodelist.get_nodes_by_type(VariableNode):
            expression = node.filter_expression
            lookups = getattr(expression.var, "lookups", None)
            if lookups and not FILLS_THE_GAP & {f.__name__ for f, _ in expression.filters}:
                names.add(lookups[0])
    return names - bound


def _empty(name: str) -> Q:
    if name == "name":
        return Q(name="")
    # The name is one JSON key, passed as a value: spelt into a filter («variables__city__isnull»)
    # it would be read as lookups. Absent, null and "" read as "" here.
    in_variables = Q(Exact(Coalesce(KeyTextTransform(name, "variables"), Value(""), output_field=TextField()), ""))
    if name == "company":  # the linked company's name, else the import's column
        return Q(company__isnull=True) & in_variables
    return in_variables


def empty_variables(campaign: Campaign) -> list[EmptyVariable]:
    """Each printed variable empty for some waiting recipient, with how many: one query."""
    names = sorted(printed_variables(campaign.subject, campaign.body_html, campaign.body_text))
    if not names or campaign.pk is None:
        return []
    waiting = campaign.recipients.filter(status=CampaignRecipient.Status.PENDING)
    counts = waiting.aggregate(
        waiting=Count("id"), **{f"empty_{i}": Count("id", filter=_empty(name)) for i, name in enumerate(names)}
    )
    return [
        EmptyVariable(name=name, empty=counts[f"empty_{i}"], waiting=counts["waiting"])
        for i, name in enumerate(names)
        if counts[f"empty_{i}"]
    ]
