"""Template helpers of the mailer's admin screens."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def row_actions(context, instance):
    """The row menu of one list row: the screen's own choice when it makes one (e.g. a
    campaign shows only the actions its status allows), else every row action."""
    actions = context.get("actions_row") or []
    choose = getattr(context["cl"].model_admin, "row_actions", None)
    return choose(actions, instance) if choose else actions
