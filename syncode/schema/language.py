"""The set of JSON values a schema allows, split by JSON type.

Owns the algebra the compiler evaluates keywords in. A `Language` holds, per type, what is
allowed: null and the booleans as flags, numbers as an automaton over number text, strings
as an automaton over the decoded value, objects and arrays as tuples of shapes
(alternatives) whose member values are sub-schemas (`Node`s) still to compile, so recursive
schemas stay finite. `allOf` is intersection, `anyOf` union, `not` complement: exact per
type for scalars; for objects and arrays exact in the cases `docs/json-schema.md` lists,
and an `UnsupportedSchemaError` otherwise.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

from ..automata import CharDFA, any_string, from_regex, literal
from .numbers import JSON_NUMBER
from .strings import ANY_CONTENT_RANGES, json_string


class SchemaError(ValueError):
    """A JSON Schema cannot be turned into a grammar."""


class InvalidSchemaError(SchemaError):
    """The schema is malformed (not valid against its meta-schema, or a bad reference)."""


class UnsupportedSchemaError(SchemaError):
    """A keyword (or a combination) whose language syncode cannot express exactly."""

    def __init__(self, keyword: str, pointer: str, reason: str) -> None:
        self.keyword = keyword
        self.pointer = pointer or "#"
        self.reason = reason
        super().__init__(f"unsupported JSON Schema keyword {keyword!r} at {self.pointer}: {reason}")


@dataclass(frozen=True, eq=False)
class Node:
    """A schema to compile: a schema value at a JSON pointer (with the resolver for its
    `$ref`s), or a synthetic combination: `kind` "all" (every part) or "not" (the part's
    complement)."""

    schema: Any = True
    pointer: str = "#"
    resolver: Any = None
    kind: str = "schema"
    parts: tuple["Node", ...] = ()

    @functools.cached_property
    def key(self) -> tuple:
        if self.kind == "schema":
            base = getattr(self.resolver, "_base_uri", "") if self.resolver is not None else ""
            return ("schema", id(self.schema) if isinstance(self.schema, (dict, list)) else repr(self.schema), base)
        return (self.kind,) + tuple(sorted((p.key for p in self.parts), key=repr))


TRUE_NODE = Node(True)


def all_of(nodes: tuple[Node, ...]) -> Node:
    """One node for the conjunction of `nodes` (true when empty)."""
    unique: dict[tuple, Node] = {}
    for n in nodes:
        for part in (n.parts if n.kind == "all" else (n,)):
            if not (part.kind == "schema" and part.schema is True):
                unique.setdefault(part.key, part)
    if not unique:
        return TRUE_NODE
    if len(unique) == 1:
        return next(iter(unique.values()))
    return Node(kind="all", parts=tuple(unique.values()), pointer=next(iter(unique.values())).pointer)


def not_of(node: Node) -> Node:
    return Node(kind="not", parts=(node,), pointer=node.pointer)


@functools.lru_cache(maxsize=None)
def all_numbers() -> CharDFA:
    return from_regex(JSON_NUMBER)


@functools.lru_cache(maxsize=None)
def all_strings() -> CharDFA:
    return any_string(ranges=ANY_CONTENT_RANGES)


def string_set(names) -> CharDFA:
    """Exactly the given strings (a trie, minimised)."""
    children: list[dict[int, int]] = [{}]
    accepting = [False]
    for name in names:
        state = 0
        for char in name:
            nxt = children[state].get(ord(char))
            if nxt is None:
                nxt = children[state][ord(char)] = len(children)
                children.append({})
                accepting.append(False)
            state = nxt
        accepting[state] = True
    return CharDFA([sorted((c, c, t) for c, t in row.items()) for row in children], accepting).minimize()


MAX_ORDER_STATES = 128  # interleavings of property chains one object automaton may track


@dataclass(frozen=True)
class ObjectShape:
    """Objects with declared properties (each value must satisfy every node of its tuple),
    required names, extra key classes (disjoint key languages that exclude the declared
    names, with the nodes their values must satisfy) and a count range.

    Declared properties are split into chains (`chains[i]` is property i's chain; empty: one
    chain): properties of one chain appear in declaration order, chains interleave freely. A
    schema's `properties` are one chain; a name that is only `required`, a `const` object's
    keys and the properties another `allOf` part adds are chains of their own."""

    props: tuple[tuple[str, tuple[Node, ...]], ...] = ()
    required: frozenset = frozenset()
    extras: tuple[tuple[CharDFA, tuple[Node, ...]], ...] = ()
    min_props: int = 0
    max_props: int | None = None
    chains: tuple[int, ...] = ()

    @staticmethod
    def everything() -> "ObjectShape":
        return ObjectShape(extras=((all_strings(), ()),))

    def is_everything(self) -> bool:
        return (not self.props and not self.required and self.min_props == 0 and self.max_props is None
                and len(self.extras) == 1 and not self.extras[0][1] and self.extras[0][0] == all_strings())

    def chain_ids(self) -> tuple[int, ...]:
        return self.chains or (0,) * len(self.props)

    def bounded(self) -> "ObjectShape":
        """The same shape with the last chains concatenated until tracking their
        interleavings takes at most `MAX_ORDER_STATES` states (a sound restriction: fewer
        property orders); a single chain drops the chain ids."""
        ids = self.chain_ids()
        order = list(dict.fromkeys(ids))
        while len(order) > 1:
            states = 1
            for c in order:
                states *= ids.count(c) + 1
            if states <= MAX_ORDER_STATES:
                break
            ids = tuple(order[-2] if c == order[-1] else c for c in ids)
            order.pop()
        if len(order) <= 1:
            return replace(self, chains=())
        return replace(self, chains=ids)

    def nodes_for(self, name: str) -> tuple[Node, ...] | None:
        """What the value of property `name` must satisfy, or None when the name is not allowed."""
        for n, nodes in self.props:
            if n == name:
                return nodes
        for keys, nodes in self.extras:
            if keys.accepts(name):
                return nodes
        return None

    def intersect(self, other: "ObjectShape") -> "ObjectShape | None":
        names = list(dict.fromkeys([n for n, _ in self.props] + [n for n, _ in other.props]))
        chain_of: dict[str, tuple] = {}
        for (name, _), c in zip(other.props, other.chain_ids()):
            chain_of[name] = ("b", c)
        for (name, _), c in zip(self.props, self.chain_ids()):
            chain_of[name] = ("a", c)  # a name both declare keeps this shape's place
        required = self.required | other.required
        props = []
        for name in names:
            a, b = self.nodes_for(name), other.nodes_for(name)
            if a is None or b is None:
                if name in required:
                    return None
                continue
            props.append((name, a + b))
        declared = string_set(names)
        extras = []
        for ka, na in self.extras:
            for kb, nb in other.extras:
                keys = ka.intersect(kb).difference(declared)
                if not keys.is_empty():
                    extras.append((keys, na + nb))
        lo = max(self.min_props, other.min_props)
        hi = min(x for x in (self.max_props, other.max_props, 1 << 60) if x is not None)
        for name in sorted(required - set(names)):
            # A required name neither shape declares: declare it, in a chain of its own.
            a, b = self.nodes_for(name), other.nodes_for(name)
            if a is None or b is None:
                return None
            props.append((name, a + b))
            chain_of[name] = ("r", name)
            extras = [(k.difference(literal(name)), n) for k, n in extras]
            extras = [(k, n) for k, n in extras if not k.is_empty()]
        if lo > hi or len(required) > hi:
            return None
        numbers: dict[tuple, int] = {}
        chains = tuple(numbers.setdefault(chain_of[name], len(numbers)) for name, _ in props)
        return ObjectShape(tuple(props), required, tuple(extras), lo, None if hi == 1 << 60 else hi,
                           chains if len(numbers) > 1 else ())


@dataclass(frozen=True)
class ObjectCases:
    """Objects matched by at least one branch (`exactly_one`: by exactly one), a branch
    matching when any of its shapes does. Emitted as one deterministic automaton over the
    members (`objects.py`), so branches that share keys need no LALR(1) decision. `site`
    names the keyword that made the cases, for errors."""

    branches: tuple[tuple[ObjectShape, ...], ...]
    exactly_one: bool = False
    site: tuple[str, str] = field(default=("anyOf", "#"), compare=False)

    def is_everything(self) -> bool:
        return False

    def shapes(self) -> tuple[ObjectShape, ...]:
        return tuple(s for branch in self.branches for s in branch)


def any_shapes(objects, site: tuple[str, str]) -> tuple[ObjectShape, ...]:
    """The shapes whose union `objects` (shapes or cases that need one branch, None skipped) is."""
    flat: list[ObjectShape] = []
    for s in objects:
        if isinstance(s, ObjectCases):
            if s.exactly_one:
                raise UnsupportedSchemaError(*site, "`oneOf` over objects combined with other object cases")
            flat += s.shapes()
        elif s is not None:
            flat.append(s)
    return _unique(flat)


def object_cases(objects, site: tuple[str, str]) -> tuple:
    """The objects of any of `objects` (see `any_shapes`) as a Language's `objects`: one
    shape alone, or one `ObjectCases`."""
    flat = any_shapes(objects, site)
    if len(flat) <= 1:
        return tuple(flat)
    return (ObjectCases((flat,), False, site),)


def intersect_objects(a, b, where: tuple[str, str]):
    """The objects of both `a` and `b` (shapes or cases), or None."""
    if isinstance(b, ObjectCases) and not isinstance(a, ObjectCases):
        a, b = b, a
    if not isinstance(a, ObjectCases):
        return b if a.is_everything() else a if b.is_everything() else a.intersect(b)
    if b.is_everything():
        return a
    if isinstance(b, ObjectCases):
        if a.exactly_one and b.exactly_one:
            raise UnsupportedSchemaError(*where, "two `oneOf`s over objects on one object")
        if b.exactly_one:
            a, b = b, a
        others = b.shapes()
    else:
        others = (b,)
    branches = tuple(tuple(x for x in (s.intersect(o) for s in branch for o in others) if x is not None)
                     for branch in a.branches)
    branches = tuple(br for br in branches if br)
    if not branches:
        return None
    if not a.exactly_one or len(branches) == 1:
        found = object_cases([s for br in branches for s in br], a.site)
        return found[0] if found else None
    return ObjectCases(branches, True, a.site)


@dataclass(frozen=True)
class ArrayShape:
    """Arrays: item i satisfies `prefix[i]` (then `items`; None: no more items), a length
    range, an optional `contains` count range, and `unique`: the pointer of a
    `uniqueItems: true` that applies (None: duplicates allowed)."""

    prefix: tuple[tuple[Node, ...], ...] = ()
    items: tuple[Node, ...] | None = ()
    min_items: int = 0
    max_items: int | None = None
    contains: tuple[Node, ...] | None = None
    min_contains: int = 1
    max_contains: int | None = None
    unique: str | None = None

    def is_everything(self) -> bool:
        return self == ArrayShape()

    def item_at(self, i: int) -> tuple[Node, ...] | None:
        return self.prefix[i] if i < len(self.prefix) else self.items

    def intersect(self, other: "ArrayShape", where: tuple[str, str]) -> "ArrayShape | None":
        if self.contains is not None and other.contains is not None and self.contains != other.contains:
            raise UnsupportedSchemaError(*where, "two different `contains` constraints on one array")
        n = max(len(self.prefix), len(other.prefix))
        prefix = []
        hi = min(x for x in (self.max_items, other.max_items, 1 << 60) if x is not None)
        for i in range(n):
            a, b = self.item_at(i), other.item_at(i)
            if a is None or b is None:
                hi = min(hi, i)
                break
            prefix.append(a + b)
        items = None if self.items is None or other.items is None else self.items + other.items
        if items is None:
            hi = min(hi, len(prefix))
        lo = max(self.min_items, other.min_items)
        if lo > hi:
            return None
        contains = self.contains if self.contains is not None else other.contains
        source = self if self.contains is not None else other
        return ArrayShape(tuple(prefix[:hi]), items, lo, None if hi == 1 << 60 else hi, contains,
                          source.min_contains, source.max_contains, self.unique or other.unique)


def _dfa_or(a: CharDFA | None, b: CharDFA | None) -> CharDFA | None:
    if a is None:
        return b
    if b is None:
        return a
    return a.union(b)


def _dfa_and(a: CharDFA | None, b: CharDFA | None) -> CharDFA | None:
    if a is None or b is None:
        return None
    out = a.intersect(b)
    return None if out.is_empty() else out


def _dfa_minus(a: CharDFA | None, b: CharDFA | None) -> CharDFA | None:
    if a is None or b is None:
        return a
    out = a.difference(b)
    return None if out.is_empty() else out


def _unique(shapes) -> tuple:
    out = []
    for s in shapes:
        if s is not None and s not in out:
            out.append(s)
    return tuple(out)


@dataclass(frozen=True)
class Language:
    """Allowed values per JSON type (None / empty tuple: that type is not allowed)."""

    null: bool = False
    true: bool = False
    false: bool = False
    number: CharDFA | None = None
    string: CharDFA | None = None
    objects: tuple[ObjectShape, ...] = ()
    arrays: tuple[ArrayShape, ...] = ()

    @staticmethod
    def everything() -> "Language":
        return Language(True, True, True, all_numbers(), all_strings(), (ObjectShape.everything(),), (ArrayShape(),))

    def is_empty(self) -> bool:
        return not (self.null or self.true or self.false or self.number or self.string or self.objects or self.arrays)

    def is_scalar(self) -> bool:
        return not self.objects and not self.arrays

    def union(self, other: "Language") -> "Language":
        objects = self.objects + other.objects
        if any(s.is_everything() for s in objects):
            objects = (ObjectShape.everything(),)
        arrays = self.arrays + other.arrays
        if any(s.is_everything() for s in arrays):
            arrays = (ArrayShape(),)
        return Language(self.null or other.null, self.true or other.true, self.false or other.false,
                        _dfa_or(self.number, other.number), _dfa_or(self.string, other.string),
                        _unique(objects), _unique(arrays))

    def intersect(self, other: "Language", where: tuple[str, str]) -> "Language":
        objects = []
        for a in self.objects:
            for b in other.objects:
                objects.append(intersect_objects(a, b, where))
        arrays = []
        for a in self.arrays:
            for b in other.arrays:
                arrays.append(b if a.is_everything() else a if b.is_everything() else a.intersect(b, where))
        return Language(self.null and other.null, self.true and other.true, self.false and other.false,
                        _dfa_and(self.number, other.number), _dfa_and(self.string, other.string),
                        _unique(objects), _unique(arrays))

    def minus_scalars(self, other: "Language") -> "Language":
        """Remove `other`'s scalar values (objects and arrays are left as they are)."""
        return replace(self, null=self.null and not other.null, true=self.true and not other.true,
                       false=self.false and not other.false, number=_dfa_minus(self.number, other.number),
                       string=_dfa_minus(self.string, other.string))

    def complement(self, where: tuple[str, str]) -> "Language":
        every = Language.everything()
        out = every.minus_scalars(self)
        objects = _complement_objects(self.objects, where)
        if self.arrays == ():
            arrays: tuple = (ArrayShape(),)
        elif any(a.is_everything() for a in self.arrays):
            arrays = ()
        else:
            raise UnsupportedSchemaError(*where, "the complement of an array constraint is not supported")
        return replace(out, objects=objects, arrays=arrays)


