"""Completeness on generated instances: hypothesis-jsonschema draws valid instances of sampled
schemas, and every one (json.dumps, properties in schema order) is accepted byte by byte."""
from __future__ import annotations

import functools
import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema

import syncode

SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8}, "age": {"type": "integer", "minimum": 0}},
     "required": ["name"], "additionalProperties": False},
    {"type": "array", "items": {"enum": ["a", 1, None, True]}, "minItems": 1, "maxItems": 4},
    {"type": "string", "pattern": "^[a-c]+-[0-9]{2}$"},
    {"type": "integer", "minimum": -150, "maximum": 2000, "multipleOf": 5},
    {"type": "number"},
    {"type": "array", "prefixItems": [{"type": "boolean"}, {"type": "string", "format": "date"}], "items": False},
    {"anyOf": [{"type": "string", "minLength": 3}, {"type": "null"}, {"type": "integer", "exclusiveMaximum": 0}]},
    {"type": "object", "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False,
     "maxProperties": 2},
    {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": False}},
     "additionalProperties": {"type": "boolean"}},
]
BYTES = syncode.TokenizerInfo([bytes([i]) for i in range(256)] + [None], stop_token_ids=[256])


@functools.lru_cache(maxsize=None)
def compiled(index: int) -> syncode.CompiledGrammar:
    return syncode.compile_grammar(syncode.Grammar.from_json_schema(SCHEMAS[index]), BYTES, cache_dir=None)


def in_schema_order(schema, value):
    """The instance with each object's declared properties first, in schema order (the
    documented restriction), then its other keys."""
    if isinstance(value, dict) and isinstance(schema, dict):
        props = schema.get("properties", {})
        keys = [k for k in props if k in value] + [k for k in value if k not in props]
        return {k: in_schema_order(props.get(k, {}), value[k]) for k in keys}
    if isinstance(value, list) and isinstance(schema, dict) and isinstance(schema.get("items"), dict):
        return [in_schema_order(schema["items"], v) for v in value]
    return value


def accepted(index: int, text: str) -> bool:
    matcher = syncode.GrammarMatcher(compiled(index))
    return all(matcher.accept_token(b) for b in text.encode()) and matcher.is_accepting()


@pytest.mark.parametrize("index", range(len(SCHEMAS)))
def test_generated_instances_are_accepted(index):
    schema = SCHEMAS[index]
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(from_schema(schema))
    def check(value):
        text = json.dumps(in_schema_order(schema, value))
        if validator.is_valid(json.loads(text)):  # hypothesis-jsonschema's formats may be looser
            assert accepted(index, text), text

    check()
