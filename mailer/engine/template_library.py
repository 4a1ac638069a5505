"""The only tags and filters a campaign template may use (the sandbox's one library).

Left out on purpose: `load`, `include`, `extends`, `url`, `cache`, `csrf_token`, `debug`,
`now`, `lorem`, `templatetag`, `autoescape`/`safe` (staff HTML stays escaped where variables
go), and every filter that takes an unbounded width or precision (`ljust`, `rjust`, `center`,
`stringformat`, `floatformat`) or multiplies its input (`force_escape` chains).
Every filter's result is capped at the message's output limit, all a message's filters
build is bounded, and every filter call checks the deadline; the ones that can grow without
bound from small input (`add`, `join`, `date`/`time` formats) are checked before they build
anything, and `striptags` is a linear one of ours.
"""

import functools

from django.template import Library, defaultfilters, defaulttags

from mailer.engine.plain_text import strip_markup
from mailer.engine.template_values import weight
from mailer.engine.templating import current_budget

ALLOWED_TAGS = ("if", "for", "with", "comment", "spaceless", "firstof")
ALLOWED_FILTERS = (
    "default", "default_if_none", "upper", "lower", "title", "capfirst", "cut", "escape",
    "striptags", "linebreaks", "linebreaksbr", "truncatechars", "truncatewords", "wordcount",
    "urlencode", "yesno", "pluralize", "length", "first", "last", "join", "slice", "add",
    "date", "time",
)  # fmt: skip

register = Library()


# --- the loop: one tick of the budget per iteration -----------------------------------------


class _MeteredSequence:
    """What `{% for %}` iterates: the real values, charging each step to the budget."""

    def __init__(self, values, budget):
        self.values = values if hasattr(values, "__len__") else list(values)
        self.budget = budget

    def __len__(self):
        return len(self.values)

    def __iter__(self):
        for item in self.values:
            self.budget.tick()
            yield item

    def __reversed__(self):
        for item in reversed(self.values):
            self.budget.tick()
            yield item


class _MeteredExpression:
    """Wraps a ForNode's sequence so that Django's own ForNode.render stays in charge."""

    def __init__(self, expression):
        self.expression = expression

    def resolve(self, context, ignore_failures=False):
        values = self.expression.resolve(context, ignore_failures)
        return None if values is None else _MeteredSequence(values, context.budget)

    def __str__(self):
        return str(self.expression)


def do_for(parser, token):
    node = defaulttags.do_for(parser, token)
    node.sequence = _MeteredExpression(node.sequence)
    return node


for _name in ALLOWED_TAGS:
    register.tags[_name] = do_for if _name == "for" else defaulttags.register.tags[_name]


# --- filters: capped results, bounded growth, time checked --------------------------------------

# The longest text one format character of `date`/`time` gives («r»: an RFC 5322 date).
DATE_CHARS_PER_FORMAT_CHAR = 40


def add(value, arg):
    """Django's `add`, refusing before it concatenates past the cap (`{% with %}` doubling;
    lists count by their text, so a list of a million references is refused too)."""
    budget = current_budget()
    budget.refuse_over_cap(weight(value, budget.max_bytes) + weight(arg, budget.max_bytes), "add")
    return defaultfilters.add(value, arg)


def join(value, arg, autoescape=True):
    """Django's `join`, refusing before it builds past the cap (`s|join:s` is len(s)²)."""
    budget = current_budget()
    if isinstance(value, (str, list, tuple)) and isinstance(arg, str):
        glue = len(arg) * max(len(value) - 1, 0)
        budget.refuse_over_cap(weight(value, budget.max_bytes) + glue, "join")
    return defaultfilters.join(value, arg, autoescape=autoescape)


def striptags(value):
    """Linear time, unlike Django's (mailer.engine.plain_text)."""
    return strip_markup(str(value))


def _dated(name):
    def formatted(value, arg=None):
        current_budget().refuse_over_cap(len(str(arg or "")) * DATE_CHARS_PER_FORMAT_CHAR, name)
        return defaultfilters.register.filters[name](value, arg)

    return formatted


BOUNDED = {"add": add, "join": join, "striptags": striptags, "date": _dated("date"), "time": _dated("time")}


def _capped(name, func, *, like):
    """`func` within the message's budget — its result under the cap, what all filters built
    bounded, the deadline checked — with the flags and signature of Django's filter `like`
    (is_safe, needs_autoescape, the argument count the parser checks)."""

    @functools.wraps(like)
    def capped(value, *args, **kwargs):
        result = func(value, *args, **kwargs)
        current_budget().built(result, name)
        return result

    return capped


for _name in ALLOWED_FILTERS:
    _django = defaultfilters.register.filters[_name]
    register.filters[_name] = _capped(_name, BOUNDED.get(_name, _django), like=_django)
