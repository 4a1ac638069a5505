"""Benchmark: what hostile campaign templates cost in the sandbox (issue 8, finding 3).

Each body from the attack report is compiled and rendered the way the preview and the
sender do; the script prints the outcome, the wall time and the peak Python memory
(tracemalloc) of each. No database or Redis needed.

    .venv/bin/python bench/templates.py
"""

import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django  # noqa: E402

django.setup()

from mailer.engine.compose import CampaignTemplate, html_to_text, recipient_context  # noqa: E402
from mailer.engine.templating import CampaignTemplateError  # noqa: E402

S = "x" * 1000
CASES = {
    "ljust 200 000 000": '{{ "x"|ljust:200000000 }}',
    "3 nested loops over 1 000 chars, empty body": "{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}"
    "{% endfor %}{% endfor %}",
    "2 nested loops over 1 000 chars, writing": "{% for a in s %}{% for b in s %}{{ name }}{% endfor %}{% endfor %}",
    "40 nested {% with %} doubling by add": "".join("{% with s=s|add:s %}" for _ in range(40))
    + "{{ s }}"
    + "{% endwith %}" * 40,
    "s|join:s": "{{ s|join:s }}",
    "load cache": "{% load cache %}{% cache 600 k %}{{ email }}{% endcache %}",
    "ordinary letter": "<p>Здравствуйте, {{ name }}!</p><p>{{ company }}</p>" * 20,
}


def render(body):
    context = recipient_context(
        email="ivan@example.com",
        name="Иван",
        company="ООО Ромашка",
        variables={"s": S},
        unsubscribe_url="https://crm.example/u/t/",
    )
    try:
        rendered = CampaignTemplate(subject="Тема", body_html=body).render(context)
        return f"rendered {len(rendered.html.encode())} bytes"
    except CampaignTemplateError as exc:
        return f"refused: {exc.problem[:70]}"


def measure(body):
    """Time without tracemalloc (it slows Python code tenfold), then the memory peak with it."""
    started = time.perf_counter()
    outcome = render(body)
    took = time.perf_counter() - started
    tracemalloc.start()
    render(body)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, took, peak


def main():
    print(f"{'case':48} {'seconds':>8} {'peak MB':>8}  outcome")
    for name, body in CASES.items():
        outcome, took, peak = measure(body)
        print(f"{name:48} {took:8.3f} {peak / 1e6:8.1f}  {outcome}")
    for n in (10_000, 80_000):  # unclosed links: quadratic before the fix (10 s for 8 000)
        started = time.perf_counter()
        html_to_text('<a href="x">y' * n)
        print(f"{f'html_to_text, {n} unclosed links':48} {time.perf_counter() - started:8.3f}")


if __name__ == "__main__":
    main()
