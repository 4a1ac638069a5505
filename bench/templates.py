"""Benchmark: what hostile campaign templates cost in the sandbox (issue 8, finding 3, and
the follow-up H2: expressions, compiling, the HTML→text twin).

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
    # H2: values built inside expressions, never written as they are built.
    "list of 1 KB doubled 20× by add, then written": "".join("{% with l=l|add:l %}" for _ in range(20))
    + "{{ l }}"
    + "{% endwith %}" * 20,
    "30 values of 512 KB held by one {% with %}": "".join("{% with s=s|add:s %}" for _ in range(8))
    + "{% with "
    + " ".join(f"a{i}=s|add:s" for i in range(30))
    + " %}ok{% endwith %}"
    + "{% endwith %}" * 8,
    "500 nested {% with %} (compile)": "".join(f"{{% with b{i}=name %}}" for i in range(500)) + "{% endwith %}" * 500,
    "90 000 × {{ name }}, 900 KB (compile)": "{{ name }}" * 90_000,
    "1 MB of {{ name }} (compile)": "{{ name }}" * 100_001,
    "{% if %} with 20 000 operands": "{% if " + " or ".join(["s"] * 20_000) + " %}y{% endif %}",
    "filter chain of 60 000 |upper": "{{ s" + "|upper" * 60_000 + " }}",
    "900 KB line of unclosed {{ (compile)": "{{ " * 300_000,
    "text twin of 1 MB of layered tags": ("<" * 40 + "b>" * 40) * 8_000,
    'text twin of 1 MB of <a href="x href="x …': "<a " + 'href="x ' * 110_000,
}


def render(body):
    context = recipient_context(
        email="ivan@example.com",
        name="Иван",
        company="ООО Ромашка",
        variables={"s": S, "l": [S]},
        unsubscribe_url="https://crm.example/u/t/",
    )
    try:
        rendered = CampaignTemplate(subject="Тема", body_html=body).render(context)
        return f"rendered {len(rendered.html.encode())} + {len(rendered.text.encode())} bytes"
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
