"""Matcher API for speculative decoding: masks along a draft, validate, rollback, forced bytes."""
from __future__ import annotations

import functools
import random

import numpy as np
import pytest

import syncode
from conftest import compiled, is_allowed, token_index, tokenizer_info

SCHEMA = {
    "type": "object",
    "properties": {"customerIdentifier": {"type": "integer"}, "orderDescription": {"type": "string"},
                   "tags": {"type": "array", "items": {"enum": ["urgent", "later"]}}},
    "required": ["customerIdentifier", "orderDescription", "tags"],
    "additionalProperties": False,
}
DOC = '{"customerIdentifier": 42, "orderDescription": "two é boxes", "tags": ["urgent"]}'


@functools.lru_cache(maxsize=None)
def schema_compiled(tokenizer: str) -> syncode.CompiledGrammar:
    return syncode.compile_grammar(syncode.Grammar.from_json_schema(SCHEMA), tokenizer_info(tokenizer),
                                   mask_cache_bytes=0)


def grammar_for(kind: str, tokenizer: str) -> syncode.CompiledGrammar:
    return compiled("json", tokenizer) if kind == "json" else schema_compiled(tokenizer)


def mask(m, info) -> np.ndarray:
    bm = np.zeros((1, info.bitmask_words), dtype=np.int32)
    m.fill_next_token_bitmask(bm, 0)
    return bm[0].copy()


def sequential_masks(c, prefix: list[int], draft: list[int]) -> list[np.ndarray]:
    """Masks after prefix + draft[:i] with a fresh matcher, until a draft token is refused."""
    m = syncode.GrammarMatcher(c)
    for t in prefix:
        assert m.accept_token(t)
    rows = [mask(m, c.tokenizer_info)]
    for t in draft:
        if not m.accept_token(t):
            break
        rows.append(mask(m, c.tokenizer_info))
    return rows


