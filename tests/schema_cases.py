"""Per-keyword JSON Schema cases: (name, schema, valid instances, invalid instances).

Instances are Python values (serialised with `json.dumps`) or raw JSON text (str starting
with a JSON character and marked by the `raw` wrapper). Every label is re-checked against
`jsonschema` in the tests, so a wrong label here fails loudly instead of hiding a bug.
"""
from __future__ import annotations


class raw(str):
    """Exact JSON text (for spellings `json.dumps` does not produce)."""


CASES = [
    ("type-single", {"type": "integer"}, [0, -7, 10**20, raw("3.0"), raw("-0")], [1.5, "1", None, True]),
    ("type-list", {"type": ["string", "null"]}, ["x", None, ""], [1, [], {}]),
    ("boolean-schema", {"properties": {"a": True, "b": False}}, [{"a": [1]}, {}], [{"b": 1}]),
    ("enum", {"enum": ["red", 1, None, [1, 2], {"k": "v"}]}, ["red", 1, raw("1.0"), None, [1, 2], {"k": "v"}],
     ["blue", 2, [2, 1], {"k": "w"}, True]),
    ("const-number", {"const": 2.5}, [2.5, raw("2.50")], [2.49, "2.5"]),
    ("const-object", {"const": {"a": [True, None]}}, [{"a": [True, None]}], [{"a": [True]}, {"a": [True, None], "b": 1}]),
    ("const-escapes", {"const": "café😀\n\"/"}, ["café😀\n\"/", raw('"caf\\u00E9\\uD83D\\uDE00\\n\\"\\/"')], ["cafe"]),
    ("ref-defs", {"$defs": {"pos": {"type": "integer", "minimum": 1}}, "properties": {"n": {"$ref": "#/$defs/pos"}}},
     [{"n": 1}, {}], [{"n": 0}]),
    ("ref-recursive", {"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
                                                                          "next": {"$ref": "#/$defs/node"}},
                                          "additionalProperties": False}}, "$ref": "#/$defs/node"},
     [{"v": 1, "next": {"v": 2, "next": {}}}, {}], [{"v": 1, "next": {"v": "x"}}, {"w": 1}]),
    ("ref-anchor", {"$defs": {"s": {"$anchor": "short", "maxLength": 2}}, "items": {"$ref": "#short"}},
     [["ab", "c"], []], [["abc"]]),
    ("allOf", {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                         {"properties": {"a": {"minimum": 3}, "b": {"type": "string"}}}]},
     [{"a": 3}, {"a": 4, "b": "x"}], [{"a": 2}, {"b": "x"}, {"a": 3, "b": 1}]),
    ("anyOf", {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer", "minimum": 10}]},
     ["ab", 10, 99], ["abc", 9, None]),
    ("oneOf-scalars", {"oneOf": [{"type": "integer"}, {"minimum": 2}]}, [1, 2.5, "x"], [2, 3]),
    ("oneOf-discriminated", {"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}}, "required": ["kind"]},
        {"type": "object", "properties": {"kind": {"const": "b"}, "y": {"type": "string"}}, "required": ["kind"]}]},
     [{"kind": "a", "x": 1}, {"kind": "b", "y": "s"}, {"z": 1, "kind": "a"}, {"y": 2, "kind": "a"}],
     [{"kind": "c"}, {"kind": "a", "x": "s"}, {"y": 2, "kind": "b"}]),
    ("not-type", {"not": {"type": "string"}}, [1, None, [], {}], ["x"]),
    ("not-enum", {"type": "string", "not": {"enum": ["a", "b"]}}, ["c", "ab", ""], ["a", "b"]),
    ("not-required", {"type": "object", "not": {"required": ["a"]}}, [{}, {"b": 1}], [{"a": 1}]),
    ("if-then-else", {"if": {"type": "integer"}, "then": {"minimum": 5}, "else": {"type": "string"}},
     [5, "x"], [4, None]),
    ("if-then-else-object", {"type": "object", "properties": {"c": {"type": "string"}, "z": {"type": "string"}},
                             "if": {"properties": {"c": {"const": "US"}}, "required": ["c"]},
                             "then": {"properties": {"z": {"pattern": "^[0-9]{5}$"}}},
                             "else": {"properties": {"z": {"pattern": "^[A-Z]"}}}},
     [{"c": "US", "z": "12345"}, {"c": "NL", "z": "AB"}, {"z": "Q"}], [{"c": "US", "z": "AB"}, {"c": "NL", "z": "12345"}]),
    ("properties-order", {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                          "required": ["b"]},
     [{"a": 1, "b": "x"}, {"b": "x"}, {"a": 1, "b": "x", "c": [1]}], [{"a": 1}, {"a": "x", "b": "x"}]),
    ("additionalProperties-false", {"properties": {"a": {}}, "additionalProperties": False},
     [{"a": 1}, {}], [{"b": 1}, {"a": 1, "b": 2}]),
    ("additionalProperties-schema", {"properties": {"a": {}}, "additionalProperties": {"type": "integer"}},
     [{"a": "s", "b": 1}, {"x": 2, "y": 3}], [{"b": "s"}]),
    ("patternProperties", {"patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False},
     [{"x-a": 1}, {}], [{"x-a": "s"}, {"y": 1}]),
    ("propertyNames", {"type": "object", "propertyNames": {"maxLength": 2}}, [{"ab": 1}, {}], [{"abc": 1}]),
    ("min-maxProperties", {"type": "object", "minProperties": 1, "maxProperties": 2},
     [{"a": 1}, {"a": 1, "b": 2}], [{}, {"a": 1, "b": 2, "c": 3}]),
    ("prefixItems", {"prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
     [[1, "a"], [1], []], [[1, 2], [1, "a", 3]]),
    ("items-min-max", {"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 3},
     [[True], [True, False, True]], [[], [True] * 4, [1]]),
    ("contains", {"type": "array", "contains": {"type": "integer"}, "minContains": 2, "maxContains": 3},
     [[1, 2], ["a", 1, "b", 2, 3]], [[1], [1, 2, 3, 4], []]),
    ("string-length", {"type": "string", "minLength": 2, "maxLength": 3}, ["ab", "é😀", "abc"], ["a", "abcd"]),
    ("pattern-unanchored", {"type": "string", "pattern": "b+c"}, ["abbcd", "bc"], ["ac", ""]),
    ("pattern-anchored", {"type": "string", "pattern": "^[a-z]+$", "maxLength": 4}, ["abcd"], ["abcde", "ab1", ""]),
    ("format-date", {"type": "string", "format": "date"}, ["2024-02-29"], ["2023-02-29", "2024-13-01"]),
    ("format-ipv4", {"format": "ipv4"}, ["192.168.0.1", 5], ["256.1.1.1", "1.2.3"]),
    ("format-uuid", {"format": "uuid"}, ["123e4567-e89b-12d3-a456-426614174000"], ["123e4567e89b12d3a456426614174000x"]),
    ("integer-range", {"type": "integer", "minimum": -15, "exclusiveMaximum": 1000},
     [-15, 0, 999, raw("999.0")], [-16, 1000, 999.5]),
    ("number-range", {"type": "number", "exclusiveMinimum": 0.5, "maximum": 99.95},
     [0.51, 99.95, raw("99.950"), 1], [0.5, 99.951, -1]),
    ("multipleOf-integer", {"type": "integer", "multipleOf": 7}, [0, 14, -21], [15, 1]),
    ("multipleOf-decimal", {"type": "number", "multipleOf": 0.01}, [1.25, 3, raw("0.100")], [1.255]),
]
