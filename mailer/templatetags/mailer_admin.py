"""Template helpers of the mailer's admin screens."""

from django import template

from mailer import russian

register = template.Library()


@register.simple_tag(takes_context=True)
def row_actions(context, instance):
    """The row menu of one list row: the screen's own choice when it makes one (e.g. a
    campaign shows only the actions its status allows), else every row action."""
    actions = context.get("actions_row") or []
    choose = getattr(context["cl"].model_admin, "row_actions", None)
    return choose(actions, instance) if choose else actions


@register.filter
def counted(number, verbose_name):
    """`{{ 5|counted:opts.verbose_name }}` → «5 получателей»."""
    return russian.counted(int(number), verbose_name)


@register.filter
def accusative(verbose_name):
    """`{{ opts.verbose_name|accusative }}` → «кампанию»."""
    return russian.accusative(verbose_name)


@register.filter
def add_another(verbose_name):
    """`{{ opts.verbose_name|add_another }}` → «Добавить ещё одно вложение»."""
    return russian.add_another(verbose_name)
