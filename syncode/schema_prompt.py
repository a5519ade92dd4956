"""The part of a prompt that tells a model which JSON value to write for a JSON Schema.

Owns rendering a schema as a plain-language outline: what the value is, then one line per
object key (its type, whether it is required, its description), nested keys indented under
their parent. Small models asked with the schema as JSON text tend to copy the schema instead
of writing an instance of it (`docs/generate-results.md`); with the outline they write the
instance. The outline is a hint to the model only: the output is held to the schema by the
compiled grammar, and a keyword the outline does not put in words is shown as compact JSON
beside the sub-schema it belongs to, so nothing of the schema is left out.
"""
from __future__ import annotations

import json
from typing import Any

# Keywords put in words (or, for `title` beside a description and the `$` annotations, left out).
_WORDED = frozenset({"type", "properties", "required", "items", "description", "title", "enum", "const", "format",
                     "additionalProperties", "$schema", "$id", "$comment"})
# Combinators whose branches only require keys, put in words.
_KEY_SETS = {"oneOf": "with the keys of exactly one of:", "anyOf": "with the keys of at least one of:"}


def schema_instruction(schema: Any) -> str:
    """The instruction for `schema` (a dict or bool, or its JSON text): a first line saying what
    value to write (and the schema's description), then one line per key."""
    schema = json.loads(schema) if isinstance(schema, str) else schema
    summary, lines = _describe(schema, "")
    note = _note(schema)
    head = f"Answer with one JSON value ({summary}) and nothing else.{' It is: ' + note if note else ''}"
    return "\n".join([f"{head} Its keys:" if _has_keys(schema) else head, *lines])


def _describe(schema: Any, indent: str) -> tuple[str, list[str]]:
    """(what the value is in a few words, the lines outlining its keys at `indent`)."""
    if schema is True or schema == {}:
        return "any JSON value", []
    if schema is False:
        return "no value at all", []
    if not isinstance(schema, dict):
        return f"a value matching {_compact(schema)}", []
    words, lines = [], []
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    items = schema.get("items")
    if "array" in kinds and isinstance(items, (dict, bool)):
        item_summary, lines = _describe(items, indent)
        kinds = [f"array of {item_summary}" if k == "array" else k for k in kinds]
    if kinds:
        words.append(" or ".join(kinds))
    elif isinstance(items, (dict, bool)):
        item_summary, lines = _describe(items, indent)
        words.append(f"array items: {item_summary}")
    if "enum" in schema:
        words.append("one of " + ", ".join(_compact(v) for v in schema["enum"]))
    if "const" in schema:
        words.append(f"exactly {_compact(schema['const'])}")
    if "format" in schema:
        words.append(f"format {schema['format']}")
    if schema.get("additionalProperties") is False:
        words.append("no other keys")
    rest = {k: v for k, v in schema.items() if k not in _WORDED}
    words += _key_set_words(rest)
    if not isinstance(schema.get("additionalProperties", False), bool):
        rest["additionalProperties"] = schema["additionalProperties"]
    if rest:
        words.append(f"also {_compact(rest)}")
    lines = lines + _key_lines(schema, indent)
    return ", ".join(words) or "any JSON value", lines


def _key_set_words(rest: dict) -> list[str]:
    """Words for the combinators and dependencies in `rest` that only require keys (taken out of it)."""
    words = []
    for keyword, phrase in _KEY_SETS.items():
        sets = _key_sets(rest.get(keyword))
        if sets:
            del rest[keyword]
            words.append(f"{phrase} " + "; or ".join(", ".join(keys) for keys in sets))
    for keyword in ("dependentRequired", "dependencies"):
        needs = rest.get(keyword)
        sets = _key_sets(list(needs.values())) if isinstance(needs, dict) else []
        if sets:
            del rest[keyword]
            words += [f"if {key} is present then also {', '.join(keys)}" for key, keys in zip(needs, sets)]
    return words


def _key_sets(branches: Any) -> list[list[str]]:
    """The key lists of `branches` when each is `{"required": [...]}` or a list of keys (as
    `dependencies` values are), else []."""
    if not isinstance(branches, list) or not branches:
        return []
    sets = [b["required"] if isinstance(b, dict) and list(b) == ["required"] else b for b in branches]
    return sets if all(isinstance(k, list) and k and all(isinstance(x, str) for x in k) for k in sets) else []


def _key_lines(schema: dict, indent: str) -> list[str]:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return []
    required = set(schema.get("required") or [])
    lines = []
    for key, sub in properties.items():
        summary, sub_lines = _describe(sub, indent + "  ")
        note = _note(sub)
        status = "required" if key in required else "optional"
        lines.append(f"{indent}- {key} ({summary}, {status}){': ' + note if note else ''}")
        lines += sub_lines
    for key in sorted(required - properties.keys()):
        lines.append(f"{indent}- {key} (any JSON value, required)")
    return lines


def _has_keys(schema: Any) -> bool:
    return isinstance(schema, dict) and isinstance(schema.get("properties"), dict) and bool(schema["properties"])


def _note(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    text = schema.get("description") or schema.get("title") or ""
    return text if isinstance(text, str) else ""


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
