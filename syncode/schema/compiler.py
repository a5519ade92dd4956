"""JSON Schema to grammar: keywords evaluated into `Language`s, languages emitted as Lark rules.

Owns the meaning of every JSON Schema keyword syncode supports (draft 2020-12, and draft-07
input), reference resolution, and the grammar's shape: one rule per distinct sub-schema
(shared by every `$ref` to it, which is how recursion works), object and array rules that
count (properties, items, `contains` matches) only as far as a bound needs, and scalar values
as single terminals defined by exact automata (strings over every JSON spelling).
"""
from __future__ import annotations

import functools
import itertools
import json
import warnings
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import jsonschema
import numpy as np
import referencing
import referencing.exceptions
import referencing.jsonschema

from ..automata import CharDFA, UnsupportedPatternError, any_string, from_regex, literal
from ..gcpause import gc_paused
from ..grammar import Grammar, GrammarError
from ..terminals import ByteDFA
from . import formats, numbers
from .language import (
    ArrayShape, InvalidSchemaError, Language, Node, ObjectCases, ObjectShape, TRUE_NODE, UnsupportedSchemaError,
    all_numbers, all_of, all_strings, any_shapes, intersect_objects, not_of, object_cases, scalar_text,
    string_set,
)
from .arrays import unique_array_rule
from .objects import ObjectAutomatonError, member_automaton_rule
from .strings import ANY_CONTENT_RANGES, json_string

ANNOTATIONS = {
    "$schema", "$id", "$anchor", "$defs", "definitions", "$comment", "$vocabulary", "$dynamicAnchor",
    "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
    "contentMediaType", "contentEncoding", "contentSchema",
}
# Applied by the keyword that owns them.
DEPENDENT = {"then", "else", "minContains", "maxContains", "additionalItems", "additionalProperties",
             "patternProperties", "unevaluatedProperties"}
MAX_STRING_LENGTH = 10_000
MAX_COUNT = 1_000
MAX_DEPENDENCY_TRIGGERS = 4  # names whose presence splits an object into cases
PRETTY_MAX_DEPTH = 16
WHITESPACE = {"compact", "flexible", "pretty"}


class UnknownKeywordWarning(UserWarning):
    """A schema uses keywords outside JSON Schema's vocabularies; the validator ignores them too."""


class EmptySchemaWarning(UserWarning):
    """The schema allows no JSON value at all (`false`, `{"enum": []}`, ...): its grammar
    allows no token, not even EOS."""


# A terminal that matches nothing: one start state, not accepting, no transitions.
NEVER_DFA = ByteDFA(trans=np.full((1, 256), -1, dtype=np.int32), accepting=np.zeros(1, dtype=bool))


class LenientApproximationWarning(UserWarning):
    """With `lenient=True`, an unsupported keyword was approximated (see the message)."""


@dataclass(frozen=True)
class SchemaOptions:
    """How the JSON text may be laid out, and how strictly the schema is taken.

    whitespace: "flexible" (default: up to `max_whitespace` blanks around each `{ } [ ] , :`,
    so `json.dumps` output and compact output are both accepted), "compact" (none), or
    "pretty" (line breaks with indentation in multiples of `indent`).
    additional_properties_default: what a missing `additionalProperties` means (JSON Schema
    says true; false keeps outputs to the declared properties).
    lenient: unsupported keywords give a `LenientApproximationWarning` and the approximation
    the docs describe, instead of an `UnsupportedSchemaError`.
    """

    whitespace: str = "flexible"
    indent: int = 2
    max_whitespace: int = 4
    additional_properties_default: bool = True
    lenient: bool = False


def _load(schema: Any) -> Any:
    if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
        return schema.model_json_schema()
    if isinstance(schema, (str, bytes)):
        try:
            return json.loads(schema)
        except json.JSONDecodeError as exc:
            raise InvalidSchemaError(f"schema is not valid JSON: {exc}") from exc
    if isinstance(schema, (dict, bool)):
        return schema
    raise InvalidSchemaError(f"a schema must be a dict, a bool, JSON text or a pydantic model class, not {type(schema).__name__}")


def _draft(schema: Any) -> tuple[Any, int]:
    uri = schema.get("$schema", "") if isinstance(schema, dict) else ""
    if "draft-04" in uri:
        return referencing.jsonschema.DRAFT4, 4
    if "draft-06" in uri:
        return referencing.jsonschema.DRAFT6, 6
    if "draft-07" in uri:
        return referencing.jsonschema.DRAFT7, 7
    if "draft/2019-09" in uri:
        return referencing.jsonschema.DRAFT201909, 2019
    if uri and "draft/2020-12" not in uri:
        warnings.warn(f"unknown $schema {uri!r}: validated as JSON Schema draft 2020-12", UnknownKeywordWarning,
                      stacklevel=4)
    return referencing.jsonschema.DRAFT202012, 2020


def _validator_class(draft: int):
    return {4: jsonschema.Draft4Validator, 6: jsonschema.Draft6Validator, 7: jsonschema.Draft7Validator,
            2019: jsonschema.Draft201909Validator}.get(draft, jsonschema.Draft202012Validator)


STRICT_INTEGER = r"-?(?:0|[1-9][0-9]*)"
MAX_PIECES = 64  # disjoint pieces of one group of overlapping terminals
MAX_REFINEMENTS = 3  # rounds of splitting overlapping terminals (keys, then the values they lead to, ...)


def _count(value: Any) -> int | None:
    """A count keyword's value (the metaschema allows integral floats such as 2.0)."""
    return None if value is None else int(value)


def _ptr(pointer: str, *parts: Any) -> str:
    out = pointer
    for p in parts:
        out += "/" + str(p).replace("~", "~0").replace("/", "~1")
    return out


