"""The mask store's entries: lazy building, reuse across grammars, the disk cache's
corruption detection and rebuild, content-keyed names."""
from __future__ import annotations

import numpy as np
import pytest

import syncode
from conftest import new_bitmask, tokenizer_info
from syncode.mask_store import forget_stores, state_signature


def _compile(cache, info=None, eager=True):
    """A compile that reads the disk cache (entries kept in memory by earlier compiles are forgotten)."""
    forget_stores()
    return syncode.compile_grammar(syncode.Grammar.builtin("json"), info or tokenizer_info("smollm2"),
                                   cache_dir=cache, eager=eager)


def _same_store(a, b):
    assert len(a.store_tables) == len(b.store_tables)
    for x, y in zip(a.store_tables, b.store_tables):
        assert np.array_equal(x, y)


def test_second_compile_loads_and_masks_are_equal(tmp_path):
    a = _compile(tmp_path)
    n_states = len(a.contexts.accept)
    files = list(tmp_path.glob("state-*.npz"))
    # States equivalent across contexts share one entry (from memory after the first).
    assert a.stats.loaded == 0 and a.stats.built + a.stats.memory == n_states and files
    b = _compile(tmp_path)
    assert b.stats.loaded == len(files) and b.stats.built == a.stats.built - len(files)
    _same_store(a, b)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_corrupt_file_is_detected_and_rebuilt(tmp_path, damage):
    reference = _compile(tmp_path)
    files = sorted(tmp_path.glob("state-*.npz"))
    assert files
    victim = files[0]
    data = bytearray(victim.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 3]
    else:
        data = bytearray(b"not a numpy file at all")
    victim.write_bytes(bytes(data))
    with pytest.warns(syncode.CacheCorruptionWarning, match=victim.name):
        again = _compile(tmp_path)
    assert again.stats.rebuilt == 1
    _same_store(reference, again)
    # The rebuilt file is valid again.
    third = _compile(tmp_path)
    assert third.stats.rebuilt == 0 and third.stats.loaded == len(files)


def test_entry_key_depends_on_vocabulary_and_reachable_automaton():
    grammar = syncode.Grammar.builtin("json")
    a = syncode.TokenizerInfo([b"{", b"}", b'"', b"a", None], [4])
    b = syncode.TokenizerInfo([b"{", b"}", b'"', b"b", None], [4])
    compiled = syncode.compile_grammar(grammar, a, cache_dir=None)
    trans, accept, alive, _ = compiled.contexts.local_tables(0)
    keys = {state_signature(trans, accept, alive, q, a).key for q in range(trans.shape[0])}
    assert 1 < len(keys) <= trans.shape[0]  # equivalent states (product DFAs are not minimal) share keys
    assert state_signature(trans, accept, alive, 0, a).key == state_signature(trans, accept, alive, 0, a).key
    assert state_signature(trans, accept, alive, 0, a).key != state_signature(trans, accept, alive, 0, b).key


def test_cache_env_override(tmp_path, monkeypatch):
    from syncode.mask_store import default_cache_dir

    monkeypatch.setenv("SYNCODE_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"


def test_entries_are_kept_in_memory_per_cache_folder(tmp_path):
    first = _compile(tmp_path)
    again = syncode.compile_grammar(syncode.Grammar.builtin("json"), tokenizer_info("smollm2"), cache_dir=tmp_path,
                                    eager=True)
    assert again.stats.memory == len(first.contexts.accept) and again.stats.loaded == again.stats.built == 0
    other = syncode.compile_grammar(syncode.Grammar.builtin("json"), tokenizer_info("smollm2"),
                                    cache_dir=tmp_path / "b", eager=True)
    assert other.stats.built == first.stats.built  # another folder is filled, not skipped
    _same_store(first, again)


def test_lazy_store_builds_only_reached_states_and_masks_match_eager(tmp_path):
    info = tokenizer_info("smollm2")
    lazy = _compile(tmp_path, info, eager=False)
    eager = _compile(tmp_path, info, eager=True)
    assert 0 < lazy.store.n_built < len(lazy.contexts.accept) == eager.store.n_built
    text = '{"a": [1, 2.5e3, "x\\"y", true], "b": {"c": null}}'
    matchers = [syncode.GrammarMatcher(lazy), syncode.GrammarMatcher(eager)]
    # Byte by byte through the lazily built store and the eager one: identical masks.
    for byte in text.encode():
        masks = []
        for m in matchers:
            row = new_bitmask(info)
            m.fill_next_token_bitmask(row)
            masks.append(row)
            assert m.accept_bytes(bytes([byte]))
        assert np.array_equal(masks[0], masks[1])
    assert all(m.is_accepting() for m in matchers)
    assert lazy.store.n_built < len(lazy.contexts.accept)


def test_schemas_share_entries_of_common_states(tmp_path):
    """A second schema's string interior comes from memory, not from a new build."""
    forget_stores()
    info = tokenizer_info("smollm2")
    first = syncode.compile_grammar(syncode.Grammar.from_json_schema(
        {"type": "object", "properties": {"name": {"type": "string"}}}), info, cache_dir=tmp_path)
    second = syncode.compile_grammar(syncode.Grammar.from_json_schema(
        {"type": "object", "properties": {"title": {"type": "string"}, "n": {"type": "integer"}}}), info,
        cache_dir=tmp_path)
    for compiled, doc in ((first, '{"name": "ab"}'), (second, '{"title": "cd", "n": 3}')):
        m = syncode.GrammarMatcher(compiled)
        for byte in doc.encode():
            m.fill_next_token_bitmask(new_bitmask(info))
            assert m.accept_bytes(bytes([byte]))
        assert m.is_accepting()
    assert second.stats.memory > 0
