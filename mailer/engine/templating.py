"""Staff templates are data, not code: a sandboxed Django template engine.

The engine has no loaders, no `{% load %}` and none of Django's built-in tags or filters:
only the allow-list of `mailer.engine.template_library`, so `{% url %}`, `{% include %}`,
`{% cache %}` and friends never compile. Rendering is bounded while it happens: every piece
of output is counted against `MAILER_TEMPLATE_MAX_OUTPUT_BYTES`, and the output counter and
every loop iteration check the deadline of `MAILER_TEMPLATE_RENDER_SECONDS` and an
iteration budget. Any failure, at compile or render time, is a `CampaignTemplateError`
whose text staff read.
"""

import contextvars
import functools
import re
import time

from django.conf import settings
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import Parser, TextNode, VariableNode
from django.template.defaulttags import FirstOfNode

from mailer.engine.template_lexer import LinearLexer
from mailer.engine.template_values import make_plain, weight
from mailer.exceptions import MailerError

# Loop iterations per message, all loops together: a campaign e-mail needs a handful; nested
# loops over a long string need billions. Iterations of an empty loop body write nothing, so
# the output cap alone would not stop them.
MAX_LOOP_ITERATIONS = 100_000
# Block tags inside block tags: a letter needs a few. The bound keeps compiling off Python's
# recursion limit, whose depth left differs between a web request and the worker.
MAX_NESTING = 30
# Filters in one expression (`|` counted, in string literals too): a letter needs two or three.
MAX_FILTERS = 20
# What the filters of one message may build in all, as multiples of the output cap: values
# kept by `{% with %}` or thrown away by `{% if %}` cost memory without being written.
BUILT_PER_OUTPUT = 10

PARTS = {"subject": "Тема письма", "body_html": "Текст письма (HTML)", "body_text": "Текст письма (без оформления)"}


class CampaignTemplateError(MailerError):
    """A campaign template that does not compile or does not render, said in Russian.

    `part` is the campaign field at fault (`subject`, `body_html` or `body_text`), `line`
    the line of that field where compiling stopped.
    """

    def __init__(self, problem: str, *, part: str, line: int | None = None):
        self.part = part
        self.problem = problem if problem.endswith((".", "!", "?")) else problem + "."
        where = f"«{PARTS[part]}»" + (f", строка {line}" if line else "")
        super().__init__(f"Ошибка в шаблоне письма ({where}): {self.problem}")


class RenderLimitExceeded(Exception):
    """Raised inside the engine when a render goes over one of its bounds."""


class RenderBudget:
    """What one message may cost: output bytes, loop iterations, and time."""

    def __init__(self):
        self.max_bytes = settings.MAILER_TEMPLATE_MAX_OUTPUT_BYTES
        self.seconds = settings.MAILER_TEMPLATE_RENDER_SECONDS
        self.deadline = time.monotonic() + self.seconds
        self.bytes_left = self.max_bytes
        self.built_left = self.max_bytes * BUILT_PER_OUTPUT
        self.iterations_left = MAX_LOOP_ITERATIONS

    def spend(self, output: str) -> None:
        self.bytes_left -= len(output.encode())
        if self.bytes_left < 0:
            raise RenderLimitExceeded(self.too_large())
        self._check_deadline()

    def too_large(self) -> str:
        return (
            f"письмо получается больше {self.max_bytes // 1000} КБ (проверьте циклы и фильтры, которые удлиняют текст)."
        )

    def tick(self) -> None:
        self.iterations_left -= 1
        if self.iterations_left < 0:
            raise RenderLimitExceeded(
                f"в циклах шаблона больше {MAX_LOOP_ITERATIONS} повторов — упростите циклы {{% for %}}."
            )
        self._check_deadline()

    def refuse_over_cap(self, size, name):
        """Before a filter builds a value of about `size` characters."""
        if size > self.max_bytes:
            raise RenderLimitExceeded(f"фильтр «{name}» даёт текст длиннее {self.max_bytes // 1000} КБ.")

    def built(self, value, name):
        """After a filter built `value`: its size, and all a message's filters built, bounded."""
        size = weight(value, self.max_bytes)
        self.refuse_over_cap(size, name)
        self.built_left -= size
        if self.built_left < 0:
            raise RenderLimitExceeded(
                f"фильтры шаблона строят больше {self.max_bytes * BUILT_PER_OUTPUT // 1000} КБ текста "
                "— упростите {% with %} и цепочки фильтров."
            )
        self._check_deadline()

    def _check_deadline(self):
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded(
                f"письмо собирается дольше {self.seconds:g} с — упростите циклы и условия шаблона."
            )


