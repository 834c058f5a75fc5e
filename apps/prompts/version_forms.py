"""Forms of the prompt workbench's editor and actions (the test cases' forms are in forms.py). The editor's form
runs the save-time check of a version (the validation functions prompt_version_create calls) on what was typed and
reports every problem at its field, with the line of a template error, so the person sees all of them at once
instead of only the first one the service would refuse."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django import forms
from jsonschema import Draft202012Validator

from apps.core.errors import ApplicationError
from apps.core.forms import ServiceForm
from apps.prompts.models import PromptTemplate, PromptVersion, StickyBy
from apps.prompts.rendering import PromptParts, TemplateError, render_messages, template_variables, variable_lines
from apps.prompts.validation import validate_examples, validate_parameters, validate_variables_schema

TEMPLATE_FIELDS = ("system_template", "user_template")
MAX_SAMPLE_ERRORS = 5


class PrettyJSONField(forms.JSONField):
    """JSON typed in a text area, shown indented; an empty box means `empty`."""

    def __init__(self, *, empty: Any, **kwargs: Any) -> None:
        self.empty = empty
        kwargs.setdefault("widget", _code_area(6))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput | str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)

    def clean(self, value: Any) -> Any:
        cleaned = super().clean(value)
        return self.empty if cleaned is None else cleaned


def _code_area(rows: int) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "spellcheck": "false", "class": "code"})


def _collect(problems: dict[str, list[str]], check: Callable[[], Any]) -> Any:
    try:
        return check()
    except ApplicationError as exc:
        problems[exc.field or "__all__"].append(exc.message)
    return None


def _template_problems(field: str, source: str, declared: set[str] | None) -> list[str]:
    try:
        used = template_variables(source, field=field)
    except TemplateError as exc:
        return [exc.message]
    if declared is None or not (undeclared := used - declared):
        return []
    lines = variable_lines(source, undeclared)
    return [
        f"Line {', '.join(map(str, lines[name]))}: {name} is not declared in the variables schema."
        if name in lines
        else f"{name} is not declared in the variables schema."
        for name in sorted(undeclared)
    ]


def version_problems(data: dict[str, Any]) -> dict[str, list[str]]:
    """Every reason the save would refuse these fields ({field: messages}), each template's with its line. Fields
    missing from `data` (they did not parse) are skipped; an unusable schema skips the undeclared-variable check."""
    problems: dict[str, list[str]] = defaultdict(list)
    declared = None
    if "variables_schema" in data:
        declared = _collect(problems, lambda: validate_variables_schema(data["variables_schema"]))
    if "examples" in data:
        _collect(problems, lambda: validate_examples(data["examples"]))
    if "parameters" in data:
        _collect(problems, lambda: validate_parameters(data["parameters"]))
    for field in TEMPLATE_FIELDS:
        if field in data:
            problems[field].extend(_template_problems(field, data[field], declared))
    if "user_template" in data and not data["user_template"].strip():
        problems["user_template"].append("The user message template cannot be empty.")
    return {field: messages for field, messages in problems.items() if messages}


class VersionForm(ServiceForm):
    """A new draft version of a prompt (prompt_version_create's arguments)."""

    system_template = forms.CharField(
        label="System template", required=False, strip=False, widget=_code_area(6),
        help_text="Jinja2; every variable it reads must be declared in the variables schema.",
    )  # fmt: skip
    user_template = forms.CharField(label="User template", strip=False, widget=_code_area(8))
    variables_schema = PrettyJSONField(
        label="Variables (JSON Schema)", empty={}, help_text='A JSON Schema with "type": "object".'
    )
    examples = PrettyJSONField(
        label="Few-shot examples", required=False, empty=[],
        help_text='A JSON list of {"user": "…", "assistant": "…"} pairs.',
    )  # fmt: skip
    parameters = PrettyJSONField(
        label="Model parameters", required=False, empty={},
        help_text="A JSON object: temperature, top_p, max_tokens, presence_penalty, frequency_penalty, seed, stop.",
    )  # fmt: skip
    change_note = forms.CharField(label="Change note", required=False, max_length=300)

    @staticmethod
    def initial_from(version: PromptVersion | None) -> dict[str, Any]:
        if version is None:
            return {"variables_schema": {"type": "object", "properties": {}}}
        return {field: getattr(version, field) for field in (*TEMPLATE_FIELDS, "variables_schema", "examples")} | {
            "parameters": version.parameters
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for field, messages in version_problems(cleaned).items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        return cleaned

    def service_kwargs(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if name != "sample_variables"}


class PreviewForm(VersionForm):
    """The editor's content plus sample variables: what the draft would send, rendered without calling a model."""

    sample_variables = PrettyJSONField(
        label="Sample variables", required=False, empty={},
        help_text="A JSON object with a value for each variable, as an app would send it.",
    )  # fmt: skip
    messages: list[dict[str, str]] | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        sample = cleaned.get("sample_variables")
        if self.errors or sample is None:
            return cleaned
        if not isinstance(sample, dict):
            self.add_error("sample_variables", 'The sample is a JSON object, such as {"text": "…"}.')
            return cleaned
        schema_errors = sorted(Draft202012Validator(cleaned["variables_schema"]).iter_errors(sample), key=str)
        for error in schema_errors[:MAX_SAMPLE_ERRORS]:
            where = "/".join(str(part) for part in error.path) or "the sample"
            self.add_error("sample_variables", f"{where}: {error.message}")
        if schema_errors:
            return cleaned
        parts = PromptParts(
            system=cleaned["system_template"], user=cleaned["user_template"], examples=tuple(cleaned["examples"])
        )
        try:
            self.messages = render_messages(parts, sample)
        except TemplateError as exc:
            self.add_error("sample_variables", exc.message)
        return cleaned


class SplitForm(ServiceForm):
    """An A/B split as one weight per version (0 leaves a version out; all 0 clears the split)."""

    sticky_by = forms.ChoiceField(label="Keep each caller on one version per", choices=StickyBy.choices)

    def __init__(self, *args: Any, template: PromptTemplate, versions: list[PromptVersion], **kwargs: Any) -> None:
        weights = {entry["version"]: entry["weight"] for entry in template.ab_split}
        kwargs.setdefault("initial", {"sticky_by": template.sticky_by})
        super().__init__(*args, **kwargs)
        self.numbers = sorted(version.number for version in versions)
        for number in self.numbers:
            self.fields[f"weight_{number}"] = forms.IntegerField(
                label=f"Weight of v{number}",
                required=False,  # blank: left out, as 0
                min_value=0,
                max_value=1_000_000,
                initial=weights.get(number, 0),
            )

    def weight_fields(self) -> list[forms.BoundField]:
        return [self[f"weight_{number}"] for number in self.numbers]

    def service_kwargs(self) -> dict[str, Any]:
        split = [
            {"version": number, "weight": self.cleaned_data[f"weight_{number}"]}
            for number in self.numbers
            if self.cleaned_data[f"weight_{number}"]
        ]
        return {"split": split, "sticky_by": self.cleaned_data["sticky_by"]}


class VersionNumberForm(ServiceForm):
    """The version an action (rollback) applies to."""

    version = forms.IntegerField(label="Version", min_value=1)

    def service_kwargs(self) -> dict[str, Any]:
        return {"version_number": self.cleaned_data["version"]}


class DiffForm(forms.Form):
    """Two versions to compare."""

    a = forms.IntegerField(label="From version", min_value=1)
    b = forms.IntegerField(label="To version", min_value=1)
