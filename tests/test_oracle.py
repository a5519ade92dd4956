"""Exactness of the masks against an independent reference (tests/reference.py) and Lark.

complete: every valid document, tokenized canonically or at random, is accepted token by
token with EOS at the end. sound: every prefix the engine allows is viable, checked by
brute force on whole masks over a small vocabulary and on samples of real vocabularies,
and random walks through the masks only ever end in sentences Lark accepts.
"""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import syncode
from syncode.bitmask import bitmask_to_ids
from conftest import TOKENIZERS, compiled, force, hf_tokenizer, is_allowed, new_bitmask, token_index
from reference import Reference, lark_parser

JSON_DOCS = [
    '{"name": "Alice", "age": 30, "tags": ["a", "b"], "ok": true, "none": null}',
    '[1, -2.5, 3e10, 0.0, -0, 1E-7, 12345678901234567890]',
    '"just a string with \\"escapes\\" \\\\ \\/ \\b\\f\\n\\r\\t and \\u00e9 \\uD83D\\uDE00"',
    '""',
    "0",
    "-12.5e+3",
    "true",
    "null",
    '{"a": {"b": {"c": [[], {}, [{}], ""]}}}',
    '{\n  "key": "value",\n  "list": [\n    1,\n    2\n  ]\n}',
    '{"unicode": "héllo wörld 漢字 😀", "empty": "", "nested": [{"x": 1}, {"y": [true, false]}]}',
    '[{"id":1,"v":"x"},{"id":2,"v":"y"}]',
    '  {"spaces" :  [ 1 ,2 ]  }  ',
]
CALC_DOCS = ["1 + 2 * 3", "-(x - 4.5) / y % 2", "f(1, 2, g(x)) ** 2 ** 3", "a", "((1))", "1e5 - .5 * 3.", "max(a, b) - -c"]
SQL_DOCS = [
    "SELECT count(*) FROM singer",
    "SELECT name, age FROM singer WHERE age > 20 ORDER BY age DESC LIMIT 3",
    "SELECT T2.name FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id GROUP BY T1.stadium_id HAVING count(*) > 1",
    "select name from singer where singer_id not in (select singer_id from singer_in_concert);",
    "SELECT country FROM singer WHERE age > 40 INTERSECT SELECT country FROM singer WHERE age < 30",
]
DOCS = {"json": JSON_DOCS, "calc": CALC_DOCS, "sql": SQL_DOCS}
GRAMMARS = ["json", "calc", "sql"]
BIG_VOCABS = ("qwen3", "llama3")


def grammar_tokenizer_pairs(tokenizers=TOKENIZERS):
    """Every (grammar, tokenizer); sql with the 128k+ vocabularies is marked slow (its store
    build takes about a minute each), the rest run by default."""
    return [
        pytest.param(g, t, marks=pytest.mark.slow) if g == "sql" and t in BIG_VOCABS else (g, t)
        for g in GRAMMARS for t in tokenizers
    ]


def _grammar_or_skip(name: str) -> syncode.Grammar:
    try:
        return syncode.Grammar.builtin(name)
    except syncode.GrammarError as exc:
        pytest.fail(f"built-in grammar {name} does not load: {exc}")


@pytest.mark.parametrize("grammar", GRAMMARS)
def test_documents_are_sentences_of_lark(grammar):
    g = _grammar_or_skip(grammar)
    ref = Reference(g)
    for doc in DOCS[grammar]:
        lark_parser(g).parse(doc)  # Lark itself accepts every test document
        assert ref.accepts(doc.encode()), doc


@pytest.mark.parametrize("grammar,tokenizer", grammar_tokenizer_pairs())
def test_complete_canonical_and_random_tokenizations(grammar, tokenizer):
    c = compiled(grammar, tokenizer)
    tok = hf_tokenizer(tokenizer)
    index = token_index(tokenizer)
    rng = random.Random(7)
    for doc in DOCS[grammar]:
        ids = tok.encode(doc, add_special_tokens=False)
        text = c.tokenizer_info.decode(ids)
        lark_parser(c.grammar).parse(text.decode())
        assert force(c, ids) == (len(ids), True), (doc, ids)
        for _ in range(3):
            ids = index.random_tokenization(doc.encode(), rng)
            assert force(c, ids) == (len(ids), True), (doc, ids)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans(),
       tokenizer=st.sampled_from(TOKENIZERS), seed=st.integers(0, 1000))
