"""Character automata: regexes compiled with exactly `re`'s semantics, and the set algebra."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncode import automata, terminals
from syncode.lru import LRU
from syncode.schema import strings

PATTERNS = [
    "(?:b*c)?", "a*", "(?:ab|a)*b", "x{2,4}", "(?:a|bc){0,3}d", "[^a-c]+", r"\d{1,3}(?:\.\d+)?",
    "(?i)abc", "(?:a*)*", "(?:a?b?)+c", "[a-z]*(?:-[a-z]+)*", "a{3}", "(?:ab){2,}", r"\w+@\w+",
    "é|ß", "(?:(?:a|b)*c)?d",
]
ALPHABET = "abcdx-@.é1ß9"


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=8))
def test_fullmatch_agrees_with_re(pattern, text):
    assert automata.from_regex(pattern).accepts(text) == (re.fullmatch(pattern, text) is not None)


@pytest.mark.parametrize("pattern", PATTERNS + ["^ab", "ab$", "^a$", "b\\Z", "^$"])
@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=ALPHABET + "\n", max_size=8))
def test_search_agrees_with_re(pattern, text):
    assert automata.from_regex(pattern, search=True).accepts(text) == (re.search(pattern, text) is not None)


def test_star_inside_optional_does_not_exit_mid_loop():
    # Regression: the loop of `b*` used to share its state with the surrounding `?`.
    dfa = automata.from_regex("(?:b*c)?")
    assert not dfa.accepts("b") and dfa.accepts("bbc") and dfa.accepts("")


@given(a=st.text(alphabet="ab", max_size=6))
def test_set_algebra(a):
    x, y = automata.from_regex("a*b*"), automata.from_regex("(?:ab)*")
    in_x, in_y = x.accepts(a), y.accepts(a)
    assert x.intersect(y).accepts(a) == (in_x and in_y)
    assert x.union(y).accepts(a) == (in_x or in_y)
    assert x.difference(y).accepts(a) == (in_x and not in_y)


def test_minimize_is_canonical():
    assert automata.from_regex("(?:a|b)*").minimize().key() == automata.from_regex("[ab]*").minimize().key()
    assert automata.from_regex("a+").intersect(automata.from_regex("b+")).is_empty()


@given(x=st.sampled_from(["a*b*", "(?:ab)*", "[a-c]+", "b?", "a|bc"]),
       y=st.sampled_from(["a*b*", "(?:ab)*", "[a-c]+", "b?", "a|bc"]))
def test_shared_results_are_the_results_computed_afresh(x, y):
    a, b = automata.from_regex(x), automata.from_regex(y)
    for mode, op in ((automata._AND, a.intersect), (automata._OR, a.union), (automata._AND_NOT, a.difference)):
        shared = op(b)
        fresh = automata._minimal(*automata._range_product(*automata._to_arrays(a), *automata._to_arrays(b), mode))
        assert shared.key() == fresh.key() and op(b).key() == shared.key()
    assert a.minimize() is a.minimize() and a.minimize().key() == automata._minimal(*automata._to_arrays(a)).key()


def test_shared_results_keep_to_their_budget():
    results = LRU(budget=2)
    for n in range(3):
        results.put((n,), automata.from_regex("a" * (n + 1)))
    assert len(results.entries) == 2 and results.get((0,)) is None and results.get((2,)).accepts("aaa")


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)", "(?<!a)b", r"\bword", "a*+"])
def test_non_regular_features_are_clear_errors(pattern):
    with pytest.raises(automata.UnsupportedPatternError):
        automata.from_regex(pattern)


# ---------------------------------------------------------------------- constructions
# Code points at and around every boundary the UTF-8 and `\uXXXX` constructions cut at.
EDGE_POINTS = [0, 0x1F, 0x20, 0x22, 0x5C, 0x7E, 0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFFFF,
               0x10000, 0x103FF, 0x10400, 0x1F600, 0x10FFFF]


@st.composite
def code_point_dfas(draw):
    """Random deterministic automata over code points, with range edges cut near boundaries."""
    n = draw(st.integers(1, 4))
    point = st.one_of(st.sampled_from(EDGE_POINTS), st.integers(0, 0x10FFFF))
    edges = []
    for _ in range(n):
        cuts = sorted(set(draw(st.lists(point, min_size=2, max_size=6))))
        row = [(cuts[i], cuts[i + 1] - 1, draw(st.integers(0, n - 1))) for i in range(0, len(cuts) - 1, 2)]
        edges.append(row)
    accepting = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return automata.CharDFA(edges, accepting)


def _text(draw, dfa, size=4):
    """A string that walks the automaton's edges (often accepted), or random code points."""
    chars, state = [], 0
    for _ in range(draw(st.integers(0, size))):
        row = dfa.edges[state] if state >= 0 else []
        if row and draw(st.booleans()):
            lo, hi, state = draw(st.sampled_from(row))
            chars.append(draw(st.sampled_from([lo, hi, (lo + hi) // 2])))
        else:
            cp = draw(st.sampled_from(EDGE_POINTS))
            chars.append(cp)
            state = dfa.step(state, cp) if state >= 0 else -1
    return "".join(map(chr, chars))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_code_point_dfa_to_bytes_is_exact(data):
    dfa = data.draw(code_point_dfas())
    try:
        byte_dfa = dfa.to_byte_dfa()
    except terminals.UnsupportedRegexError:  # nothing encodable is accepted
        byte_dfa = None
    for _ in range(10):
        text = _text(data.draw, dfa)
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            continue
        accepted = byte_dfa is not None and byte_dfa.matches(text.encode("utf-8"))
        assert accepted == dfa.accepts(text), ascii(text)
    raw = data.draw(st.binary(max_size=6))
    try:
        expected = dfa.accepts(raw.decode("utf-8"))
    except UnicodeDecodeError:
        expected = False  # invalid UTF-8 (overlong forms, surrogates, stray bytes) never matches
    assert (byte_dfa is not None and byte_dfa.matches(raw)) == expected


def test_equivalence_classes_merge_exactly_the_equivalent_states():
    # A counter: 1,000 distinct states (Moore's refinement needs 1,000 rounds), then two
    # copies of one tail that must merge; dead state 1,003 is equivalent to a missing edge.
    n = 1004
    trans = np.full((n, 2), -1, dtype=np.int32)
    trans[np.arange(999), 0] = np.arange(1, 1000)
    trans[999, :] = (1000, 1001)
    trans[1000, 0] = trans[1001, 0] = 1002
    trans[1002, 1] = 1003
    accepting = np.zeros(n, dtype=bool)
    accepting[1002] = True
    classes = terminals.equivalence_classes(trans, accepting)
    assert len(set(classes[:1000].tolist())) == 1000 and classes[0] == 0
    assert classes[1000] == classes[1001] != classes[999]
    assert classes[1003] not in classes[:1003]
    assert terminals.minimize(trans, accepting).n_states == 1003


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_json_string_spells_exactly_the_accepted_values(data):
    dfa = data.draw(code_point_dfas())
    text = strings.json_string(dfa)
    for _ in range(5):
        value = _text(data.draw, dfa)
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            continue
        upper_hex = re.sub(r"\\u[0-9a-f]{4}", lambda m: "\\u" + m[0][2:].upper(), json.dumps(value))
        for spelled in (json.dumps(value), json.dumps(value, ensure_ascii=False), upper_hex):
            assert text.accepts(spelled) == dfa.accepts(value), ascii(spelled)
    # Any text at all: accepted exactly when it is a JSON string whose value the content
    # accepts, with printable ASCII written as itself.
    raw = '"' + "".join(data.draw(st.lists(st.sampled_from(["a", "\\", "u", "0", "D", "8", "3", "d", "e", "\\n", "/",
                                                             "\\u00e9", "\\ud83d\\ude00", "\\u0041", "\x7f", "é"]),
                                            max_size=5))) + '"'
    try:
        value = json.loads(raw)
        expected = (isinstance(value, str) and dfa.accepts(value)
                    and not re.search(r"(?<!\\)(?:\\\\)*\\u00(?:[2-6][0-9a-fA-F]|7[0-9a-eA-E])", raw))
    except (json.JSONDecodeError, UnicodeError):
        expected = False
    if expected and any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        expected = False  # lone surrogates decode to no Unicode scalar value
    assert text.accepts(raw) == expected, ascii(raw)


def _spellings(cp: int) -> list[str]:
    """Every way json.dumps writes one character, and upper-case hex escapes."""
    value = chr(cp)
    out = {json.dumps(value), json.dumps(value, ensure_ascii=False)}
    out.add(re.sub(r"\\u[0-9a-f]{4}", lambda m: "\\u" + m[0][2:].upper(), json.dumps(value)))
    return sorted(out)


@pytest.mark.parametrize("cp", EDGE_POINTS)
def test_boundary_characters_are_spelled_exactly(cp):
    only = automata.char_set([(cp, cp)])
    others = automata.char_set(automata.complement_ranges([(cp, cp)]))
    only_text, others_text = strings.json_string(only), strings.json_string(others)
    only_bytes, others_bytes = only_text.to_byte_dfa(), others_text.to_byte_dfa()
    for near in (cp - 1, cp, cp + 1):
        if not 0 <= near <= 0x10FFFF or 0xD800 <= near <= 0xDFFF:
            continue
        for spelled in _spellings(near):
            assert only_text.accepts(spelled) == (near == cp) != others_text.accepts(spelled), ascii(spelled)
            encoded = spelled.encode("utf-8")
            assert only_bytes.matches(encoded) == (near == cp) != others_bytes.matches(encoded), ascii(spelled)


def test_distinct_columns_are_the_first_of_each_column_value():
    rng = np.random.default_rng(3)
    for _ in range(50):
        base = rng.integers(-1, 5, size=(int(rng.integers(1, 40)), int(rng.integers(1, 12))))
        table = base[:, rng.integers(0, base.shape[1], size=int(rng.integers(1, 60)))]  # repeated columns
        _, first = np.unique(table, axis=1, return_index=True)
        assert terminals._distinct_columns(table).tolist() == sorted(first.tolist())


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 12), st.integers(0, 4)), max_size=12))
def test_partition_splits_ranges_into_disjoint_pieces_with_their_targets(raw):
    edges = [(lo, lo + width, t) for lo, width, t in raw]
    pieces = automata._partition(edges)
    covered = {}
    for lo, hi, targets in pieces:
        for cp in range(lo, hi + 1):
            assert cp not in covered
            covered[cp] = targets
    for cp in range(0, 60):
        expected = frozenset(t for lo, hi, t in edges if lo <= cp <= hi)
        assert covered.get(cp, frozenset()) == expected
    assert all(a[1] + 1 < b[0] or a[2] != b[2] for a, b in zip(pieces, pieces[1:]))  # neighbours merged