@functools.lru_cache(maxsize=None)
def _meta_validator(cls: type) -> Any:
    """The validator of a draft's meta-schema, kept per process (`check_schema` builds a new
    one per call and loses its reference-resolution caches: 2.9 -> 1.3 ms per Glaive schema)."""
    meta = jsonschema.validators.validator_for(cls.META_SCHEMA, default=cls)
    return meta(schema=cls.META_SCHEMA, format_checker=meta.FORMAT_CHECKER)


class _ChainRules:
    """Rules of a counted chain (object members, array items) by state: named when first
    referenced, defined afterwards in a loop, so that a chain of a thousand states needs no
    recursion (maxItems / maxProperties)."""

    def __init__(self, host: "SchemaCompiler", prefix: str) -> None:
        self.host, self.prefix = host, prefix
        self.names: dict[tuple, str] = {}
        self.pending: list[tuple] = []

    def __call__(self, *state) -> str:
        if state not in self.names:
            self.names[state] = self.host.new_rule(self.prefix)
            self.pending.append(state)
        return self.names[state]

    def define_all(self, alternatives) -> None:
        """Give every named state its rule: `alternatives(*state)` (none: NEVER), which may
        name further states."""
        while self.pending:
            state = self.pending.pop()
            self.host.rules[self.names[state]] = alternatives(*state) or ["NEVER"]


