"""YAML text of definition files: one stable way to write a document and one strict way to read it.

Writing keeps the documented field order of each kind (the dicts are built in that order), sorts the keys of
free-form mappings (schemas, parameters, options) so that the database's key order never shows in a diff, and
writes multi-line text as block scalars so that a prompt change reads as a line diff."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a repeated value is written out again: &anchors and *aliases read badly in a diff


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    text = format(value.normalize(), "f")
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(Decimal, _decimal)


def yaml_dump(document: dict[str, Any]) -> str:
    """The file text of a document: insertion order kept, no aliases, unicode as is, a trailing newline."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a silent last-one-wins would hide a mistake in review)."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def yaml_load(text: str) -> Any:
    """The document in `text`; raises yaml.YAMLError (with the line and column) when it is not valid YAML."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def sorted_tree(value: Any) -> Any:
    """A JSON-like value with the keys of every mapping sorted, for free-form content."""
    if isinstance(value, dict):
        return {str(key): sorted_tree(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [sorted_tree(item) for item in value]
    return value