# The budget of the render under way, for the filters (Django hands them no context).
_current_budget = contextvars.ContextVar("render budget")


def current_budget() -> RenderBudget:
    """The budget of the message being rendered (a fresh one outside a render)."""
    return _current_budget.get(None) or RenderBudget()


class BudgetedContext(Context):
    """A Context that carries the render's budget to the nodes of the sandbox."""

    def __init__(self, values, *, budget: RenderBudget, autoescape: bool):
        super().__init__(values, autoescape=autoescape)
        self.budget = budget


# --- compiling ------------------------------------------------------------------------------


class SandboxEngine(Engine):
    default_builtins = []  # none of Django's tags and filters: only `builtins` below


@functools.cache
def sandbox_engine() -> Engine:
    return SandboxEngine(
        loaders=[], libraries={}, builtins=["mailer.engine.template_library"], autoescape=True, string_if_invalid=""
    )


def _metered(node_class):
    """A node class whose output counts against the budget. Only nodes that write text of
    their own are metered (text, variables, firstof); `if`, `for`, `with` only assemble
    what their metered children wrote, so nothing is counted twice."""

    class Metered(node_class):
        def render_annotated(self, context):
            output = super().render_annotated(context)
            context.budget.spend(output)
            return output

    Metered.__name__ = Metered.__qualname__ = f"Metered{node_class.__name__}"
    return Metered


METERED_NODES = {node: _metered(node) for node in (TextNode, VariableNode, FirstOfNode)}