class SchemaCompiler:
    """Compiles one schema (see `schema_to_grammar`)."""

    def __init__(self, schema: Any, options: SchemaOptions) -> None:
        self.options = options
        self.root = schema
        spec, self.draft = _draft(schema)
        cls = _validator_class(self.draft)
        error = next(_meta_validator(cls).iter_errors(schema), None)  # what check_schema raises
        if error is not None:
            where = "#" + "".join(f"/{p}" for p in error.absolute_path)
            raise InvalidSchemaError(f"schema is not valid at {where}: {error.message}")
        resource = referencing.Resource.from_contents(schema, default_specification=spec)
        registry = referencing.Registry().with_resource(resource.id() or "", resource)
        try:
            registry = registry.crawl()  # embedded $id resources
        except (AttributeError, TypeError):
            # `referencing` trips over some valid schemas it crawls (JsonSchemaStore's
            # tmlanguage: a list where it expects a subschema); local refs need no crawl,
            # and a ref to an embedded $id then fails to resolve with a clear error.
            pass
        self.spec = spec
        self.validator_class = cls
        self.dependency_keywords = ("dependencies",) if self.draft in (4, 6, 7) else ("dependentRequired", "dependentSchemas")
        self.root_node = Node(schema, "#", registry.resolver(base_uri=resource.id() or ""))
        self.languages: dict[tuple, Language] = {}
        self.in_progress: set[tuple] = set()
        self.unknown: list[str] = []
        self.alive: list[Node] = []
        # Emission state.
        self.rules: dict[str, list[str]] = {}
        self.rule_ids = itertools.count()
        self.symbols: dict[tuple, str | None] = {}
        self.terminals: dict[tuple, str] = {}
        self.terminal_dfas: dict[str, CharDFA] = {}
        self.union_sites: list[tuple[str, str]] = []
        self.refinements = 0

    # ------------------------------------------------------------------ errors
    def unsupported(self, keyword: str, pointer: str, reason: str) -> UnsupportedSchemaError:
        return UnsupportedSchemaError(keyword, pointer, reason)

    def lenient(self, error: UnsupportedSchemaError, approximation: str) -> None:
        """Raise `error`, or under `lenient=True` warn that it is approximated."""
        if not self.options.lenient:
            raise error
        warnings.warn(f"{error}; approximated: {approximation}", LenientApproximationWarning, stacklevel=4)

    # ------------------------------------------------------------------ languages
    def language(self, node: Node) -> Language:
        key = node.key
        found = self.languages.get(key)
        if found is not None:
            return found
        if key in self.in_progress:
            raise self.unsupported("$ref", node.pointer, "a reference cycle that never enters an object or array")
        self.in_progress.add(key)
        try:
            lang = self._language(node)
        finally:
            self.in_progress.discard(key)
        self.languages[key] = lang
        self.alive.append(node)  # its schema's id is part of the key: keep it from being reused
        return lang

    def _language(self, node: Node) -> Language:
        if node.kind == "all":
            lang = Language.everything()
            for part in node.parts:
                lang = lang.intersect(self.language(part), ("allOf", node.pointer))
            return lang
        if node.kind == "not":
            return self.language(node.parts[0]).complement(("not", node.pointer))
        schema = node.schema
        if schema is True:
            return Language.everything()
        if schema is False:
            return Language()
        return self.keywords(node)

    def child(self, node: Node, value: Any, *path: Any) -> Node:
        resolver = node.resolver
        if isinstance(value, dict) and ("id" if self.draft == 4 else "$id") in value:  # a new base URI inside
            resolver = resolver.in_subresource(referencing.Resource.from_contents(value, default_specification=self.spec))
        return Node(value, _ptr(node.pointer, *path), resolver)

    def keywords(self, node: Node) -> Language:
        schema: dict = node.schema
        if "$ref" in schema and self.draft in (4, 6, 7):
            schema = {"$ref": schema["$ref"]}  # draft-07: siblings of $ref are ignored
        lang = Language.everything()
        where = lambda kw: (kw, _ptr(node.pointer, kw))  # noqa: E731
        string_done = number_done = object_done = array_done = False
        for keyword in schema:
            if keyword in ANNOTATIONS or keyword in DEPENDENT:
                continue
            part: Language | None = None
            if keyword == "type":
                part = self.type_language(schema["type"])
            elif keyword in ("enum", "const"):
                values = schema["enum"] if keyword == "enum" else [schema["const"]]
                part = self.values_language(node, values, keyword)
            elif keyword in ("minLength", "maxLength", "pattern", "format"):
                if string_done:
                    continue
                string_done = True
                part = self.string_language(node, schema)
            elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
                if number_done:
                    continue
                number_done = True
                part = self.number_language(node, schema)
            elif keyword in ("properties", "required", "propertyNames", "minProperties", "maxProperties") \
                    or keyword in self.dependency_keywords:
                if object_done:
                    continue
                object_done = True
                part = self.object_language(node, schema)
            elif keyword in ("items", "prefixItems", "minItems", "maxItems", "contains", "uniqueItems",
                             "unevaluatedItems"):
                if array_done:
                    continue
                array_done = True
                part = self.array_language(node, schema)
            elif keyword == "allOf":
                part = self.language(all_of(tuple(self.child(node, s, "allOf", i) for i, s in enumerate(schema["allOf"]))))
            elif keyword == "anyOf":
                part = self.any_of(node, schema["anyOf"], "anyOf")
            elif keyword == "oneOf":
                part = self.one_of(node, schema["oneOf"])
            elif keyword == "not":
                part = self.language(not_of(self.child(node, schema["not"], "not")))
            elif keyword == "if":
                part = self.if_then_else(node, schema)
            elif keyword == "$ref":
                part = self.language(self.resolve(node, schema["$ref"]))
            elif keyword in ("$dynamicRef", "$recursiveRef", "$recursiveAnchor"):
                self.lenient(self.unsupported(keyword, _ptr(node.pointer, keyword), "dynamic references are not supported"),
                             "the keyword is ignored (more values are allowed)")
            else:
                self.unknown.append(_ptr(node.pointer, keyword))
                continue
            if part is not None:
                lang = lang.intersect(part, where(keyword))
        if not object_done and ("additionalProperties" in schema or "patternProperties" in schema
                                or "unevaluatedProperties" in schema):
            lang = lang.intersect(self.object_language(node, schema), where("additionalProperties"))
        if not array_done and "additionalItems" in schema:
            lang = lang.intersect(self.array_language(node, schema), where("additionalItems"))
        return lang

    def resolve(self, node: Node, ref: str) -> Node:
        try:
            resolved = node.resolver.lookup(ref)
        except referencing.exceptions.Unresolvable as exc:
            raise InvalidSchemaError(f"cannot resolve $ref {ref!r} at {_ptr(node.pointer, '$ref')}: {exc}") from exc
        pointer = ref if ref.startswith("#") else f"{ref}"
        return Node(resolved.contents, pointer, resolved.resolver)

    # ------------------------------------------------------------------ scalars
    def type_language(self, types: Any) -> Language:
        lang = Language()
        for t in ([types] if isinstance(types, str) else types):
            part = {
                "null": Language(null=True),
                "boolean": Language(true=True, false=True),
                # Draft 4 counts only integer literals as integers (1.0 is a number there).
                "integer": Language(number=from_regex(numbers.JSON_INTEGER if self.draft != 4 else STRICT_INTEGER)),
                "number": Language(number=all_numbers()),
                "string": Language(string=all_strings()),
                "object": Language(objects=(ObjectShape.everything(),)),
                "array": Language(arrays=(ArrayShape(),)),
            }[t]
            lang = lang.union(part)
        return lang

    def values_language(self, node: Node, values: list, keyword: str) -> Language:
        lang = Language()
        for i, value in enumerate(values):
            lang = lang.union(self.value_language(node, value, _ptr(node.pointer, keyword, i)))
        return lang

    def value_language(self, node: Node, value: Any, pointer: str) -> Language:
        if value is None:
            return Language(null=True)
        if value is True:
            return Language(true=True)
        if value is False:
            return Language(false=True)
        if isinstance(value, (int, float)):
            return Language(number=from_regex(numbers.number_spellings(value)))
        if isinstance(value, str):
            return Language(string=literal(value))
        if isinstance(value, list):
            prefix = tuple((Node({"const": v}, _ptr(pointer, i), node.resolver),) for i, v in enumerate(value))
            return Language(arrays=(ArrayShape(prefix, None, len(value), len(value)),))
        props = tuple((k, (Node({"const": v}, _ptr(pointer, k), node.resolver),)) for k, v in value.items())
        # Members compare by name, so the keys may come in any order (each a chain of its own).
        return Language(objects=(ObjectShape(props, frozenset(value), chains=tuple(range(len(props)))),))

    def string_language(self, node: Node, schema: dict) -> Language:
        content = all_strings()
        lo, hi = _count(schema.get("minLength", 0)), _count(schema.get("maxLength"))
        if hi is not None and hi > MAX_STRING_LENGTH:
            self.lenient(self.unsupported("maxLength", _ptr(node.pointer, "maxLength"), f"lengths over {MAX_STRING_LENGTH}"),
                         "maxLength is taken as unbounded")
            hi = None
        if lo > MAX_STRING_LENGTH:
            raise self.unsupported("minLength", _ptr(node.pointer, "minLength"), f"lengths over {MAX_STRING_LENGTH}")
        if lo or hi is not None:
            content = any_string(lo, hi, ANY_CONTENT_RANGES)
        if "pattern" in schema:
            try:
                content = content.intersect(from_regex(schema["pattern"], search=True))
            except UnsupportedPatternError as exc:
                self.lenient(self.unsupported("pattern", _ptr(node.pointer, "pattern"), str(exc)), "the pattern is ignored")
        if "format" in schema:
            content = self.format_language(node, schema["format"], content)
        return replace(Language.everything(), string=None if content.is_empty() else content)

    def format_language(self, node: Node, name: str, content: CharDFA) -> CharDFA:
        # Formats as Draft 2020-12's FORMAT_CHECKER judges them, whatever the draft: outputs are
        # validated that way (a draft-04 "date" is an annotation to Draft4Validator, but an
        # output "2020-02-30" is still not a date to anyone reading it).
        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        if name not in checker.checkers:
            return content  # the validator does not check this format: an annotation
        try:
            fmt = formats.format_language(name)
        except formats.UnsupportedFormatError as exc:
            self.lenient(self.unsupported("format", _ptr(node.pointer, "format"), str(exc)), "the format is ignored")
            return content
        out = content.intersect(from_regex(fmt.regex))
        if fmt.max_length is not None:
            out = out.intersect(any_string(0, fmt.max_length))
        return out

    def number_language(self, node: Node, schema: dict) -> Language:
        lo = schema.get("minimum")
        hi = schema.get("maximum")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        lo_strict = hi_strict = False
        if isinstance(xlo, bool):  # draft-04 form
            lo_strict, xlo = xlo, None
        if isinstance(xhi, bool):
            hi_strict, xhi = xhi, None
        if xlo is not None and (lo is None or Decimal(repr(xlo)) >= Decimal(repr(lo))):
            lo, lo_strict = xlo, True
        if xhi is not None and (hi is None or Decimal(repr(xhi)) <= Decimal(repr(hi))):
            hi, hi_strict = xhi, True
        dec = lambda v: None if v is None else Decimal(repr(v)) if isinstance(v, float) else Decimal(v)  # noqa: E731
        try:
            dfa = from_regex(numbers.number_regex(dec(lo), dec(hi), lo_strict, hi_strict))
        except ValueError:  # empty range
            return replace(Language.everything(), number=None)
        step = schema.get("multipleOf")
        if step is not None:
            dfa = dfa.intersect(self.multiple_of(node, step))
        return replace(Language.everything(), number=None if dfa.is_empty() else dfa)

    def multiple_of(self, node: Node, step: Any) -> CharDFA:
        d = Decimal(repr(step)) if isinstance(step, float) else Decimal(step)
        try:
            n_states, trans, accepting = numbers.multiple_of_dfa(d)
        except numbers.NotRegularError as exc:
            self.lenient(self.unsupported("multipleOf", _ptr(node.pointer, "multipleOf"), str(exc)), "multipleOf is ignored")
            return all_numbers()
        edges = [sorted((ord(c), ord(c), t) for c, t in trans.get(s, {}).items()) for s in range(n_states)]
        return CharDFA(edges, [s in accepting for s in range(n_states)]).minimize()

    # ------------------------------------------------------------------ objects
    def object_language(self, node: Node, schema: dict) -> Language:
        ptr = node.pointer
        props_schema = schema.get("properties", {})
        declared = list(props_schema)
        required = list(dict.fromkeys(schema.get("required", [])))
        patterns = []
        for pattern, sub in schema.get("patternProperties", {}).items():
            try:
                patterns.append((from_regex(pattern, search=True), self.child(node, sub, "patternProperties", pattern)))
            except UnsupportedPatternError as exc:
                raise self.unsupported("patternProperties", _ptr(ptr, "patternProperties", pattern), str(exc)) from exc
        additional: Node | None
        if "additionalProperties" in schema:
            additional = self.child(node, schema["additionalProperties"], "additionalProperties")
        else:
            additional = TRUE_NODE if self.options.additional_properties_default else Node(False, ptr)
        if "unevaluatedProperties" in schema and "additionalProperties" not in schema:  # else every property is evaluated
            applicators = {"allOf", "anyOf", "oneOf", "not", "if", "$ref", "dependentSchemas", "dependencies"} & set(schema)
            if applicators:
                self.lenient(self.unsupported("unevaluatedProperties", _ptr(ptr, "unevaluatedProperties"),
                                              f"together with {sorted(applicators)}"), "unevaluatedProperties is ignored")
            else:
                additional = all_of((additional, self.child(node, schema["unevaluatedProperties"], "unevaluatedProperties")))
        names: CharDFA | None = None
        if "propertyNames" in schema:
            names_lang = self.language(self.child(node, schema["propertyNames"], "propertyNames"))
            names = names_lang.string or CharDFA([[]], [False])

        def nodes_for(name: str) -> tuple[Node, ...] | None:
            if names is not None and not names.accepts(name):
                return None
            nodes = []
            if name in props_schema:
                nodes.append(self.child(node, props_schema[name], "properties", name))
            matched = [n for keys, n in patterns if keys.accepts(name)]
            nodes += matched
            if name not in props_schema and not matched:
                nodes.append(additional)
            if any(n.kind == "schema" and n.schema is False for n in nodes):
                return None
            return tuple(n for n in nodes if not (n.kind == "schema" and n.schema is True))

        props, chains = [], []
        for name in declared + [r for r in required if r not in props_schema]:
            nodes = nodes_for(name)
            if nodes is None:
                if name in required:
                    return replace(Language.everything(), objects=())
                continue
            props.append((name, nodes))
            # `properties` come in schema order; a name that is only required may come anywhere.
            chains.append(0 if name in props_schema else len(chains) + 1)
        # Extra keys: classes by which patterns they match (the declared names excluded).
        base = all_strings().difference(string_set(declared + required))
        if names is not None:
            base = base.intersect(names)
        classes = [(base, (), False)]
        for keys, sub in patterns:
            split = []
            for dfa, nodes, hit in classes:
                split.append((dfa.intersect(keys), nodes + (sub,), True))
                split.append((dfa.difference(keys), nodes, hit))
            classes = [c for c in split if not c[0].is_empty()]
        extras = []
        for dfa, nodes, hit in classes:
            if not hit:
                if additional.kind == "schema" and additional.schema is False:
                    continue
                nodes = nodes + (additional,)
            if any(n.kind == "schema" and n.schema is False for n in nodes):
                continue
            extras.append((dfa, tuple(n for n in nodes if not (n.kind == "schema" and n.schema is True))))
        lo, hi = _count(schema.get("minProperties", 0)), _count(schema.get("maxProperties"))
        if (hi is not None and len(required) > hi) or (not extras and lo > len(props)):
            return replace(Language.everything(), objects=())
        shape = ObjectShape(tuple(props), frozenset(required), tuple(extras), lo, hi,
                            tuple(chains) if len(set(chains)) > 1 else ())
        return replace(Language.everything(), objects=self.dependency_cases(node, schema, shape))

    def dependency_cases(self, node: Node, schema: dict, shape: ObjectShape) -> tuple:
        """`shape` under the schema's property dependencies, split by which trigger names are
        present: for each subset, the triggers in it are required (with the names and schemas
        they bring) and the others are absent. The cases are disjoint and exact."""
        needs: dict[str, list[str]] = {}
        schemas: dict[str, list[Node]] = {}
        sites = []
        for keyword in self.dependency_keywords:
            for name, value in schema.get(keyword, {}).items():
                sites.append((keyword, _ptr(node.pointer, keyword)))
                if isinstance(value, list):
                    needs.setdefault(name, []).extend(value)
                else:
                    schemas.setdefault(name, []).append(self.child(node, value, keyword, name))
        triggers = list(dict.fromkeys(list(needs) + list(schemas)))
        if not triggers:
            return (shape,)
        if len(triggers) > MAX_DEPENDENCY_TRIGGERS:
            self.lenient(self.unsupported(*sites[0], f"dependencies on {len(triggers)} names: the split into one case "
                                          f"per subset of present names is bounded to {MAX_DEPENDENCY_TRIGGERS} names"),
                         "the dependencies are ignored")
            return (shape,)
        cases = []
        for present in range(1 << len(triggers)):
            parts = [shape]
            for i, name in enumerate(triggers):
                if present >> i & 1:
                    names = list(dict.fromkeys([name] + needs.get(name, [])))
                    rest = all_strings().difference(string_set(names))
                    required = ObjectShape(tuple((n, ()) for n in names), frozenset(names), ((rest, ()),),
                                           chains=tuple(range(len(names))) if len(names) > 1 else ())
                    parts = [intersect_objects(p, required, sites[0]) for p in parts if p is not None]
                    for sub in schemas.get(name, []):
                        objects = self.language(sub).objects
                        parts = [intersect_objects(p, o, sites[0]) for p in parts if p is not None for o in objects]
                else:
                    absent = ObjectShape(extras=((all_strings().difference(literal(name)), ()),))
                    parts = [intersect_objects(p, absent, sites[0]) for p in parts if p is not None]
            cases += parts
        return object_cases(cases, sites[0])

    # ------------------------------------------------------------------ arrays
    def array_language(self, node: Node, schema: dict) -> Language:
        ptr = node.pointer
        items = schema.get("items", True)
        prefix_schemas = schema.get("prefixItems", [])
        rest: Any = items
        if isinstance(items, list):  # draft-07 tuple form
            prefix_schemas, rest = items, schema.get("additionalItems", True)
            rest_ptr = "additionalItems"
        else:
            rest_ptr = "items"
        prefix = []
        for i, sub in enumerate(prefix_schemas):
            prefix.append(self.item_nodes(self.child(node, sub, "prefixItems" if "prefixItems" in schema else "items", i)))
        rest_node = self.child(node, rest, rest_ptr)
        if "unevaluatedItems" in schema and "items" not in schema:  # with `items`, no item is left unevaluated
            applicators = {"allOf", "anyOf", "oneOf", "not", "if", "$ref", "contains"} & set(schema)
            if applicators:
                self.lenient(self.unsupported("unevaluatedItems", _ptr(ptr, "unevaluatedItems"),
                                              f"together with {sorted(applicators)}"), "unevaluatedItems is ignored")
            else:
                rest_node = self.child(node, schema["unevaluatedItems"], "unevaluatedItems")
        rest_nodes = self.item_nodes(rest_node)
        lo, hi = _count(schema.get("minItems", 0)), _count(schema.get("maxItems"))
        for i, nodes in enumerate(prefix):
            if nodes is None:
                hi = i if hi is None else min(hi, i)
                prefix = prefix[:i]
                break
        if rest_nodes is None:
            hi = len(prefix) if hi is None else min(hi, len(prefix))
        if hi is not None and lo > hi:
            return replace(Language.everything(), arrays=())
        contains = None
        min_c, max_c = _count(schema.get("minContains", 1)), _count(schema.get("maxContains"))
        if "contains" in schema:
            contains = (self.child(node, schema["contains"], "contains"),)
            if min_c == 0 and max_c is None:
                contains = None
        elif "minContains" in schema or "maxContains" in schema:
            min_c, max_c = 1, None
        for bound, kw in ((lo, "minItems"), (hi, "maxItems"), (min_c, "minContains"), (max_c, "maxContains")):
            if bound is not None and bound > MAX_COUNT:
                raise self.unsupported(kw, _ptr(ptr, kw), f"counts over {MAX_COUNT}")
        unique = _ptr(ptr, "uniqueItems") if schema.get("uniqueItems") is True else None
        shape = ArrayShape(tuple(prefix), rest_nodes, lo, hi, contains, min_c, max_c, unique)
        return replace(Language.everything(), arrays=(shape,))

    @staticmethod
    def item_nodes(node: Node) -> tuple[Node, ...] | None:
        if node.schema is False:
            return None
        return () if node.schema is True else (node,)

    # ------------------------------------------------------------------ combinators
    def any_of(self, node: Node, branches: list, keyword: str) -> Language:
        lang = Language()
        for i, sub in enumerate(branches):
            lang = lang.union(self.language(self.child(node, sub, keyword, i)))
        if len(lang.objects) > 1 or len(lang.arrays) > 1:
            self.union_sites.append((keyword, _ptr(node.pointer, keyword)))
        return lang

    def one_of(self, node: Node, branches: list) -> Language:
        if sum(1 for sub in branches if sub is True or sub == {}) >= 2:
            return Language()  # every value matches two branches that accept everything
        langs = [self.language(self.child(node, sub, "oneOf", i)) for i, sub in enumerate(branches)]
        if isinstance(node.schema, dict) and "type" in node.schema:
            # Exact: a value of the sibling type matches exactly one branch iff it matches exactly
            # one branch restricted to that type; the restriction often makes branches disjoint.
            sibling = self.type_language(node.schema["type"])
            langs = [lang.intersect(sibling, ("oneOf", node.pointer)) for lang in langs]
        out = Language()
        for i, lang in enumerate(langs):
            rest = Language()
            for j, other in enumerate(langs):
                if j != i:
                    rest = rest.union(replace(other, objects=(), arrays=()))
            out = out.union(lang.minus_scalars(rest))
        site = ("oneOf", _ptr(node.pointer, "oneOf"))
        for kind in ("objects", "arrays"):
            owners = [i for i, lang in enumerate(langs) if getattr(lang, kind)]
            overlap = next(((a, b) for i, a in enumerate(owners) for b in owners[i + 1:]
                            if not self.disjoint(getattr(langs[a], kind), getattr(langs[b], kind))), None)
            if overlap is None:
                continue
            if all(getattr(langs[i], kind) == getattr(langs[owners[0]], kind) for i in owners):
                out = replace(out, **{kind: ()})  # every such value matches all these branches
                continue
            if kind == "objects":  # exact: an automaton that counts the branches an object matches
                branches = tuple(any_shapes(langs[i].objects, site) for i in owners)
                out = replace(out, objects=(ObjectCases(branches, True, site),))
                continue
            self.lenient(self.unsupported(*site, f"branches {overlap[0]} and {overlap[1]} may both match the same "
                                          "array (not provably disjoint)"), "oneOf is taken as anyOf")
        if len(out.objects) > 1 or len(out.arrays) > 1:
            self.union_sites.append(("oneOf", _ptr(node.pointer, "oneOf")))
        return out

    def disjoint(self, shapes_a: tuple, shapes_b: tuple) -> bool:
        """True when no value can match a shape of each (a sufficient test)."""
        flat = lambda shapes: [x for s in shapes for x in (s.shapes() if isinstance(s, ObjectCases) else (s,))]  # noqa: E731
        for a in flat(shapes_a):
            for b in flat(shapes_b):
                if isinstance(a, ObjectShape):
                    both = a.intersect(b)
                    if both is None:
                        continue
                    if not any(self.provably_empty(nodes) for name, nodes in both.props if name in both.required):
                        return False
                else:
                    lo = max(a.min_items, b.min_items)
                    hi = min(x for x in (a.max_items, b.max_items, 1 << 60) if x is not None)
                    if lo <= hi:
                        return False
        return True

    def provably_empty(self, nodes: tuple[Node, ...]) -> bool:
        try:
            return self.language(all_of(nodes)).is_empty()
        except UnsupportedSchemaError:
            return False

    def if_then_else(self, node: Node, schema: dict) -> Language:
        cond = self.child(node, schema["if"], "if")
        then = self.child(node, schema.get("then", True), "then")
        other = self.child(node, schema.get("else", True), "else")
        yes = self.language(all_of((cond, then)))
        no = self.language(all_of((not_of(cond), other)))
        return yes.union(no)

    # ------------------------------------------------------------------ emission
    def terminal(self, dfa: CharDFA) -> str:
        key = dfa.key()
        name = self.terminals.get(key)
        if name is None:
            name = self.terminals[key] = f"T{len(self.terminals)}"
            self.terminal_dfas[name] = dfa
        return name

    def new_rule(self, prefix: str) -> str:
        """A fresh rule name (numbered by a counter: rules are deleted on the way, so their
        count could name an existing rule again)."""
        name = f"{prefix}{next(self.rule_ids)}"
        self.rules[name] = []
        return name

    def symbol(self, nodes: tuple[Node, ...]) -> str | None:
        """The rule for values satisfying every node, or None when no value does."""
        node = all_of(nodes)
        key = node.key
        if key in self.symbols:
            return self.symbols[key]
        self.alive.append(node)
        name = self.new_rule("v")
        self.symbols[key] = name  # before the parts, so that recursion finds it
        try:
            alternatives = self.alternatives(node)
        except UnsupportedSchemaError:
            del self.symbols[key], self.rules[name]  # no half-made rule for a later caller to find
            raise
        if not alternatives:
            self.symbols[key] = None
            del self.rules[name]
            return None
        self.rules[name] = alternatives
        return name

    def alternatives(self, node: Node) -> list[str]:
        """The grammar alternatives of the values `node` allows."""
        lang = self.language(node)
        alternatives = []
        scalar = scalar_text(lang)
        if scalar is not None:
            alternatives.append(self.terminal(scalar))
        objects = lang.objects
        if len(objects) > 1 and not any(isinstance(o, ObjectCases) and o.exactly_one for o in objects):
            # Alternatives that start alike are one automaton, so LALR(1) need not pick one early.
            objects = object_cases(objects, self.union_sites[-1] if self.union_sites else ("anyOf", node.pointer))
        for shape in objects:
            rule = self.object_rule(shape)
            if rule is not None:
                alternatives.append(rule)
        for shape in lang.arrays:
            rule = self.array_rule(shape)
            if rule is not None:
                alternatives.append(rule)
        return alternatives

    def object_rule(self, shape: ObjectShape | ObjectCases) -> str | None:
        if isinstance(shape, ObjectCases) and not shape.exactly_one:
            try:
                return member_automaton_rule(self, shape)
            except ObjectAutomatonError:
                # The branches' values differ in a way the automaton cannot split: one
                # alternative per shape, as LALR(1) decides them (or the emission reports).
                rules = [r for r in map(self.object_rule, shape.shapes()) if r is not None]
                out = self.new_rule("objs")
                self.rules[out] = rules or ["NEVER"]
                return out
        if isinstance(shape, ObjectCases) or len(set(shape.bounded().chain_ids())) > 1:
            return member_automaton_rule(self, shape)
        props = []
        for name, nodes in shape.props:
            value = self.symbol(nodes)
            if value is None:
                if name in shape.required:
                    return None
                continue
            props.append((name, self.terminal(json_string(literal(name))), value, name in shape.required))
        extras = []
        for keys, nodes in shape.extras:
            if keys.is_empty():  # e.g. `propertyNames: false`
                continue
            value = self.symbol(nodes)
            if value is not None:
                extras.append((self.terminal(json_string(keys)), value))
        lo, hi = shape.min_props, shape.max_props
        cap = hi if hi is not None else max(lo, 1)
        n = len(props)

        def inc(c: int) -> int:
            return c + 1 if hi is not None else min(c + 1, cap)

        def sep(c: int) -> str:
            return "COMMA " if c > 0 else ""

        # rule("R" | "S", i, c): property i next, c members so far ("S": i may be skipped)
        rule = _ChainRules(self, "o")

        def define(kind: str, i: int, c: int) -> list[str]:
            alts = []
            room = hi is None or c < hi
            if i < n and room:
                _, key_t, value, _ = props[i]
                alts.append(f"{sep(c)}{key_t} COLON {value} {rule('R', i + 1, inc(c))}")
            if kind == "R" and extras and room:
                for key_t, value in extras:
                    alts.append(f"{sep(c)}{key_t} COLON {value} {rule('R', i, inc(c))}")
            if i < n and not props[i][3]:
                alts.append(rule("S", i + 1, c))
            if i == n and c >= max(lo, 1):
                alts.append("")
            return alts

        # The empty object is its own alternative, so that the context right after `{` holds
        # no whitespace-led terminal (see docs/json-schema.md, "Whitespace").
        out = self.new_rule("obj")
        empty_ok = lo == 0 and not any(required for *_, required in props)
        self.rules[out] = [f"LBRACE {rule('R', 0, 0)} RBRACE"] + (["LBRACE EMPTY_RBRACE"] if empty_ok else [])
        rule.define_all(define)
        return out

    def array_rule(self, shape: ArrayShape) -> str | None:
        if shape.unique is not None:
            try:
                return unique_array_rule(self, shape, shape.unique)
            except UnsupportedSchemaError as exc:
                self.lenient(exc, "uniqueItems is ignored")
        prefix = []
        for nodes in shape.prefix:
            value = self.symbol(nodes)
            if value is None:
                break
            prefix.append(value)
        hi = shape.max_items
        rest = self.symbol(shape.items) if shape.items is not None else None
        if len(prefix) < len(shape.prefix):
            rest = None
        if rest is None:
            hi = len(prefix) if hi is None else min(hi, len(prefix))
        lo = shape.min_items
        if hi is not None and lo > hi:
            return None
        cap_i = hi if hi is not None else max(len(prefix), lo, 1)
        contains = shape.contains
        min_c, max_c = (shape.min_contains, shape.max_contains) if contains is not None else (0, None)
        cap_c = max_c if max_c is not None else min_c

        def item(i: int, matching: bool | None) -> str | None:
            nodes = prefix_nodes(i)
            if nodes is None:
                return None
            if matching is None:
                return self.symbol(nodes)
            extra = contains if matching else (not_of(all_of(contains)),)
            return self.symbol(nodes + extra)

        def prefix_nodes(i: int) -> tuple[Node, ...] | None:
            if i < len(prefix):
                return shape.prefix[i]
            return shape.items if rest is not None else None

        rule = _ChainRules(self, "a")  # rule(i, c): item i next, c contained so far

        def define(i: int, c: int) -> list[str]:
            alts = []
            sep = "COMMA " if i > 0 else ""
            nxt_i = i + 1 if hi is not None or i + 1 <= cap_i else cap_i
            if hi is None or i < hi:
                if contains is None:
                    value = item(i, None)
                    if value is not None:
                        alts.append(f"{sep}{value} {rule(nxt_i, c)}")
                else:
                    hit = item(i, True) if max_c is None or c < max_c else None
                    miss = item(i, False)
                    if hit is not None:
                        alts.append(f"{sep}{hit} {rule(nxt_i, c + 1 if max_c is not None else min(c + 1, cap_c))}")
                    if miss is not None:
                        alts.append(f"{sep}{miss} {rule(nxt_i, c)}")
            if i >= max(lo, 1) and c >= min_c:
                alts.append("")
            return alts

        out = self.new_rule("arr")
        empty_ok = lo == 0 and min_c == 0
        self.rules[out] = [f"LBRACK {rule(0, 0)} RBRACK"] + (["LBRACK EMPTY_RBRACK"] if empty_ok else [])
        rule.define_all(define)
        return out

    def grammar(self) -> Grammar:
        top = self.symbol((self.root_node,))
        self.rules = _productive(self.rules)
        if top not in self.rules:
            top = None
        if top is None:
            warnings.warn("the schema allows no value at all: no token will ever be allowed", EmptySchemaWarning,
                          stacklevel=3)
            top = "NEVER"
        if self.unknown:
            warnings.warn(f"keywords outside JSON Schema's vocabularies, ignored as the validator ignores them: "
                          f"{', '.join(self.unknown[:10])}{' ...' if len(self.unknown) > 10 else ''}",
                          UnknownKeywordWarning, stacklevel=3)
        return self.emit(top)

    def emit(self, top: str) -> Grammar:
        ws = _whitespace_regex(self.options)
        edge_ws = self.options.whitespace == "flexible" and self.options.max_whitespace > 0 and top != "NEVER"
        rules = {"start": [f"WS {top} WS", f"WS {top}", f"{top} WS", top] if edge_ws else [top]}
        rules.update((name, list(alts)) for name, alts in self.rules.items())
        # Blanks go after `{ [ , :` and before `} ]` (not before `,` or `:`: no formatter puts them there).
        colon_ws = " " if self.options.whitespace == "pretty" else ws
        terminals = {"LBRACE": r"\{" + ws, "LBRACK": r"\[" + ws, "COMMA": "," + ws, "COLON": ":" + colon_ws,
                     "RBRACE": ws + r"\}", "RBRACK": ws + r"\]", "EMPTY_RBRACE": r"\}", "EMPTY_RBRACK": r"\]"}
        if edge_ws:
            terminals["WS"] = f"[ \\t\\n\\r]{{1,{self.options.max_whitespace}}}"
        byte_dfas = {}
        for name, dfa in self.terminal_dfas.items():
            terminals[name] = f"\\x00{name}\\x00"  # stands in for Lark: the automaton defines the terminal
            byte_dfas[name] = dfa.to_byte_dfa()
        terminals["NEVER"] = "\\x00NEVER\\x00"
        byte_dfas["NEVER"] = NEVER_DFA  # matches nothing at all
        keyword, pointer = self.union_sites[0] if self.union_sites else ("anyOf", "#")
        try:
            grammar = Grammar.from_rules(rules, terminals, name="<json schema>", terminal_dfas=byte_dfas)
        except GrammarError as exc:
            raise UnsupportedSchemaError(keyword, pointer, "the alternatives overlap in a way an LALR(1) grammar cannot "
                                         f"decide token by token ({str(exc).splitlines()[0][:200]})") from exc
        overlapping = self.overlapping_terminals(grammar)
        if overlapping:
            if self.refinements >= MAX_REFINEMENTS:
                raise UnsupportedSchemaError(keyword, pointer, "two alternatives can both continue with the same key "
                                             "or value text, which a token-by-token lexer cannot decide")
            self.refine(overlapping)
            return self.emit(top)
        return grammar

    def overlapping_terminals(self, grammar: Grammar) -> list[tuple[str, str]]:
        """Pairs of automaton terminals that the parser may expect at the same point and that
        share a string: the lexer would pick one and lose the values only the other leads to
        (a key declared in one `anyOf` branch and additional in another)."""
        overlaps: dict[tuple[str, str], bool] = {}
        for actions in grammar.parse_table.states.values():
            expected = sorted(t for t in actions if t in self.terminal_dfas)
            for i, a in enumerate(expected):
                for b in expected[i + 1:]:
                    if (a, b) not in overlaps:
                        overlaps[a, b] = not self.terminal_dfas[a].intersect(self.terminal_dfas[b]).is_empty()
        return [pair for pair, overlap in overlaps.items() if overlap]

    def refine(self, pairs: list[tuple[str, str]]) -> None:
        """Split the overlapping terminals into disjoint pieces (each terminal becomes the
        alternatives of its pieces), so the lexer never has to choose and the LR parser
        follows every alternative until the text decides."""
        self.refinements += 1
        groups: list[set[str]] = []
        for a, b in pairs:
            joined = {a, b}
            for group in [g for g in groups if g & joined]:
                joined |= group
                groups.remove(group)
            groups.append(joined)
        pieces_of: dict[str, list[str]] = {}
        for group in groups:
            atoms: list[CharDFA] = []
            for name in sorted(group):
                dfa = self.terminal_dfas[name]
                split = []
                for atom in atoms:
                    split += [x for x in (atom.intersect(dfa), atom.difference(dfa)) if not x.is_empty()]
                rest = dfa
                for atom in atoms:
                    rest = rest.difference(atom)
                atoms = split + ([rest] if not rest.is_empty() else [])
                if len(atoms) > MAX_PIECES:
                    raise UnsupportedSchemaError(*(self.union_sites[0] if self.union_sites else ("anyOf", "#")),
                                                 f"over {MAX_PIECES} distinct overlapping keys or values")
            atom_names = [self.terminal(atom) for atom in atoms]
            for name in group:
                dfa = self.terminal_dfas[name]
                pieces_of[name] = [n for n, atom in zip(atom_names, atoms)
                                   if not atom.intersect(dfa).is_empty()]
        for rule, alts in self.rules.items():
            out = []
            for alt in alts:
                expanded = [[]]
                for symbol in alt.split():
                    expanded = [done + [piece] for done in expanded for piece in pieces_of.get(symbol, [symbol])]
                out += [" ".join(e) for e in expanded]
            self.rules[rule] = list(dict.fromkeys(out))
        used = {symbol for alts in self.rules.values() for alt in alts for symbol in alt.split()}
        for name in pieces_of:
            if name not in used:
                self.terminal_dfas.pop(name, None)


