"""Two versions of a prompt side by side: each field's changes (the selector's unified diff, laid out in two
columns with the changed lines marked). Any member of the owning tenant reads it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import zip_longest

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.prompts import selectors
from apps.prompts.version_forms import DiffForm
from apps.tenants.web import tenant_required

_HUNK = re.compile(r"^@@ -(?P<old>\d+)(?:,\d+)? \+(?P<new>\d+)(?:,\d+)? @@")
FIELD_LABELS = {
    "system_template": "System template",
    "user_template": "User template",
    "examples": "Few-shot examples",
    "parameters": "Model parameters",
    "variables_schema": "Variables (JSON Schema)",
}


@dataclass(frozen=True)
class Row:
    """One line of the two columns: `kind` is same, changed, removed (left only), added (right only) or gap."""

    kind: str
    old_number: int | None = None
    old: str = ""
    new_number: int | None = None
    new: str = ""


def side_by_side(unified: str) -> list[Row]:
    """The rows of a unified diff as two columns; removed and added lines that follow each other face each other."""
    rows: list[Row] = []
    removed: list[tuple[int, str]] = []
    added: list[tuple[int, str]] = []
    old_no = new_no = 0

    def flush() -> None:
        for left, right in zip_longest(removed, added):
            kind = "changed" if left and right else "removed" if left else "added"
            rows.append(Row(kind, *(left or (None, "")), *(right or (None, ""))))
        removed.clear()
        added.clear()

    for line in unified.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if match := _HUNK.match(line):
            flush()
            if rows:
                rows.append(Row("gap"))
            old_no, new_no = int(match["old"]), int(match["new"])
        elif line.startswith("-"):
            removed.append((old_no, line[1:]))
            old_no += 1
        elif line.startswith("+"):
            added.append((new_no, line[1:]))
            new_no += 1
        else:
            flush()
            rows.append(Row("same", old_no, line[1:], new_no, line[1:]))
            old_no, new_no = old_no + 1, new_no + 1
    flush()
    return rows


@tenant_required()
@require_GET
def prompt_diff(request: HttpRequest, slug: str) -> HttpResponse:
    template = selectors.prompt_template_get(tenant=request.tenant, service_slug=slug)
    numbers = set(selectors.prompt_version_list(template=template).values_list("number", flat=True))
    form = DiffForm(request.GET)
    fields = None
    if form.is_valid():
        for name in ("a", "b"):
            if form.cleaned_data[name] not in numbers:
                form.add_error(name, f"This prompt has no version {form.cleaned_data[name]}.")
    if form.is_valid():
        diff = selectors.prompt_version_diff(template=template, a=form.cleaned_data["a"], b=form.cleaned_data["b"])
        fields = [(FIELD_LABELS[name], side_by_side(text)) for name, text in diff.items()]
    context = {"prompt": template, "service": template.service, "form": form, "fields": fields}
    return render(request, "prompts/prompt_diff.html", context, status=200 if form.is_valid() else 400)