def test_complete_generated_json(value, indent, ascii_only, tokenizer, seed):
    doc = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    c = compiled("json", tokenizer)
    ids = hf_tokenizer(tokenizer).encode(doc, add_special_tokens=False)
    # Some tokenizers cannot spell every byte (smollm2 has no token for 0xF1): only documents
    # the tokenization really spells are forced.
    if c.tokenizer_info.decode(ids).strip() == doc.encode():
        assert force(c, ids) == (len(ids), True)
    try:
        ids = token_index(tokenizer).random_tokenization(doc.encode(), random.Random(seed))
    except ValueError:
        return
    assert force(c, ids) == (len(ids), True)


def _corruptions(doc: str, rng: random.Random) -> list[str]:
    out = []
    for _ in range(6):
        i = rng.randrange(len(doc) + 1)
        kind = rng.randrange(3)
        if kind == 0 and len(doc) > 1:
            out.append(doc[:i] + doc[i + 1:])
        elif kind == 1:
            out.append(doc[:i] + rng.choice(['"', "}", "]", ",", ":", "x", "0", " ", "\\", "(", ")", "*", "'"]) + doc[i:])
        else:
            out.append(doc[:i])
    return out


@pytest.mark.parametrize("grammar,tokenizer", grammar_tokenizer_pairs(["qwen3", "mistral7b"]))
def test_corruptions_rejected_exactly_where_the_reference_says(grammar, tokenizer):
    """Invalid documents: the engine stops at the first token whose prefix is not viable,
    and never allows EOS after a document that is not a sentence."""
    c = compiled(grammar, tokenizer)
    ref = Reference(c.grammar)
    info = c.tokenizer_info
    rng = random.Random(11)
    tok = hf_tokenizer(tokenizer)
    for doc in DOCS[grammar]:
        for bad in _corruptions(doc, rng):
            ids = tok.encode(bad, add_special_tokens=False)
            n, eos = force(c, ids)
            data = info.decode(ids)
            if n < len(ids):
                assert ref.viable(info.decode(ids[:n])) and not ref.viable(info.decode(ids[: n + 1])), bad
            else:
                assert ref.viable(data), bad
                assert eos == ref.accepts(data), bad


SMALL_VOCAB = [
    "{", "}", "[", "]", ",", ":", '"', " ", "\n", "  ", "\n  ", "a", "b", "x", "ab", "e", "E", "0", "1", "9", "10", "-", "+",
    ".", ".5", "1.", "e+", "t", "tr", "true", "rue", "ue", "f", "false", "n", "null", "ul", "\\", '\\"', "\\u", "00", "u00",
    "e9", '"}', '"]', '",', '":', '": ', '", "', '"},{"', "]}", "}]", "},", "],", "1,", "0]", '{"', '["', "[{", '":"', ' "',
    ", ", "\t", "é", "😀", "(", ")", "*", "/", "%", "**", "x1", "_", "1e5", "a(", "SELECT", "select ", " FROM", "*", " ",
    "WHERE", "count", "(*)", " AS", "T1", ".", "=", " = ", "'", "'a'", ";", "'%a%'", " in ", "not",
]


def _small_info() -> syncode.TokenizerInfo:
    pieces = [s.encode() for s in dict.fromkeys(SMALL_VOCAB + [chr(c) for c in range(32, 127)])]
    pieces += [b"\xc3", b"\xa9", b"\xf0\x9f", b"\x98\x80"]  # split UTF-8 characters
    return syncode.TokenizerInfo(pieces + [None], stop_token_ids=[len(pieces)], vocab_size=len(pieces) + 5)


