"""Token alignment (healing): back-off choice, the healed constraint, rollback, grammars."""
from __future__ import annotations

import random

import numpy as np
import pytest

import syncode
from syncode.healing import HealedMatcher, heal_prompt
from conftest import compiled, hf_tokenizer, token_index, tokenizer_info

STOP = 6


def allowed(m, info) -> set[int]:
    bm = np.zeros((1, info.bitmask_words), dtype=np.int32)
    m.fill_next_token_bitmask(bm, 0)
    return set(np.flatnonzero(np.unpackbits(bm[0].view(np.uint8), bitorder="little")[: info.vocab_size]).tolist())


def tiny(extra: tuple[bytes, ...] = ()) -> syncode.TokenizerInfo:
    return syncode.TokenizerInfo([b"r", b"re", b"ret", b"return", b"rev", b"x", None, *extra], stop_token_ids=[STOP])


def test_tiny_vocabulary_known_answers():
    info = tiny()
    # `r` would leave `e`, which no token of this vocabulary spells: blocked (sound).
    m = HealedMatcher(info, b"re")
    assert allowed(m, info) == {1, 2, 3, 4}
    info = tiny((b"e",))  # with `e` spelled, everything but `x` (and the stop token) is allowed
    m = HealedMatcher(info, b"re")
    assert allowed(m, info) == {0, 1, 2, 3, 4}
    assert not m.accept_token(5) and not m.accept_token(STOP) and not m.is_accepting()
    assert m.accept_token(0) and m.pending == b"e"
    assert allowed(m, info) == {7}
    m.rollback(1)
    assert m.pending == b"re" and allowed(m, info) == {0, 1, 2, 3, 4}
    assert m.accept_token(3) and m.pending == b"" and m.is_accepting()
    assert allowed(m, info) == {0, 1, 2, 3, 4, 5, STOP, 7}
    # Back-off: `x re` backs off the `re` token; a prompt ending in `x` is already clean.
    assert heal_prompt(info, [5, 1]) == syncode.healing.Healing([5], b"re", 1)
    assert heal_prompt(info, [1, 5]) == syncode.healing.Healing([1, 5], b"", 0)


def check_healing(info, prompt_ids: list[int], healing, m) -> set[int]:
    """The invariants of any healed first step; returns the allowed ids."""
    assert info.decode(healing.kept) + healing.healed == info.decode(prompt_ids)  # no dummy-prefix space
    ids = allowed(m, info)
    assert ids and not ids & set(info.stop_token_ids.tolist())
    for t in ids:
        b = info.token_bytes[t]
        assert b.startswith(healing.healed) or healing.healed.startswith(b), b
    return ids


@pytest.mark.parametrize("tokenizer", ["smollm2", "mistral7b"])
def test_prompt_ending_in_a_space(tokenizer):
    info = tokenizer_info(tokenizer)
    ids = hf_tokenizer(tokenizer).encode("x = ", add_special_tokens=False)
    healing = heal_prompt(info, ids)
    assert healing.removed >= 1 and healing.healed.endswith(b" ")
    ids_ok = check_healing(info, ids, healing, HealedMatcher(info, healing.healed))
    index = syncode.vocab_index.vocabulary_index(info)
    five = index.token_of(healing.healed + b"5") if len(healing.healed) == 1 else None
    if five is not None:
        assert five in ids_ok and index.token_of(b"5") not in ids_ok


def test_url_cut_at_http_colon():
    info = tokenizer_info("smollm2")
    ids = hf_tokenizer("smollm2").encode("See the docs at http:", add_special_tokens=False)
    healing = heal_prompt(info, ids)
    assert healing.healed.endswith(b":")
    m = HealedMatcher(info, healing.healed)
    ok = check_healing(info, ids, healing, m)
    index = syncode.vocab_index.vocabulary_index(info)
    spelled = [t for t in ok if info.token_bytes[t].startswith(healing.healed + b"//")]
    assert spelled or index.token_of(b"://") in ok


