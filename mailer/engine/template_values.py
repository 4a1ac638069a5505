"""What a campaign template can reach: plain data, looked up by key and index only.

Django's own variable resolution looks up attributes and calls whatever it finds, so
`{{ items.pop }}`, `{{ data.clear }}` or `{{ name.split }}` ran Python methods of the
context's values (mutating a recipient's data, making lists out of strings). The sandbox
resolves `a.b.0` only as a key of a dict or an index of a list, and its values are copies
made of str, int, float, bool, None, dates and lists/dicts of them (`plain`).
"""

import datetime

from django.template.base import Variable, VariableDoesNotExist

# Deeper data is not a template's business; the bound keeps `plain` and `weight` off the
# recursion limit whatever a recipient's JSON holds.
MAX_DEPTH = 10
SCALARS = (str, int, float, bool, type(None), datetime.date, datetime.time)
DICT_VIEWS = {"items": dict.items, "keys": dict.keys, "values": dict.values}


def plain(value, depth=0):
    """A copy of `value` made only of plain data; anything else becomes its text."""
    if isinstance(value, str):
        return str.__str__(value)  # a str subclass (SafeString) must not skip escaping
    if isinstance(value, SCALARS):
        return value
    if depth >= MAX_DEPTH:
        return ""
    if isinstance(value, dict):
        return {str(key): plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item, depth + 1) for item in value]
    return str(value)


def weight(value, limit, depth=0):
    """About how many characters `value` takes as text (str() of a list included), counted
    no further than just past `limit`, so a list of a million references costs little."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or not isinstance(value, (int, list, tuple, dict)):
        return 32  # None, floats, dates: short
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if depth >= MAX_DEPTH:
        return limit + 1
    total = 2
    for item in value.items() if isinstance(value, dict) else value:
        total += weight(item, limit - total, depth + 1) + 4  # quotes, comma, space of repr
        if total > limit:
            break
    return total


class PlainVariable(Variable):
    """A Variable that never calls and never looks up an attribute."""

    __slots__ = ()  # Variable's layout, so a compiled Variable can switch to this class

    def _resolve_lookup(self, context):
        current = context
        for bit in self.lookups:
            current = _item(current, bit)
        return current


def _item(container, key):
    if isinstance(container, dict) and key not in container and key in DICT_VIEWS:
        return [plain(entry) for entry in DICT_VIEWS[key](container)]  # {% for k, v in d.items %}
    try:
        if isinstance(container, (list, tuple, str)):
            return container[int(key)]
        if isinstance(container, dict) or hasattr(container, "dicts"):  # the Context itself
            return container[key]
    except (KeyError, IndexError, ValueError):
        pass
    raise VariableDoesNotExist("Failed lookup for key [%s] in %r", (key, type(container).__name__))


def make_plain(filter_expression):
    """Switches the variable of a compiled expression and of its filters' arguments to
    PlainVariable (same state, one rule less)."""
    if isinstance(filter_expression.var, Variable):
        filter_expression.var.__class__ = PlainVariable
    for _func, args in filter_expression.filters:
        for _is_var, arg in args:
            if isinstance(arg, Variable):
                arg.__class__ = PlainVariable
    return filter_expression
