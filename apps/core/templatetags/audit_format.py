"""Audit events' changes as people read them: "role  developer → viewer", lists as lists, never a Python repr.

Services record a change of a field as [old, new] and a plain fact (what was created, issued or deleted) as its
value. A two-item list is read as [old, new], except in the events that create, issue, add, request or delete
something: there a list is a list (the scopes of a new key, the keys of a deleted app) unless one side is empty
(None), which only a change has ("role": [None, "owner"] when a member is added)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django import template

register = template.Library()

FACT_VERBS = frozenset({"create", "issue", "add", "request", "delete", "remove", "lockout"})
NONE = "none"
MAX_TEXT = 300
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def _records_facts(action: str) -> bool:
    verb = action.rsplit(".", 1)[-1]
    return verb.split("_", 1)[0] in FACT_VERBS  # "route.add_deployment" adds, "app.grant_manager" changes


def _is_change(value: Any, facts: bool) -> bool:
    if not isinstance(value, list) or len(value) != 2:
        return False
    return not facts or None in value


def _moment(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return f"{moment:%Y-%m-%d %H:%M:%S}"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def readable(value: Any) -> str:
    """One stored value as text: none (also for an empty text), yes/no, items separated by commas, key: value
    pairs, times in UTC."""
    if value is None or value == "":
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {readable(item)}" for key, item in value.items()) or NONE
    if isinstance(value, list):
        separator = "; " if any(isinstance(item, (dict, list)) for item in value) else ", "
        return separator.join(readable(item) for item in value) or NONE
    text = str(value)
    if DATETIME.match(text):
        text = _moment(text)
    return text if len(text) <= MAX_TEXT else f"{text[: MAX_TEXT - 1]}…"


def change_rows(*, action: str, changes: dict[str, Any]) -> list[dict[str, Any]]:
    """[{field, old, new} or {field, value}] in the recorded order; field names in words."""
    facts = _records_facts(action)
    rows = []
    for name, value in (changes or {}).items():
        field = str(name).replace("_", " ")
        if _is_change(value, facts):
            rows.append({"field": field, "old": readable(value[0]), "new": readable(value[1]), "is_change": True})
        else:
            rows.append({"field": field, "value": readable(value), "is_change": False})
    return rows


@register.simple_tag
def audit_changes(event: Any) -> list[dict[str, Any]]:
    return change_rows(action=event.action, changes=event.changes)
