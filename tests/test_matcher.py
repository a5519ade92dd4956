"""GrammarMatcher behaviour: rollback, validate_tokens, reset, termination, bitmask helpers."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import syncode
from syncode.bitmask import bitmask_to_ids
from conftest import compiled, hf_tokenizer, new_bitmask, token_index


def _mask(m: syncode.GrammarMatcher) -> np.ndarray:
    bm = new_bitmask(m.compiled.tokenizer_info)
    m.fill_next_token_bitmask(bm, 0)
    return bm[0].copy()


def test_random_accept_rollback_equals_fresh_replay():
    c = compiled("json", "qwen3")
    doc = '{"a": [1, 2, {"b": "xyz"}], "c": true, "d": "é"}'
    rng = random.Random(1)
    ids = token_index("qwen3").random_tokenization(doc.encode(), rng)
    m = syncode.GrammarMatcher(c)
    history: list[int] = []
    for _ in range(200):
        if history and rng.random() < 0.35:
            n = rng.randint(1, len(history))
            m.rollback(n)
            del history[-n:]
        elif len(history) < len(ids):
            assert m.accept_token(ids[len(history)])
            history.append(ids[len(history)])
        fresh = syncode.GrammarMatcher(c)
        for t in history:
            assert fresh.accept_token(t)
        assert np.array_equal(_mask(m), _mask(fresh))
        assert m.is_accepting() == fresh.is_accepting()


def test_validate_tokens_longest_prefix_state_unchanged():
    c = compiled("json", "smollm2")
    tok = hf_tokenizer("smollm2")
    m = syncode.GrammarMatcher(c)
    assert m.accept_token(tok.encode("[", add_special_tokens=False)[0])
    before = _mask(m)
    good = tok.encode("1, 2]", add_special_tokens=False)
    bad = tok.encode("1, 2]]", add_special_tokens=False)
    assert m.validate_tokens(good) == len(good)
    # Exactly the tokens whose bytes stay within the valid "1, 2]" are accepted.
    info = c.tokenizer_info
    valid_prefix = next(k for k in range(len(bad) + 1) if not b"1, 2]".startswith(info.decode(bad[:k + 1])))
    assert valid_prefix < len(bad) and m.validate_tokens(bad) == valid_prefix
    assert np.array_equal(before, _mask(m)) and m.num_accepted_tokens == 1


def test_rejected_token_leaves_state_unchanged_and_reset():
    c = compiled("json", "smollm2")
    tok = hf_tokenizer("smollm2")
    m = syncode.GrammarMatcher(c)
    start = _mask(m)
    (brace,) = tok.encode("{", add_special_tokens=False)
    (close,) = tok.encode("]", add_special_tokens=False)
    assert not m.accept_token(close)
    assert np.array_equal(start, _mask(m))
    assert m.accept_token(brace)
    m.reset()
    assert np.array_equal(start, _mask(m)) and m.num_accepted_tokens == 0


def test_eos_only_when_complete_and_terminated_allows_only_eos():
    c = compiled("json", "smollm2")
    info = c.tokenizer_info
    tok = hf_tokenizer("smollm2")
    eos = int(info.stop_token_ids[0])
    m = syncode.GrammarMatcher(c)
    for t in tok.encode('{"a": 1', add_special_tokens=False):
        assert m.accept_token(t)
    assert not m.is_accepting() and not m.accept_token(eos)
    assert m.accept_token(tok.encode("}", add_special_tokens=False)[0])
    assert m.is_accepting() and m.accept_token(eos) and m.is_terminated()
    assert bitmask_to_ids(_mask(m), info.vocab_size).tolist() == [eos]
    assert not m.accept_token(tok.encode(" ", add_special_tokens=False)[0])
    m.rollback(1)
    assert not m.is_terminated() and m.is_accepting()


def test_padded_vocab_never_allows_extra_ids():
    tok = hf_tokenizer("smollm2")
    info = syncode.TokenizerInfo.from_huggingface(tok, vocab_size=len(tok) + 100)
    c = syncode.compile_grammar(syncode.Grammar.builtin("json"), info)
    m = syncode.GrammarMatcher(c)
    for t in tok.encode('"x', add_special_tokens=False):
        assert m.accept_token(t)
    ids = bitmask_to_ids(_mask(m), info.vocab_size)
    assert ids.max() < len(tok) and not m.accept_token(len(tok) + 5)


def test_torch_bitmask_and_apply_inplace():
    c = compiled("json", "smollm2")
    info = c.tokenizer_info
    bm = syncode.allocate_token_bitmask(2, info.vocab_size)
    assert bm.dtype == torch.int32 and bm.shape == (2, (info.vocab_size + 31) // 32)
    matchers = [syncode.GrammarMatcher(c), syncode.GrammarMatcher(c)]
    assert matchers[1].accept_token(hf_tokenizer("smollm2").encode("[", add_special_tokens=False)[0])
    syncode.fill_next_token_bitmasks(matchers, bm)
    logits = torch.zeros(2, info.vocab_size + 7)
    syncode.apply_token_bitmask_inplace(logits, bm)
    for row in range(2):
        allowed = set(bitmask_to_ids(bm[row].numpy(), info.vocab_size).tolist())
        finite = set(torch.nonzero(torch.isfinite(logits[row])).flatten().tolist())
        assert finite == allowed and max(finite) < info.vocab_size


def test_bitmask_layout_matches_contract():
    info = syncode.TokenizerInfo([b"a", b"b"] * 20 + [None], stop_token_ids=[40])
    c = syncode.compile_grammar(syncode.Grammar.from_lark('start: "b"+'), info, cache_dir=None)
    bm = np.zeros((1, 2), dtype=np.int32)
    syncode.GrammarMatcher(c).fill_next_token_bitmask(bm, 0)
    expected = [t for t in range(41) if t < 40 and t % 2 == 1]
    for t in range(64):
        assert bool((bm[0, t >> 5] >> (t & 31)) & 1) == (t in expected)


def test_gpu_bitmask_is_refused_clearly():
    c = compiled("json", "smollm2")

    class FakeCuda:
        device = type("d", (), {"type": "cuda"})()

    with pytest.raises(ValueError, match="CPU bitmask"):
        syncode.GrammarMatcher(c).fill_next_token_bitmask(FakeCuda(), 0)


def test_mask_cache_returns_exactly_the_uncached_masks():
    tok = hf_tokenizer("qwen3")
    info = compiled("json", "qwen3").tokenizer_info
    cached = syncode.compile_grammar(syncode.Grammar.builtin("json"), info, mask_cache_bytes=8 << 20)
    plain = compiled("json", "qwen3")
    doc = '[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": [3, {"c": "z"}], "b": "w"}]'
    ids = tok.encode(doc, add_special_tokens=False)
    for _ in range(2):  # second pass: mostly cache hits
        m1, m2 = syncode.GrammarMatcher(cached), syncode.GrammarMatcher(plain)
        for t in ids:
            assert np.array_equal(_mask(m1), _mask(m2))
            assert m1.accept_token(t) and m2.accept_token(t)
    assert cached.mask_cache.hits > len(ids) // 2


def test_accept_bytes_splits_anywhere_and_rolls_back_as_one_step():
    c = compiled("json", "smollm2")
    m = syncode.GrammarMatcher(c)
    assert m.accept_bytes(b'{"k": "\xc3') and m.accept_bytes(b'\xa9"')  # split inside a UTF-8 character
    assert not m.accept_bytes(b"]") and m.num_accepted_tokens == 2
    assert m.accept_bytes(b"}") and m.is_accepting()
    m.rollback(1)
    assert not m.is_accepting() and m.accept_bytes(b', "n": null}') and m.is_accepting()
    assert m.accept_bytes(b"") and not m.accept_bytes(b"\xff")


@pytest.mark.parametrize("prefix", ['', '{"a": [1, ', '{"key": "va'])
def test_accepts_continuations_equals_accepting_each_token_alone(prefix):
    """The batched check (it skips tokens whose first byte is refused) against one
    accept_bytes per token, for whole tokens and for their bytes after the first."""
    c = compiled("json", "qwen3")
    info = c.tokenizer_info
    m = syncode.GrammarMatcher(c)
    assert m.accept_bytes(prefix.encode())
    tokens = np.array(random.Random(3).sample([t for t in range(info.n_tokens) if len(info.token_bytes[t] or b"") > 1], 3000))
    for skip in (0, 1):
        expected = []
        for t in tokens:
            ok = m.accept_bytes(info.token_bytes[t][skip:])
            expected.append(ok)
            if ok:
                m.rollback(1)
        got = m.accepts_continuations(tokens, skip=skip)
        assert got.tolist() == expected and 0 < sum(expected) < len(tokens)