class SandboxParser(Parser):
    """Django's parser with Russian refusals, metered output nodes, plain variables, and a
    bound on nesting and on time (compiling a huge template costs seconds, too)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seconds = settings.MAILER_TEMPLATE_RENDER_SECONDS
        self.deadline = time.monotonic() + self.seconds

    def parse(self, parse_until=None):
        # Each block tag parses its body with a call of its own, its tag on command_stack.
        if len(self.command_stack) > MAX_NESTING:
            token = self.command_stack[-1][1]  # the innermost open tag: its line
            raise self.error(token, f"теги вложены глубже {MAX_NESTING} уровней — упростите шаблон.")
        return super().parse(parse_until)

    def compile_filter(self, token):
        self._check_deadline()
        # Django checks each filter's arguments with `inspect` (~0.1 ms): 60 000 filters in one
        # expression took 6 s inside this one call, where no deadline can look.
        if token.count("|") > MAX_FILTERS:
            raise TemplateSyntaxError(f"в выражении больше {MAX_FILTERS} фильтров — упростите его.")
        return make_plain(super().compile_filter(token))

    def extend_nodelist(self, nodelist, node, token):
        self._check_deadline()
        metered = METERED_NODES.get(type(node))
        if metered is not None:
            node.__class__ = metered  # same state, one more step in render
        super().extend_nodelist(nodelist, node, token)

    def _check_deadline(self):
        if time.monotonic() > self.deadline:
            raise TemplateSyntaxError(f"шаблон разбирается дольше {self.seconds:g} с — сократите его.")

    def invalid_block_tag(self, token, command, parse_until=None):
        from mailer.engine.template_library import ALLOWED_TAGS

        if parse_until and (command.startswith("end") or command in {"else", "elif", "empty"}):
            expected = " или ".join(f"{{% {name} %}}" for name in parse_until)
            raise self.error(token, f"{{% {command} %}} не на своём месте, ожидается {expected}.")
        raise self.error(token, f"тег {{% {command} %}} в письмах запрещён. Можно: {', '.join(ALLOWED_TAGS)}.")

    def unclosed_block_tag(self, parse_until):
        command, token = self.command_stack.pop()
        raise self.error(token, f"тег {{% {command} %}} не закрыт — нет {{% {parse_until[-1]} %}}.")

    def find_filter(self, filter_name):
        from mailer.engine.template_library import ALLOWED_FILTERS

        if filter_name not in self.filters:
            raise TemplateSyntaxError(
                f"фильтр «{filter_name}» в письмах запрещён. Можно: {', '.join(ALLOWED_FILTERS)}."
            )
        return self.filters[filter_name]


class SandboxTemplate(Template):
    def compile_nodelist(self):
        started = time.monotonic()
        tokens = LinearLexer(self.source).tokenize()
        parser = SandboxParser(tokens, self.engine.template_libraries, self.engine.template_builtins, self.origin)
        parser.deadline = started + parser.seconds  # splitting the source counts too
        nodelist = parser.parse()
        self.extra_data = parser.extra_data
        return nodelist


def compile_template(source: str, *, part: str) -> Template:
    """Compiles one field of a campaign; raises CampaignTemplateError naming the problem.

    Like rendering, compiling catches everything: deep nesting surfaced as a TypeError from
    inside Django (`inspect` hit the recursion limit), a 500 on save.
    """
    max_bytes = settings.MAILER_TEMPLATE_MAX_OUTPUT_BYTES
    if len(source) > max_bytes:  # characters: the tokens of a longer one cost memory first
        raise CampaignTemplateError(f"шаблон длиннее {max_bytes // 1000} КБ — сократите его.", part=part)
    try:
        return SandboxTemplate(source, engine=sandbox_engine())
    except TemplateSyntaxError as exc:
        token = getattr(exc, "token", None)
        raise CampaignTemplateError(_in_russian(str(exc)), part=part, line=token.lineno if token else None) from exc
    except RecursionError as exc:
        raise CampaignTemplateError("слишком глубокая вложенность тегов.", part=part) from exc
    except Exception as exc:  # noqa: BLE001 — see the docstring
        raise CampaignTemplateError(f"шаблон не разбирается: {type(exc).__name__}: {exc}", part=part) from exc


# The most common of Django's own syntax errors; the rarer ones keep Django's words.
_DJANGO_SYNTAX_ERRORS = [
    (re.compile(r"Could not parse the remainder: '(.*)' from '(.*)'"), "не удалось разобрать «{0}» в «{1}»."),
    (re.compile(r"Unexpected end of expression in if tag\."), "в {{% if %}} не хватает условия."),
    (re.compile(r"Empty variable tag on line \d+"), "пустая переменная {{{{ }}}}."),
    (re.compile(r"Empty block tag on line \d+"), "пустой тег {{% %}}."),
]


def _in_russian(text):
    for pattern, russian in _DJANGO_SYNTAX_ERRORS:
        if match := pattern.fullmatch(text):
            return russian.format(*match.groups())
    return text


# --- rendering ------------------------------------------------------------------------------


def render_template(template: Template, values: dict, *, budget: RenderBudget, autoescape: bool, part: str) -> str:
    """Renders within `budget`; any failure becomes a CampaignTemplateError.

    Templates are data: whatever goes wrong inside one is that template's problem, so every
    exception is caught here and reported, never passed on to crash a caller.
    """
    token = _current_budget.set(budget)
    try:
        return template.render(BudgetedContext(values, budget=budget, autoescape=autoescape))
    except RenderLimitExceeded as exc:
        raise CampaignTemplateError(str(exc), part=part) from exc
    except MemoryError as exc:
        raise CampaignTemplateError(budget.too_large(), part=part) from exc
    except RecursionError as exc:
        raise CampaignTemplateError("слишком глубокая вложенность тегов.", part=part) from exc
    except Exception as exc:  # noqa: BLE001 — see the docstring
        raise CampaignTemplateError(f"письмо не собирается: {type(exc).__name__}: {exc}", part=part) from exc
    finally:
        _current_budget.reset(token)
