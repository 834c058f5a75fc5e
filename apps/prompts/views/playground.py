"""The playground: run a version of a prompt (the draft, or any other) against its real route from the browser, or
two versions side by side on the same input, and watch the output stream in with its latency, tokens and cost.

The page's script (static/js/prompt_playground.js) posts to `playground_run` on the person's session — no key in
the page — and reads the server-sent events it answers. The run goes through the data plane by the prompt runner
port (apps/prompts/runner.py) and is recorded in the call log as a playground call of the person's tenant.
For those who may edit the prompt, as for writing versions (apps.prompts.permissions): a run costs what a call
costs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.prompts import selectors
from apps.prompts.forms import version_choices
from apps.prompts.runner import PLAYGROUND, PromptRunDelta, PromptRunSpec, prompt_runner
from apps.prompts.views.rights import prompt_for
from apps.tenants.web import tenant_required

INPUT_TYPES = {"string": "text", "integer": "number", "number": "number", "boolean": "checkbox"}


@dataclass(frozen=True)
class VariableField:
    """One input of the variables form, from a property of the version's variables schema."""

    name: str
    kind: str  # string, integer, number, boolean, enum, json (anything else: typed as JSON)
    required: bool
    description: str
    choices: tuple[str, ...] = ()
    long: bool = False  # a string that gets a text area

    @property
    def input_type(self) -> str:
        return INPUT_TYPES.get(self.kind, "text")


def variable_fields(schema: Mapping[str, Any]) -> list[VariableField]:
    """The form generated from a JSON Schema of type object: one field per property, in the schema's order."""
    required = set(schema.get("required") or ())
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, Mapping) else {}
        kind = prop.get("type") if isinstance(prop.get("type"), str) else "json"
        choices: tuple[str, ...] = ()
        if isinstance(prop.get("enum"), list) and all(isinstance(value, str) for value in prop["enum"]):
            kind, choices = "enum", tuple(prop["enum"])
        elif kind not in INPUT_TYPES:
            kind = "json"
        long = kind == "string" and (prop.get("maxLength") or 1000) > 200
        description = str(prop.get("description") or prop.get("title") or "")
        fields.append(VariableField(name, kind, name in required, description, choices, long))
    return fields


@tenant_required()
@require_GET
def playground(request: HttpRequest, service_slug: str) -> HttpResponse:
    """The page: two version pickers (the second optional), the variables form of the chosen first version (or
    raw JSON), and an output panel per version."""
    template = prompt_for(request, service_slug)
    versions = list(selectors.prompt_version_list(template=template))
    shown = versions[0]
    if request.GET.get("version", "").isdigit():
        shown = next((v for v in versions if v.number == int(request.GET["version"])), shown)
    context = {
        "template": template,
        "service": template.service,
        "choices": version_choices(template),
        "shown": shown,
        "fields": variable_fields(shown.variables_schema),
        # The raw-JSON box starts with every declared variable, empty.
        "raw": orjson.dumps(
            dict.fromkeys(shown.variables_schema.get("properties") or {}, ""), option=orjson.OPT_INDENT_2
        ).decode(),
    }
    return render(request, "prompts/playground.html", context)


def _refusal(message: str, field: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"message": message, "errors": {field: [message]}}, status=status)


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def _events(spec: PromptRunSpec, variables: Mapping[str, Any]) -> AsyncIterator[bytes]:
    """The run as server-sent events: {"type": "delta", "text"} as the output streams, then one "done" (output,
    latency, tokens, cost, request id) or "error" event."""
    async for event in prompt_runner().run(spec=spec, variables=variables, stream=True, endpoint=PLAYGROUND):
        if isinstance(event, PromptRunDelta):
            yield _event({"type": "delta", "text": event.text})
            continue
        summary = {
            "version": spec.number,
            "request_id": event.request_id,
            "latency_ms": round(event.latency_ms, 1),
            "prompt_tokens": event.prompt_tokens,
            "completion_tokens": event.completion_tokens,
            "cost": str(event.cost),
        }
        if event.ok:
            yield _event({"type": "done", "output": event.output, **summary})
        else:
            yield _event({"type": "error", "message": event.error, "code": event.error_code, **summary})


@tenant_required()
@require_POST
def playground_run(request: HttpRequest, service_slug: str) -> HttpResponse:
    """POST {"version": <number>, "variables": {…}} (JSON): the run, streamed as server-sent events. Bad input is a
    400 {"message", "errors": {field: […]}} before anything runs."""
    template = prompt_for(request, service_slug)
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return _refusal('The body must be JSON: {"version": <number>, "variables": {…}}.', "(body)")
    if not isinstance(body, dict):
        return _refusal("The body must be a JSON object.", "(body)")
    number, variables = body.get("version"), body.get("variables")
    if isinstance(number, bool) or not isinstance(number, int):
        return _refusal("Choose a version (its number).", "version")
    if not isinstance(variables, dict):
        return _refusal("The variables are a JSON object.", "variables")
    version = template.versions.filter(number=number).first()
    if version is None:
        return _refusal(f"This prompt has no version {number}.", "version")
    response = StreamingHttpResponse(
        _events(selectors.prompt_run_spec(version=version), variables), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front (nginx) passes each event on at once
    return response
