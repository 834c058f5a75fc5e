"""What bounding prompt renders costs, and how fast runaway templates end: `python bench/prompt_render.py`.

Ordinary templates are rendered by Jinja2's own sandbox (reference), by the renderer before the render budget
(apps/prompts/rendering.py as it was, read from git history) and by the bounded renderer now; each figure is the
best of 5 runs. Then the templates of issue 10 and others that would pin a worker or fill its memory: the time to
the error (median of 3) and the peak memory while rendering (tracemalloc, a separate run). Last, what checking
a template when it is saved costs, before and now (tracemalloc on, so times are inflated alike)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import tracemalloc
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from report import table

from apps.prompts.rendering import TemplateError, render_text

ROOT = Path(__file__).resolve().parents[1]
OLD_PATH = "apps/prompts/rendering.py"
DOC = "The quarterly report shows revenue up 12% and costs down 3%; the board asks for a summary. " * 6
VARIABLES = {
    "words": 50,
    "text": DOC,
    "lang": "French",
    "tone": "formal",
    "docs": [{"title": f"report {n}", "body": DOC, "score": n % 7} for n in range(20)],
    "rows": [{"name": f"item {n}", "price": n * 1.25} for n in range(1000)],
}
ORDINARY = {
    "two variables": "Summarize in {{ words }} words: {{ text }}",
    "system prompt with conditions": (
        "You are an assistant answering in {{ lang }}.{% if tone == 'formal' %} Be formal.{% else %} Be casual."
        "{% endif %}\n" + "Follow the company's guidelines on tone, length and sources. " * 30 + "\nText: {{ text }}"
    ),
    "20 documents: loop, filters, join": (
        "{% for d in docs|sort(attribute='score', reverse=true) %}{{ loop.index }}. {{ d.title|title }}: "
        "{{ d.body|truncate(80) }}\n{% endfor %}Titles: {{ docs|map(attribute='title')|join(', ') }}"
    ),
    "macro, format, str.format": (
        "{% macro line(r) %}{{ '%-10s %8.2f'|format(r.name, r.price) }}{% endmacro %}"
        "{% for r in rows[:20] %}{{ line(r) }}\n{% endfor %}{{ '{} rows, total {:.2f}'.format(rows|length, "
        "rows[:20]|sum(attribute='price')) }}"
    ),
    "1,000-row table": "{% for r in rows %}{{ r.name }}: {{ r.price }}\n{% endfor %}",
}
RUNAWAYS = {
    "nested ranges (issue 10)": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "replace amplifies (issue 10)": "{{ ('a'*100000).replace('a','a'*100000) }}",
    "recursive macro (issue 10)": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "'%1000000000d' % 1 (issue 10)": "{{ '%1000000000d' % 1 }}",
    "'{:>1000000000}'.format(1)": "{{ '{:>1000000000}'.format(1) }}",
    "10 ** (10 ** 10)": "{{ 10 ** (10 ** 10) }}",
    "range(100000), map, join": "{{ range(100000)|map('string')|join }}",
    "striptags of 100,000 tags": "{{ ('<>' * 100000)|striptags }}",
    "list doubling itself 60 times": (
        "{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = ns.x + ns.x %}{% endfor %}"
    ),
    "text in a buffered loop": "{% set y %}{% for i in range(100000) %}0123456789{% endfor %}{% endset %}",
    "printing a list of 900 x 1 KB": "{% set s = 'x' * 1000 %}{{ [s] * 900 }}",
    "counting in 500 KB, 100,000 times": (
        "{% set s = 'x' * 500000 %}{% for i in range(100000) %}{{ s.count('y') }}{% endfor %}"
    ),
}
# Issue 10, item 2, at a tenth of the size: what checking each at save costs, before and now.
SAVED = {
    "'%100000000d' % 1": "{{ '%100000000d' % 1 }} {{ text }}",
    "the format filter, '%.100000000f'": "{{ '%.100000000f'|format(1) }} {{ text }}",
    "the center filter, width 100000000": "{{ 'a'|center(100000000) }} {{ text }}",
}


def _old_renderer() -> types.ModuleType | None:
    """rendering.py as it was before the render budget (the version before the commit that made it a package)."""
    git = ["git", "-C", str(ROOT)]
    removed = subprocess.run(
        [*git, "log", "-1", "--format=%H", "--diff-filter=D", "--", OLD_PATH], capture_output=True, text=True
    ).stdout.strip()
    source = subprocess.run(
        [*git, "show", f"{removed}^:{OLD_PATH}" if removed else f"HEAD:{OLD_PATH}"], capture_output=True, text=True
    )
    if source.returncode:
        return None
    module = sys.modules["rendering_before"] = types.ModuleType("rendering_before")
    exec(compile(source.stdout, OLD_PATH, "exec"), module.__dict__)
    return module


def _best_of_5(render, count: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(count):
            render()
        runs.append((time.perf_counter() - started) / count)
    return min(runs)


def ordinary() -> str:
    reference = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    old = _old_renderer()
    rows = []
    for name, source in ORDINARY.items():
        expected = reference.from_string(source).render(**VARIABLES)
        assert render_text(source, VARIABLES) == expected, name
        count = 2_000 if len(expected) < 5_000 else 50
        template = reference.from_string(source)
        times = [_best_of_5(lambda t=template: t.render(**VARIABLES), count)]
        if old is not None:
            times.append(_best_of_5(lambda s=source: old.render_text(s, VARIABLES), count))
        times.append(_best_of_5(lambda s=source: render_text(s, VARIABLES), count))
        cells = [f"{t * 1e6:,.1f} µs" for t in times]
        rows.append([name, f"{len(expected):,}", *cells, f"+{(times[-1] - times[-2]) * 1e6:,.1f} µs"])
    before = ["before"] if old is not None else []
    difference = "now - before" if old is not None else "now - Jinja2"
    return table(["ordinary template", "output chars", "Jinja2 sandbox", *before, "bounded now", difference], rows)


def _refusal(source: str) -> str:
    try:
        render_text(source, {})
    except TemplateError as exc:
        return exc.message.removeprefix("The template went past a limit: ")
    return "(rendered)"


def runaways() -> str:
    rows = []
    for name, source in RUNAWAYS.items():
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            message = _refusal(source)
            runs.append(time.perf_counter() - started)
        tracemalloc.start()
        _refusal(source)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append([name, f"{statistics.median(runs) * 1000:,.1f} ms", f"{peak / 2**20:,.1f} MB", message])
    return table(["runaway template", "time to the error", "peak memory", "error"], rows)


def _timed_peak(action) -> tuple[float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    action()
    elapsed, peak = time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak


def saves() -> str:
    old = _old_renderer()
    rows = []
    for name, source in SAVED.items():
        cells = []
        for module in (old, sys.modules["apps.prompts.rendering"]):
            if module is not None:
                elapsed, peak = _timed_peak(lambda m=module, s=source: m.template_variables(s, field="user_template"))
                cells.append(f"{elapsed * 1000:,.1f} ms, {peak / 2**20:,.1f} MB")
        rows.append([name, *cells])
    before = ["before (time, peak memory)"] if old is not None else []
    return table(["checked at save", *before, "now (time, peak memory)"], rows)


def main() -> None:
    print(ordinary())
    print()
    print(runaways())
    print()
    print(saves())


if __name__ == "__main__":
    main()