def _complement_objects(shapes: tuple[ObjectShape, ...], where: tuple[str, str]) -> tuple[ObjectShape, ...]:
    """Objects outside every shape, for the cases with an exact finite form."""
    if not shapes:
        return (ObjectShape.everything(),)
    if any(s.is_everything() for s in shapes):
        return ()
    if len(shapes) == 1 and isinstance(shapes[0], ObjectShape):
        s = shapes[0]
        names = {n for n, _ in s.props} | set(s.required)
        open_extras = len(s.extras) == 1 and not s.extras[0][1] and s.extras[0][0] == all_strings().difference(string_set(names))
        if len(names) == 1 and open_extras and s.min_props == 0 and s.max_props is None:
            (name,) = names
            nodes = s.nodes_for(name) or ()
            rest = ((all_strings().difference(literal(name)), ()),)
            out = []
            if nodes:  # present with a value outside the allowed ones
                out.append(ObjectShape(((name, (not_of(all_of(nodes)),)),), frozenset([name]), rest))
            if name in s.required:  # or absent
                out.append(ObjectShape((), frozenset(), rest))
            return tuple(out)
    raise UnsupportedSchemaError(*where, "the complement of this object constraint is not supported "
                                 "(only of constraints on a single property)")


def scalar_text(lang: Language) -> CharDFA | None:
    """One automaton over JSON text for every scalar value the language allows."""
    out: CharDFA | None = None
    parts = [literal("null") if lang.null else None, literal("true") if lang.true else None,
             literal("false") if lang.false else None, lang.number,
             json_string(lang.string) if lang.string is not None else None]
    for part in parts:
        if part is not None:
            out = part if out is None else out.union(part)
    return out
