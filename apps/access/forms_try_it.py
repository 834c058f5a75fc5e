"""The try-it panel's forms (apps/access/views_try_it.py): the app to call as, then the input — for a prompt API a
field per top-level property of its input schema, for a model API a chat (system and user message, max_tokens,
temperature) — or the whole body as raw JSON. Each knows how to put the gateway's refusal back at its field."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from apps.access.models import App
from apps.catalog import docs
from apps.catalog.models import Service

FORM, RAW = "form", "raw"
BOOLEANS = {"true": True, "false": False}
SHORT_TEXT = 120  # strings allowed no longer than this get a one-line input; others a text area


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None


def _typed_field(schema: Any, *, label: str, required: bool) -> forms.Field:
    """A form field for one top-level property: strings, numbers, integers, booleans and enums typed; anything else
    (objects, arrays, references) is typed as JSON."""
    schema = schema if isinstance(schema, dict) else {}
    common = {"label": label, "required": required, "help_text": schema.get("description", "")}
    kind = schema.get("type")
    if isinstance(schema.get("enum"), list):
        choices = [("", "—")] + [(json.dumps(value), str(value)) for value in schema["enum"]]
        return forms.TypedChoiceField(choices=choices, coerce=json.loads, empty_value=None, **common)
    if kind == "boolean":
        choices = [("", "—"), ("true", "true"), ("false", "false")]
        return forms.TypedChoiceField(choices=choices, coerce=BOOLEANS.__getitem__, empty_value=None, **common)
    if kind == "integer":
        return forms.IntegerField(**common)
    if kind == "number":
        return forms.FloatField(**common)
    if kind == "string":
        short = schema.get("maxLength", SHORT_TEXT + 1) <= SHORT_TEXT
        return forms.CharField(widget=None if short else forms.Textarea(attrs={"rows": 3}), strip=False, **common)
    common["help_text"] = " ".join(filter(None, [common["help_text"], "As JSON."]))
    return forms.JSONField(widget=forms.Textarea(attrs={"rows": 3}), **common)


class TryItForm(forms.Form):
    """The app to call as, then the input: one field per top-level property (mode "form", field_<n> for the n-th
    property, whatever its name) or the body as JSON (mode "raw")."""

    app = forms.ChoiceField(label="Call as app")
    raw = forms.CharField(label="Body (JSON)", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, data: Any = None, *, apps: list[App], service: Service, mode: str) -> None:
        super().__init__(data, prefix=mode)
        self.mode = mode
        self.apps = {app.slug: app for app in apps}
        self.fields["app"].choices = [(app.slug, app.name) for app in apps]
        schema = service.input_schema if isinstance(service.input_schema, dict) else {}
        required = list(schema.get("required") or [])
        # Required ones first, in their order, then the others by name: the stored schema (jsonb) keeps no key order.
        order = {name: n for n, name in enumerate(required)}
        properties = (schema.get("properties") or {}).items() if mode == FORM else ()
        self.properties = sorted(properties, key=lambda item: (order.get(item[0], len(order)), item[0]))
        for number, (name, prop) in enumerate(self.properties):
            self.fields[f"field_{number}"] = _typed_field(prop, label=name, required=name in required)
        if mode == FORM:
            del self.fields["raw"]
        else:
            self.fields["raw"].required = True
            self.fields["raw"].initial = json.dumps(docs.example_body(schema), indent=2, ensure_ascii=False)

    def clean_raw(self) -> Any:
        return _json(self.cleaned_data["raw"])

    def body(self) -> Any:
        if self.mode == RAW:
            return self.cleaned_data["raw"]
        values = ((name, self.cleaned_data[f"field_{n}"]) for n, (name, _) in enumerate(self.properties))
        return {name: value for name, value in values if value not in (None, "")}

    def add_input_errors(self, fields: dict[str, str]) -> None:
        """The pipeline's error.fields (path → problem) at the field they concern, or above the form."""
        numbers = {name: n for n, (name, _) in enumerate(self.properties)}
        for path, problem in fields.items():
            top = path.split(".")[0]
            if self.mode == RAW:
                self.add_error("raw", f"{path}: {problem}")
            elif top in numbers:
                self.add_error(f"field_{numbers[top]}", problem if path == top else f"{path}: {problem}")
            else:
                self.add_error(None, f"{path}: {problem}")


CHAT_FIELDS = ("system", "user", "max_tokens", "temperature")


class ChatTryItForm(forms.Form):
    """A model API's chat completion as `model` (the name the app calls the service by): a system message, a user
    message, max_tokens and temperature (mode "form"), or the request body as JSON (mode "raw"). The bounds are
    OpenAI's, as the gateway's edge checks them (apps/gateway/schemas.py), so a mistake is named before any call."""

    app = forms.ChoiceField(label="Call as app")
    system = forms.CharField(
        label="System message", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    user = forms.CharField(label="User message", widget=forms.Textarea(attrs={"rows": 3}))
    max_tokens = forms.IntegerField(
        label="max_tokens", required=False, min_value=1, help_text="The most tokens the answer may have."
    )
    temperature = forms.FloatField(
        label="temperature", required=False, min_value=0, max_value=2, help_text="From 0 to 2: higher varies more."
    )
    raw = forms.CharField(label="Body (JSON)", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, data: Any = None, *, apps: list[App], model: str, mode: str) -> None:
        super().__init__(data, prefix=mode)
        self.mode, self.model = mode, model
        self.apps = {app.slug: app for app in apps}
        self.fields["app"].choices = [(app.slug, app.name) for app in apps]
        if mode == FORM:
            del self.fields["raw"]
            return
        for name in CHAT_FIELDS:
            del self.fields[name]
        self.fields["raw"].required = True
        self.fields["raw"].help_text = 'A chat completion request, without "stream": the panel shows one answer.'
        example = {"model": model, "messages": [{"role": "user", "content": "Hello"}]}
        self.fields["raw"].initial = json.dumps(example, indent=2, ensure_ascii=False)

    def clean_raw(self) -> Any:
        body = _json(self.cleaned_data["raw"])
        if not isinstance(body, dict):
            raise forms.ValidationError("The body must be a JSON object: a chat completion request.")
        if body.get("model", self.model) != self.model:
            message = f'This panel calls the model {self.model!r}: set "model" to it or leave it out.'
            raise forms.ValidationError(message)
        return {"model": self.model, **body}

    def body(self) -> dict[str, Any]:
        if self.mode == RAW:
            return dict(self.cleaned_data["raw"])
        data = self.cleaned_data
        system = [{"role": "system", "content": data["system"]}] if data["system"].strip() else []
        body: dict[str, Any] = {"model": self.model, "messages": [*system, {"role": "user", "content": data["user"]}]}
        return body | {name: data[name] for name in ("max_tokens", "temperature") if data[name] is not None}

    def add_input_errors(self, fields: dict[str, str]) -> None:
        """The gateway's 400 at the parameter it names (its message names it too): a field of the form, the
        messages at the user message, anything else above the form; in raw mode, at the body."""
        for param, problem in fields.items():
            top = param.split("[")[0].split(".")[0]
            if self.mode == RAW:
                self.add_error("raw", problem)
            elif top in ("max_tokens", "temperature"):
                self.add_error(top, problem)
            else:
                self.add_error("user" if top == "messages" else None, problem)