@pytest.mark.parametrize("tokenizer", ["smollm2", "mistral7b"])
@pytest.mark.parametrize("kind", ["json", "schema"])
def test_draft_masks_equal_sequential_masks(kind, tokenizer):
    c = grammar_for(kind, tokenizer)
    info = c.tokenizer_info
    rng = random.Random(7)
    ids = token_index(tokenizer).random_tokenization(DOC.encode(), rng)
    eos = int(info.stop_token_ids[0])
    bad = token_index(tokenizer).random_tokenization(b"}}", rng)[0]
    for trial in range(12):
        cut = rng.randint(0, len(ids) - 1)
        draft = ids[cut:cut + rng.randint(1, 8)]
        if trial % 3 == 1:  # an invalid token inside the draft
            draft = draft[: len(draft) // 2] + [bad] + draft[len(draft) // 2:]
        m = syncode.GrammarMatcher(c)
        for t in ids[:cut]:
            assert m.accept_token(t)
        before = mask(m, info)
        bm = np.zeros((len(draft) + 3, info.bitmask_words), dtype=np.int32)
        n = m.fill_next_token_bitmask_for_draft(draft, bm, start_row=2)
        expected = sequential_masks(c, ids[:cut], draft)
        assert n == len(expected) - 1 == m.validate_tokens(draft)
        for i, row in enumerate(expected):
            assert np.array_equal(bm[2 + i], row), f"row {i} of draft {draft}"
        assert not bm[0].any() and not bm[1].any()
        assert np.array_equal(mask(m, info), before) and m.num_accepted_tokens == cut
    # EOS inside a draft terminates: the row after it allows only stop tokens, nothing follows.
    m = syncode.GrammarMatcher(c)
    bm = np.zeros((len(ids) + 3, info.bitmask_words), dtype=np.int32)
    n = m.fill_next_token_bitmask_for_draft(ids + [eos, ids[0]], bm)
    assert n == len(ids) + 1
    allowed = np.flatnonzero(np.unpackbits(bm[n].view(np.uint8), bitorder="little"))
    assert allowed.tolist() == info.stop_token_ids.tolist()
    assert m.num_accepted_tokens == 0 and not m.is_terminated()


def test_random_accept_validate_draft_rollback_equal_fresh_replays():
    c = schema_compiled("smollm2")
    info = c.tokenizer_info
    rng = random.Random(3)
    index = token_index("smollm2")
    ids = index.random_tokenization(DOC.encode(), rng)
    eos = int(info.stop_token_ids[0])
    m = syncode.GrammarMatcher(c)
    history: list[int] = []
    bm = np.zeros((10, info.bitmask_words), dtype=np.int32)
    for _ in range(150):
        action = rng.random()
        nxt = ids[len(history):]
        if history and action < 0.3:
            n = rng.randint(1, len(history))
            m.rollback(n)
            del history[-n:]
        elif action < 0.5:
            draft = (nxt[: rng.randint(0, 6)] + [rng.choice([eos, nxt[0] if nxt else eos, ids[0]])])[:8]
            assert m.validate_tokens(draft) == m.fill_next_token_bitmask_for_draft(draft, bm)
        elif action < 0.6:
            forced = m.forced_bytes()
            assert forced == b"" or m.validate_tokens(index.random_tokenization(forced, rng)) > 0
        elif nxt:
            assert m.accept_token(nxt[0])
            history.append(nxt[0])
        elif not m.is_terminated():
            assert m.accept_token(eos)
            history.append(eos)
        fresh = syncode.GrammarMatcher(c)
        for t in history:
            assert fresh.accept_token(t)
        assert np.array_equal(mask(m, info), mask(fresh, info))
        assert (m.is_accepting(), m.is_terminated(), m.num_accepted_tokens) == (
            fresh.is_accepting(), fresh.is_terminated(), len(history))


def test_terminated_matcher_allows_only_stops_and_forces_nothing():
    c = compiled("json", "smollm2")
    info = c.tokenizer_info
    m = syncode.GrammarMatcher(c)
    for t in token_index("smollm2").random_tokenization(b"[1]", random.Random(0)):
        assert m.accept_token(t)
    assert m.accept_token(int(info.stop_token_ids[0])) and m.is_terminated()
    row = mask(m, info)
    assert np.flatnonzero(np.unpackbits(row.view(np.uint8), bitorder="little")).tolist() == info.stop_token_ids.tolist()
    assert m.forced_bytes() == b"" and m.forced_tokens() == []
    assert m.validate_tokens([int(info.stop_token_ids[0])]) == 0


def straddled(info, forced: bytes, p: int) -> bool:
    """Brute force: some vocabulary token starting in [0, p) covers position p and agrees with
    the forced bytes (or runs past them)."""
    for s in range(p):
        rest = forced[s:]
        for b in info.token_bytes:
            if b and len(b) > p - s and (b.startswith(rest) or rest.startswith(b)):
                return True
    return False


@pytest.mark.parametrize("tokenizer", ["smollm2", "mistral7b"])
def test_forced_bytes_and_canonical_safe_forced_tokens(tokenizer):
    c = schema_compiled(tokenizer)
    info = c.tokenizer_info
    m = syncode.GrammarMatcher(c)
    rng = random.Random(5)
    for t in token_index(tokenizer).random_tokenization(b'{"customerIdentifier": 42, "', rng):
        assert m.accept_token(t)
    forced = m.forced_bytes()
    assert forced == b'orderDescription":'
    # Every forced byte is the only byte any allowed token starts with.
    for k in range(len(forced)):
        allowed = [t for t in range(info.n_tokens) if is_allowed(mask(m, info), t)]
        assert {info.token_bytes[t][0] for t in allowed} == {forced[k]}
        assert m.accept_bytes(forced[k:k + 1])
    m.rollback(len(forced))
    tokens = m.forced_tokens()
    spelled = info.decode(tokens)
    assert forced.startswith(spelled) and m.validate_tokens(tokens) == len(tokens)
    ends = np.cumsum([len(info.token_bytes[t]) for t in tokens]).tolist()
    for p in ends:  # no token could have merged across a committed boundary
        assert not straddled(info, forced, p)


def test_forced_tokens_keep_a_prefix_that_a_longer_token_could_extend():
    # `order` is forced, then any identifier: `order` + `Id` may merge, so nothing is committed.
    g = syncode.Grammar.from_lark('start: "order" NAME\nNAME: /[A-Za-z]+/')
    c = syncode.compile_grammar(g, tokenizer_info("smollm2"), mask_cache_bytes=0)
    m = syncode.GrammarMatcher(c)
    assert m.forced_bytes() == b"order"
    assert m.forced_tokens() == []
    # With a separator that no token spans, the word is committed.
    g = syncode.Grammar.from_lark('start: "order\\n\\n\\n\\n" NAME\nNAME: /[A-Za-z]+/')
    c = syncode.compile_grammar(g, tokenizer_info("smollm2"), mask_cache_bytes=0)
    m = syncode.GrammarMatcher(c)
    assert m.forced_bytes() == b"order\n\n\n\n"
    assert [c.tokenizer_info.token_bytes[t] for t in m.forced_tokens()][:1] == [b"order"]