def _productive(rules: dict[str, list[str]]) -> dict[str, list[str]]:
    """The rules that derive some finite text, each keeping only its alternatives made of
    terminals and such rules. A dead end left in the grammar (a required property whose
    schema recurses forever, `contains` that no item can satisfy) would let the parser
    accept tokens after which nothing can complete the output."""
    def viable(alt: str, productive: set[str]) -> bool:
        return all(s in productive or (s.isupper() and s != "NEVER") for s in alt.split())

    productive: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, alts in rules.items():
            if name not in productive and any(viable(alt, productive) for alt in alts):
                productive.add(name)
                changed = True
    return {name: [alt for alt in alts if viable(alt, productive)] for name, alts in rules.items() if name in productive}


def _whitespace_regex(options: SchemaOptions) -> str:
    if options.whitespace not in WHITESPACE:
        raise ValueError(f"whitespace must be one of {sorted(WHITESPACE)}, not {options.whitespace!r}")
    if options.whitespace == "compact" or options.max_whitespace <= 0:
        return ""
    if options.whitespace == "pretty":
        return f"(?:\\n(?:{' ' * options.indent}){{0,{PRETTY_MAX_DEPTH}}})?"
    return f"[ \\t\\n\\r]{{0,{options.max_whitespace}}}"


def schema_to_grammar(schema: Any, **options: Any) -> Grammar:
    """The grammar of exactly the JSON texts valid for `schema` (see `SchemaOptions`)."""
    opts = SchemaOptions(**options)
    loaded = _load(schema)
    with gc_paused():
        compiler = SchemaCompiler(loaded, opts)
        grammar = compiler.grammar()
    grammar.schema = loaded
    return grammar
