"""OpenAI chat-completions ⇄ Google AI's `generateContent`, as pure functions (no I/O), for the `gemini` client.

Request (OpenAI → Gemini), the rules where the two differ:
- `system`/`developer` messages become `systemInstruction` (text only, in order, wherever they were);
- roles: user → user, assistant → model; consecutive turns of one role are merged into one content;
- assistant `tool_calls` → `functionCall` parts (arguments must be a JSON object); `tool` messages →
  `functionResponse` parts in a user turn. Gemini's calls carry no id, so a tool message is matched to its call
  by `tool_call_id` through the assistant turn that made the call (an unknown id is a 400), and the answer's
  calls get ids derived from the response id and their position (Gemini's own `id` when it sends one). A tool
  result that is a JSON object is the `response`; any other text is `{"output": text}`, as Google documents;
- function tools → `tools: [{functionDeclarations}]`, their `parameters` converted by gemini_schema.py (which
  documents what is stripped and what is refused); `tool_choice` auto/none/required/named →
  `toolConfig.functionCallingConfig.mode` AUTO/NONE/ANY (+ `allowedFunctionNames`); `parallel_tool_calls:
  false` has no Gemini switch, so only the answer's first function call is passed on;
- `response_format` json_object → `responseMimeType: application/json`; json_schema → that and `responseSchema`;
- `max_completion_tokens`/`max_tokens` → maxOutputTokens, `n` → candidateCount, `stop` → stopSequences,
  `temperature`, `top_p` (topP), `seed`, `presence_penalty`, `frequency_penalty` → generationConfig;
- `image_url` parts: a base64 data URL → `inlineData`; a Files API URL (…googleapis.com/…/files/…) →
  `fileData`; any other URL is a 400 naming the part (Gemini does not fetch URLs); `input_audio` and `file`
  parts with base64 data → `inlineData`;
- `user` has no Gemini field and is not sent (the gateway's call log keeps who called).
No equivalent, so a 400 naming the parameter: `logprobs`, `top_logprobs`, `logit_bias`, custom tools, and any
parameter this module does not know.
Answer (Gemini → OpenAI): text parts (not `thought` ones) → content; functionCall → tool_calls; finishReason
STOP → stop (tool_calls when the candidate called a function), MAX_TOKENS → length, the safety family
(SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY…) → content_filter, others → stop; a
prompt blocked by `promptFeedback.blockReason` → one empty choice, content_filter.
Usage: promptTokenCount (+ toolUsePromptTokenCount) → prompt_tokens, with cachedContentTokenCount as
`prompt_tokens_details.cached_tokens`; candidatesTokenCount + thoughtsTokenCount → completion_tokens, the
thoughts as `completion_tokens_details.reasoning_tokens` (OpenAI counts reasoning in completion tokens).
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from apps.providers.clients.base import UnsupportedParameter
from apps.providers.clients.gemini_schema import to_gemini_schema
from apps.providers.clients.openai_side import (
    DATA_URL,
    assistant_texts,
    function_calls,
    function_of,
    invalid,
    output_limit,
    refuse_unknown,
    stop_sequences,
    texts,
    without_tools,
)

_FILES_URL = re.compile(r"^https://generativelanguage\.googleapis\.com/[\w.]+/files/[\w-]+$")
_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3"}
_CONFIG = {
    "temperature": "temperature",
    "top_p": "topP",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
    | {"IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"}
)


def request_to_gemini(request: Mapping[str, Any]) -> dict[str, Any]:
    """The generateContent body for an OpenAI chat-completions request (the model goes in the URL)."""
    _refuse_unsupported(request)
    system, contents = _contents(request.get("messages") or [])
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.get("tools"):
        declarations = [_declaration(tool, index) for index, tool in enumerate(request["tools"])]
        body["tools"] = [{"functionDeclarations": declarations}]
    if tool_config := _tool_config(request):
        body["toolConfig"] = tool_config
    if config := _generation_config(request):
        body["generationConfig"] = config
    return body


def _refuse_unsupported(request: Mapping[str, Any]) -> None:
    for param in ("logprobs", "top_logprobs", "logit_bias"):
        if request.get(param) not in (None, False, {}):
            raise UnsupportedParameter(param, "not translated to Gemini's generateContent.")
    refuse_unknown(request, "not translated to Gemini's generateContent.")


def _generation_config(request: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {
        target: request[source] for source, target in _CONFIG.items() if request.get(source) is not None
    }
    if limit := output_limit(request):
        config["maxOutputTokens"] = limit
    if (request.get("n") or 1) != 1:
        config["candidateCount"] = request["n"]
    if stop := request.get("stop"):
        config["stopSequences"] = stop_sequences(stop)
    response_format = request.get("response_format") or {}
    kind = response_format.get("type", "text")
    if kind in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        config["responseSchema"] = to_gemini_schema(schema, param="response_format.json_schema.schema")
    elif kind not in ("text", "json_object"):
        raise UnsupportedParameter("response_format.type", f"Gemini has no {kind!r} response format.")
    return config


def _contents(messages: list[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(systemInstruction parts, contents)."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}  # OpenAI tool_call_id -> function name, from the assistant turns
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_parts(message.get("content"), f"messages[{index}]"))
            continue
        if role == "user":
            turn_role, parts = "user", _user_parts(message.get("content"), index)
        elif role == "assistant":
            turn_role, parts = "model", _model_parts(message, index, call_names)
        elif role == "tool":
            turn_role, parts = "user", [_function_response(message, index, call_names)]
        else:
            raise UnsupportedParameter(f"messages[{index}].role", f"Gemini has no {role!r} role.")
        if not parts:
            continue  # an empty assistant turn says nothing; Gemini refuses contents without parts
        if contents and contents[-1]["role"] == turn_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn_role, "parts": parts})
    return system, contents


def _text_parts(content: Any, where: str) -> list[dict[str, Any]]:
    return [{"text": text} for text in texts(content, where)]


def _user_parts(content: Any, index: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for number, part in enumerate(content or ()):
        where = f"messages[{index}].content[{number}]"
        kind = part.get("type")
        if kind == "text":
            parts.append({"text": part.get("text") or ""})
        elif kind == "image_url":
            parts.append(_image(part.get("image_url") or {}, f"{where}.image_url.url"))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            if audio.get("format") not in _AUDIO_TYPES:
                raise UnsupportedParameter(f"{where}.input_audio.format", "Gemini takes wav or mp3 audio here.")
            parts.append({"inlineData": {"mimeType": _AUDIO_TYPES[audio["format"]], "data": audio.get("data") or ""}})
        elif kind == "file" and (match := DATA_URL.match(str((part.get("file") or {}).get("file_data") or ""))):
            parts.append({"inlineData": {"mimeType": match["type"], "data": match["data"]}})
        else:
            raise UnsupportedParameter(f"{where}.type", f"Gemini takes no {kind!r} parts as sent.")
    return parts


def _image(image: Mapping[str, Any], where: str) -> dict[str, Any]:
    url = str(image.get("url") or "")
    if match := DATA_URL.match(url):
        return {"inlineData": {"mimeType": match["type"], "data": match["data"]}}
    if _FILES_URL.match(url):
        return {"fileData": {"fileUri": url}}
    if url.startswith(("https://", "http://")):
        raise UnsupportedParameter(
            where, "Gemini does not fetch image URLs: send the image as a base64 data URL or a Files API URI."
        )
    raise invalid(where, "An image must be a base64 data URL or a URL.")


def _model_parts(message: Mapping[str, Any], index: int, call_names: dict[str, str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": text} for text in assistant_texts(message)]
    for call in function_calls(message, index, provider="Gemini"):
        call_names[str(call.id)] = str(call.name or "")
        parts.append({"functionCall": {"name": call.name, "args": call.arguments}})
    return parts


def _function_response(message: Mapping[str, Any], index: int, call_names: dict[str, str]) -> dict[str, Any]:
    call_id = str(message.get("tool_call_id") or "")
    if call_id not in call_names:
        raise invalid(
            f"messages[{index}].tool_call_id",
            f"No assistant tool call with id {call_id!r} precedes this tool message (Gemini matches results by name).",
        )
    text = "".join(part["text"] for part in _text_parts(message.get("content"), f"messages[{index}]"))
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    response = parsed if isinstance(parsed, dict) else {"output": text}
    return {"functionResponse": {"name": call_names[call_id], "response": response}}


def _declaration(tool: Mapping[str, Any], index: int) -> dict[str, Any]:
    function = function_of(tool, index, provider="Gemini")
    declaration: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        declaration["description"] = function["description"]
    if parameters := function.get("parameters"):
        schema = to_gemini_schema(parameters, param=f"tools[{index}].function.parameters")
        if schema != {"type": "OBJECT"} and schema != {"type": "OBJECT", "properties": {}}:
            # A function without parameters is declared without a schema: Gemini refuses an empty OBJECT.
            declaration["parameters"] = schema
    return declaration


def _tool_config(request: Mapping[str, Any]) -> dict[str, Any] | None:
    choice = request.get("tool_choice")
    if without_tools(request):
        return None
    if choice is None:
        return None  # Gemini's default is AUTO
    if choice in ("auto", "none", "required"):
        return {"functionCallingConfig": {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]}}
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    raise UnsupportedParameter("tool_choice", "Gemini takes auto, none, required or a named function.")


def usage_to_openai(usage: Mapping[str, Any]) -> dict[str, Any]:
    prompt = int(usage.get("promptTokenCount") or 0) + int(usage.get("toolUsePromptTokenCount") or 0)
    thoughts = int(usage.get("thoughtsTokenCount") or 0)
    completion = int(usage.get("candidatesTokenCount") or 0) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": int(usage.get("cachedContentTokenCount") or 0)},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def finish_reason(reason: Any, *, called: bool) -> str:
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _FILTERED:
        return "content_filter"
    return "tool_calls" if called else "stop"


def call_id(response_id: str, candidate: int, position: int, call: Mapping[str, Any]) -> str:
    """Gemini's own id when it sends one; otherwise one derived from where the call is, so the same answer
    always gives the same ids (streamed or not)."""
    if call.get("id"):
        return str(call["id"])
    seed = f"{response_id}:{candidate}:{position}:{call.get('name')}"
    return "call_" + hashlib.sha256(seed.encode()).hexdigest()[:24]


def candidate_parts(
    candidate: Mapping[str, Any], response_id: str, *, first_call_only: bool, calls_before: int = 0
) -> tuple[str, list[dict[str, Any]]]:
    """(text, OpenAI tool calls) of one candidate's parts; thoughts are left out."""
    text: list[str] = []
    calls: list[dict[str, Any]] = []
    index = int(candidate.get("index") or 0)
    for part in (candidate.get("content") or {}).get("parts") or ():
        if part.get("thought"):
            continue
        if "text" in part:
            text.append(str(part["text"]))
        elif isinstance(call := part.get("functionCall"), Mapping):
            if first_call_only and calls_before + len(calls) >= 1:
                continue
            position = calls_before + len(calls)
            arguments = orjson.dumps(call.get("args") or {}).decode()
            calls.append(
                {
                    "id": call_id(response_id, index, position, call),
                    "type": "function",
                    "function": {"name": call.get("name"), "arguments": arguments},
                }
            )
    return "".join(text), calls


def gemini_to_openai(
    answer: Mapping[str, Any], *, model: str, first_call_only: bool = False, created: int | None = None
) -> dict[str, Any]:
    """A `chat.completion` body for a GenerateContentResponse."""
    response_id = str(answer.get("responseId") or uuid.uuid4().hex)
    choices = []
    for candidate in answer.get("candidates") or ():
        text, calls = candidate_parts(candidate, response_id, first_call_only=first_call_only)
        message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        reason = finish_reason(candidate.get("finishReason"), called=bool(calls))
        choices.append(
            {"index": int(candidate.get("index") or 0), "message": message, "logprobs": None, "finish_reason": reason}
        )
    if not choices and (answer.get("promptFeedback") or {}).get("blockReason"):
        empty = {"role": "assistant", "content": None, "refusal": None}
        choices = [{"index": 0, "message": empty, "logprobs": None, "finish_reason": "content_filter"}]
    return {
        "id": f"chatcmpl-{response_id}",
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": answer.get("modelVersion") or model,
        "choices": sorted(choices, key=lambda choice: choice["index"]),
        "usage": usage_to_openai(answer.get("usageMetadata") or {}),
    }