def test_json_prompt_cut_inside_a_key_grammar_text():
    c = compiled("json", "smollm2")
    info = c.tokenizer_info
    ids = hf_tokenizer("smollm2").encode('{"id": 1, "na', add_special_tokens=False)
    inner = syncode.GrammarMatcher(c)
    for t in ids:
        assert inner.accept_token(t)
    healing = heal_prompt(info, ids, inner, grammar_text=True)
    assert healing.removed >= 1 and healing.healed.endswith(b"na")
    assert inner.num_accepted_tokens == len(healing.kept)
    m = HealedMatcher(info, healing.healed, inner, grammar_text=True)
    ok = check_healing(info, ids, healing, m)
    assert syncode.vocab_index.vocabulary_index(info).token_of(b"name") in ok or any(
        info.token_bytes[t].endswith(b"name") for t in ok)
    for t in ok:  # every allowed token keeps the whole text in the grammar
        fresh = syncode.GrammarMatcher(c)
        assert fresh.accept_bytes(info.decode(healing.kept) + info.token_bytes[t])


def test_json_prompt_before_a_string_grammar():
    schema = syncode.Grammar.from_json_schema({"type": "string"})
    c = syncode.compile_grammar(schema, tokenizer_info("smollm2"), mask_cache_bytes=0)
    info = c.tokenizer_info
    index = syncode.vocab_index.vocabulary_index(info)
    ids = hf_tokenizer("smollm2").encode('{"name": ', add_special_tokens=False)
    healing = heal_prompt(info, ids, syncode.GrammarMatcher(c))
    assert healing.healed == b" "
    m = HealedMatcher(info, healing.healed, syncode.GrammarMatcher(c))
    ok = check_healing(info, ids, healing, m)
    assert index.token_of(b' "') in ok and index.token_of(b" 1") not in ok
    assert m.accept_token(index.token_of(b' "')) and m.pending == b""
    assert m.inner.accept_bytes(b'Al"') and m.is_accepting()


def test_partial_utf8_character():
    info = tokenizer_info("smollm2")
    ids = token_index("smollm2").random_tokenization("Un café".encode()[:-1], random.Random(0))
    healing = heal_prompt(info, ids)
    assert healing.healed.endswith(b"\xc3")
    m = HealedMatcher(info, healing.healed)
    ok = check_healing(info, ids, healing, m)
    completions = [info.token_bytes[t] for t in ok if len(info.token_bytes[t]) > len(healing.healed)]
    assert any(b.startswith(healing.healed + b"\xa9") for b in completions)


def test_rollback_over_healed_bytes_equals_fresh_replay():
    c = compiled("json", "smollm2")
    info = c.tokenizer_info
    rng = random.Random(11)
    index = token_index("smollm2")
    healed = b"ab c"  # prompt text: the grammar starts after it
    text = healed + ' ["€", 12, {"k": null}]'.encode()
    for trial in range(6):
        ids = index.random_tokenization(text, rng)
        m = HealedMatcher(info, healed, syncode.GrammarMatcher(c))
        history: list[int] = []
        for _ in range(60):
            if history and rng.random() < 0.3:
                n = rng.randint(1, len(history))
                m.rollback(n)
                del history[-n:]
            elif rng.random() < 0.2:
                draft = ids[len(history): len(history) + 4]
                assert m.validate_tokens(draft) == len(draft)
            elif len(history) < len(ids):
                assert m.accept_token(ids[len(history)]), info.decode(history + ids[len(history): len(history) + 1])
                history.append(ids[len(history)])
            fresh = HealedMatcher(info, healed, syncode.GrammarMatcher(c))
            for t in history:
                assert fresh.accept_token(t)
            assert m.pending == fresh.pending and allowed(m, info) == allowed(fresh, info)
            assert m.is_accepting() == fresh.is_accepting()
