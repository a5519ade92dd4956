"""Arrays with `uniqueItems: true`, where the items' values form a small finite set.

Owns the grammar rules for such arrays: each item's language is enumerated as a finite set
of scalar values (null, booleans, finitely many strings, finitely many numbers, each number
with all its spellings without exponent), and the rule's state is the set of values used so
far, so an item may only be a value not yet used. Item languages that are infinite, or hold
objects or arrays, or number spellings with an exponent, are unsupported.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from ..automata import CharDFA, from_regex, literal
from .language import ArrayShape, Language, Node, UnsupportedSchemaError, all_of, scalar_text
from .numbers import CANONICAL_NUMBER, decimal_spellings
from .strings import json_string

MAX_VALUES = 16  # distinct values an item may take
MAX_STATES = 1_024  # sets of used values one array rule may track


class RuleHost(Protocol):
    """What the emitter needs from the compiler: languages, terminals, new rules."""

    rules: dict[str, list[str]]

    def language(self, node: Node) -> Language: ...

    def terminal(self, dfa: CharDFA) -> str: ...

    def new_rule(self, prefix: str) -> str: ...


def finite_words(dfa: CharDFA, limit: int) -> list[str] | None:
    """Every string `dfa` accepts, or None when there are infinitely many or over `limit`."""
    live = dfa.live_states()
    if not live[0]:
        return []
    succ = {s: [(lo, hi, t) for lo, hi, t in row if live[t]] for s, row in enumerate(dfa.edges) if live[s]}
    indegree = dict.fromkeys(succ, 0)
    for row in succ.values():
        for _, _, t in row:
            indegree[t] += 1
    order = [s for s, d in indegree.items() if d == 0]
    for s in order:  # Kahn: a cycle among live states leaves some state out (infinitely many words)
        for _, _, t in succ[s]:
            indegree[t] -= 1
            if indegree[t] == 0:
                order.append(t)
    if len(order) < len(succ):
        return None
    count: dict[int, int] = {}
    for s in reversed(order):
        count[s] = min(limit + 1, int(dfa.accepting[s]) + sum((hi - lo + 1) * count[t] for lo, hi, t in succ[s]))
    if count[0] > limit:
        return None
    out, stack = [], [(0, "")]
    while stack:
        s, prefix = stack.pop()
        if dfa.accepting[s]:
            out.append(prefix)
        stack += [(t, prefix + chr(cp)) for lo, hi, t in succ[s] for cp in range(lo, hi + 1)]
    return out


def finite_values(lang: Language) -> dict[Any, CharDFA] | None:
    """The values of a scalar language as {value key: automaton over all its JSON texts},
    or None when they are not a small finite set of scalars spelled without exponents."""
    if lang.objects or lang.arrays:
        return None
    out: dict[Any, CharDFA] = {}
    for flag, word in ((lang.null, "null"), (lang.true, "true"), (lang.false, "false")):
        if flag:
            out[word] = literal(word)
    if lang.string is not None:
        words = finite_words(lang.string, MAX_VALUES)
        if words is None:
            return None
        for word in words:
            out["s", word] = json_string(literal(word))
    if lang.number is not None:
        canonical = lang.number.intersect(from_regex(CANONICAL_NUMBER)).difference(literal("-0"))
        words = finite_words(canonical, MAX_VALUES)
        if words is None:
            return None
        covered = CharDFA([[]], [False])
        for word in words:
            spellings = from_regex(decimal_spellings(Decimal(word)))
            out["n", Decimal(word)] = spellings
            covered = covered.union(spellings)
        if not lang.number.difference(covered).is_empty():
            return None  # a spelling with an exponent, or a value only spelled with trailing zeros
    return out if len(out) <= MAX_VALUES else None


def unique_array_rule(host: RuleHost, shape: ArrayShape, pointer: str) -> str | None:
    """A rule for exactly the arrays of `shape` whose items are pairwise distinct values."""
    def error(reason: str) -> UnsupportedSchemaError:
        return UnsupportedSchemaError("uniqueItems", pointer, reason)

    if shape.contains is not None:
        raise error("together with `contains`")
    hi = shape.max_items
    if shape.items is None:
        hi = len(shape.prefix) if hi is None else min(hi, len(shape.prefix))
    classes = [shape.prefix[i] for i in range(len(shape.prefix) if hi is None else min(hi, len(shape.prefix)))]
    if shape.items is not None and (hi is None or hi > len(shape.prefix)):
        classes.append(shape.items)
    items: list[dict[Any, str]] = []  # per position class: value key -> item terminal
    for nodes in classes:
        lang = host.language(all_of(nodes))
        values = finite_values(lang)
        if values is None:
            raise error("unique items are supported only where each item is one of at most "
                        f"{MAX_VALUES} scalar values (spelled without exponent)")
        text = scalar_text(lang)
        items.append({key: host.terminal(text.intersect(spellings)) for key, spellings in values.items()})
    made: dict[frozenset, str] = {}

    def rule(used: frozenset) -> str:
        if used in made:
            return made[used]
        if len(made) >= MAX_STATES:
            raise error(f"over {MAX_STATES} sets of used values")
        name = made[used] = host.new_rule("u")
        i = len(used)
        alts = []
        if hi is None or i < hi:
            sep = "COMMA " if i else ""
            for key, terminal in items[min(i, len(items) - 1)].items():
                if key not in used:
                    alts.append(f"{sep}{terminal} {rule(used | {key})}")
        if i >= max(shape.min_items, 1):
            alts.append("")
        host.rules[name] = alts or ["NEVER"]
        return name

    if not items:  # no item allowed at all
        return None if shape.min_items else _empty_array(host)
    out = host.new_rule("uarr")
    host.rules[out] = [f"LBRACK {rule(frozenset())} RBRACK"] + (["LBRACK EMPTY_RBRACK"] if shape.min_items == 0 else [])
    return out


def _empty_array(host: RuleHost) -> str:
    out = host.new_rule("uarr")
    host.rules[out] = ["LBRACK EMPTY_RBRACK"]
    return out
