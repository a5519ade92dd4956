"""Lexer contexts: products of terminal DFAs reused across grammars by content give the same
contexts as products built fresh."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import syncode
from syncode import lexer
from syncode.lru import LRU
from syncode.parse_table import build_parse_tables
from syncode.terminals import regex_to_dfa

SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["a"]},
    {"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "integer"}}},
    {"type": "array", "items": {"enum": ["a", "b", 1]}},
]


def grammars():
    return [syncode.Grammar.builtin("json"), syncode.Grammar.builtin("sql"),
            *(syncode.Grammar.from_json_schema(s) for s in SCHEMAS)]


def contexts(grammar):
    return lexer.build_contexts(grammar, build_parse_tables(grammar))


def test_cached_products_give_the_contexts_fresh_ones_give(monkeypatch):
    fresh = []
    for grammar in grammars():  # each alone: nothing shared
        monkeypatch.setattr(lexer, "_PRODUCTS", LRU(budget=1 << 20, size=lexer._PRODUCTS.size))
        fresh.append(contexts(grammar))
    monkeypatch.setattr(lexer, "_PRODUCTS", LRU(budget=1 << 20, size=lexer._PRODUCTS.size))
    for grammar in grammars():  # fill the cache: the schemas share punctuation and values
        contexts(grammar)
    shared = lexer._PRODUCTS
    hits = 0
    get = shared.get

    def counting(key):
        nonlocal hits
        part = get(key)
        hits += part is not None
        return part

    shared.get = counting
    for grammar, expected in zip(grammars(), fresh):
        got = contexts(grammar)
        for field in dataclasses.fields(expected):
            a, b = getattr(got, field.name), getattr(expected, field.name)
            if isinstance(b, tuple):
                assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b)), field.name
            else:
                assert np.array_equal(a, b), field.name
    assert hits > 0


def test_digest_follows_content():
    a, b, c = regex_to_dfa("ab+", "A"), regex_to_dfa("ab+", "B"), regex_to_dfa("ab*", "C")
    assert a.digest == b.digest and a.digest != c.digest


def test_cache_keeps_to_its_state_budget():
    cache = LRU(budget=10, size=lexer._PRODUCTS.size)
    parts = [lexer._local_product([regex_to_dfa("x" * n, "X")], 1000) for n in (3, 4, 5)]  # 4, 5, 6 states
    for n, part in enumerate(parts):
        cache.put((n,), part)
    assert cache.used <= 10 and cache.get((2,)) is parts[2] and cache.get((0,)) is None


@pytest.mark.parametrize("limit", [0, 2])
def test_a_product_over_the_limit_is_none(limit):
    dfa = regex_to_dfa("abc", "A")
    assert lexer._product([0], [dfa], 0, limit) is None


def test_the_products_order_of_terminals_is_part_of_its_key():
    word, name = regex_to_dfa("ab", "WORD"), regex_to_dfa("a[a-z]", "NAME")  # both match "ab": rank decides
    for order in ([0, 1], [1, 0]):  # the second reuses the first's product only if the key ignores order
        trans, accept, _, _ = lexer._product(order, [word, name], 0, 1000)

        def lexed(text: bytes) -> int:
            state = 0
            for byte in text:
                state = trans[state, byte]
            return int(accept[state])

        assert lexed(b"ab") == order[0] and lexed(b"ac") == 1


def _sets_by_loop(c) -> list[tuple[int, ...]]:
    return [tuple(c.alive_terms[c.alive_ptr[s]:c.alive_ptr[s + 1]].tolist()) for s in range(len(c.accept))]


@pytest.mark.parametrize("index", range(len(SCHEMAS) + 2))
def test_alive_set_ids_number_equal_sets_equally(index, monkeypatch):
    from syncode import store

    c = contexts(grammars()[index])
    sets = _sets_by_loop(c)
    ids = store.alive_set_ids(c)
    pairs = set(zip(ids.tolist(), sets))
    assert len({i for i, _ in pairs}) == len(pairs) == len(set(sets))  # a bijection between ids and sets
    # a hash that collides everywhere still gives the exact numbering (the one-by-one path)
    monkeypatch.setattr(np.random, "default_rng", lambda seed: _Zeros())
    collided = store.alive_set_ids(c)
    assert len(set(zip(collided.tolist(), sets))) == len(set(sets)) == len(set(collided.tolist()))


class _Zeros:
    def integers(self, low, high, size, dtype):
        return np.zeros(size, dtype=dtype)