@pytest.mark.parametrize("grammar", GRAMMARS)
def test_whole_masks_equal_brute_force_on_small_vocabulary(grammar, tmp_path):
    info = _small_info()
    c = syncode.compile_grammar(_grammar_or_skip(grammar), info, cache_dir=tmp_path)
    ref = Reference(c.grammar)
    index = type(token_index("smollm2"))(info)
    rng = random.Random(3)
    bm = new_bitmask(info)
    eos = int(info.stop_token_ids[0])
    checked = 0
    for doc in DOCS[grammar]:
        try:
            ids = index.random_tokenization(doc.encode(), rng)
        except ValueError:
            continue
        m = syncode.GrammarMatcher(c)
        # Every step of short documents; a sample of steps of long ones (the reference is slow).
        steps = set(range(len(ids) + 1)) if len(ids) <= 25 else set(rng.sample(range(len(ids) + 1), 12))
        for step in range(len(ids) + 1):
            if step not in steps:
                if step < len(ids):
                    assert m.accept_token(ids[step])
                continue
            prefix = info.decode(ids[:step])
            m.fill_next_token_bitmask(bm, 0)
            for t in range(info.vocab_size):
                expected = t < info.n_tokens and info.token_bytes[t] is not None and ref.viable(prefix + info.token_bytes[t])
                if t == eos:
                    expected = ref.accepts(prefix)
                assert is_allowed(bm[0], t) == expected, (prefix, t, info.token_bytes[t] if t < info.n_tokens else None)
            checked += 1
            if step < len(ids):
                assert m.accept_token(ids[step])
    assert checked > 20


@pytest.mark.parametrize("grammar,tokenizer", grammar_tokenizer_pairs())
def test_sampled_masks_of_real_vocabularies_match_reference(grammar, tokenizer):
    c = compiled(grammar, tokenizer)
    info = c.tokenizer_info
    ref = Reference(c.grammar)
    tok = hf_tokenizer(tokenizer)
    rng = random.Random(5)
    bm = new_bitmask(info)
    for doc in DOCS[grammar][:4]:
        ids = tok.encode(doc, add_special_tokens=False)
        steps = sorted(rng.sample(range(len(ids) + 1), min(3, len(ids) + 1)))
        m = syncode.GrammarMatcher(c)
        done = 0
        for step in steps:
            for t in ids[done:step]:
                assert m.accept_token(t)
            done = step
            prefix = info.decode(ids[:step])
            m.fill_next_token_bitmask(bm, 0)
            allowed = bitmask_to_ids(bm[0], info.n_tokens).tolist()
            sample = rng.sample(range(info.n_tokens), 120) + rng.sample(allowed, min(60, len(allowed)))
            for t in sample:
                b = info.token_bytes[t]
                expected = ref.accepts(prefix) if t in info.stop_token_ids else (b is not None and ref.viable(prefix + b))
                assert is_allowed(bm[0], t) == expected, (prefix, t, b)


@pytest.mark.parametrize("tokenizer", ["smollm2", "mistral7b"])
@pytest.mark.parametrize("grammar", GRAMMARS)
def test_random_walks_end_in_lark_sentences(grammar, tokenizer):
    """Sample tokens from the masks (preferring EOS and short tokens once the walk is long):
    a walk never reaches an empty mask, and every finished output is accepted by Lark."""
    c = compiled(grammar, tokenizer)
    info = c.tokenizer_info
    rng = random.Random(13)
    bm = new_bitmask(info)
    eos = int(info.stop_token_ids[0])
    finished = 0
    for walk in range(12):
        m = syncode.GrammarMatcher(c)
        out: list[int] = []
        for step in range(400):
            m.fill_next_token_bitmask(bm, 0)
            allowed = bitmask_to_ids(bm[0], info.vocab_size).tolist()
            assert allowed, f"dead end after {info.decode(out)!r}"
            if eos in allowed and (step > 15 or rng.random() < 0.2):
                assert m.accept_token(eos)
                break
            if step > 15:
                short = [t for t in allowed if t != eos and len(info.token_bytes[t]) <= 2 and info.token_bytes[t].strip()]
                allowed = short or allowed
            t = rng.choice(allowed)
            assert m.accept_token(t)
            if t == eos:
                break
            out.append(t)
        if m.is_terminated():
            finished += 1
            lark_parser(c.grammar).parse(info.decode(out).decode("utf-8"))
    assert finished >= 4
