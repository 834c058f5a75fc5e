"""Forms of the prompt workbench's pages: they type the input; the services hold every rule."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.core.forms import ServiceForm
from apps.prompts.models import PromptTemplate, PromptTestCase
from apps.prompts.selectors import prompt_version_get, prompt_version_list

CHECKS_HELP = (
    'A JSON list of checks: contains / not_contains {"value", "ignore_case"}, regex {"pattern"}, json_schema '
    '{"schema"} (without it: the service\'s output schema), json_path {"path", "equals"}, max_tokens {"max"}.'
)
CHECKS_PLACEHOLDER = '[{"type": "contains", "value": "refund"}, {"type": "max_tokens", "max": 200}]'


class JsonTextarea(forms.Textarea):
    def __init__(self, placeholder: str = "", rows: int = 4) -> None:
        super().__init__(attrs={"rows": rows, "spellcheck": "false", "class": "code", "placeholder": placeholder})


class JsonText(forms.JSONField):
    """JSON typed in a text area; an empty box stays empty (Django shows None as "null")."""

    def prepare_value(self, value: Any) -> Any:
        return "" if value is None else super().prepare_value(value)


class TestCaseForm(ServiceForm):
    name = forms.CharField(max_length=100)
    # Not required: {} and [] are what Django calls empty, and a prompt may take no variables.
    variables = JsonText(
        required=False, widget=JsonTextarea('{"text": "…"}', rows=3), help_text="The input variables: a JSON object."
    )
    checks = JsonText(required=False, widget=JsonTextarea(CHECKS_PLACEHOLDER), help_text=CHECKS_HELP)

    @classmethod
    def of(cls, case: PromptTestCase, data: Any = None) -> TestCaseForm:
        initial = {"name": case.name, "variables": case.variables, "checks": case.checks}
        return cls(data, initial=initial)

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        # An empty box is None; the service judges anything else and says what it expects.
        return {
            **data,
            "variables": {} if data["variables"] is None else data["variables"],
            "checks": [] if data["checks"] is None else data["checks"],
        }


def version_choices(template: PromptTemplate) -> list[tuple[int, str]]:
    """The prompt's versions, newest first, each marked live or draft (newer than the live version)."""
    live = template.live_version.number if template.live_version else 0
    return [
        (number, f"v{number}" + (" (live)" if number == live else " (draft)" if number > live else ""))
        for number in prompt_version_list(template=template).values_list("number", flat=True)
    ]


class TestRunForm(ServiceForm):
    """Which version to run the cases against (the newest by default: the draft being worked on)."""

    version = forms.TypedChoiceField(coerce=int, label="Version to test")

    def __init__(self, data: Any = None, *, template: PromptTemplate) -> None:
        choices = version_choices(template)
        super().__init__(data, initial={"version": choices[0][0] if choices else None})
        self.template = template
        self.fields["version"].choices = choices

    def service_kwargs(self) -> dict[str, Any]:
        return {"version": prompt_version_get(template=self.template, number=self.cleaned_data["version"])}
