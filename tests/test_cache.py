"""The on-disk mask store: reuse, corruption detection and rebuild, content-keyed names."""
from __future__ import annotations

import numpy as np
import pytest

import syncode
from conftest import tokenizer_info
from syncode.mask_store import forget_stores


def _compile(cache, info=None):
    """A compile that reads the disk cache (stores kept in memory by earlier compiles are forgotten)."""
    forget_stores()
    return syncode.compile_grammar(syncode.Grammar.builtin("json"), info or tokenizer_info("smollm2"), cache_dir=cache)


def test_second_compile_loads_and_masks_are_equal(tmp_path):
    a = _compile(tmp_path)
    assert a.stats.built > 0 and a.stats.loaded == 0
    b = _compile(tmp_path)
    assert b.stats.loaded == a.stats.built and b.stats.built == 0
    for x, y in zip(a.store_tables, b.store_tables):
        assert np.array_equal(x, y)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_corrupt_file_is_detected_and_rebuilt(tmp_path, damage):
    reference = _compile(tmp_path)
    files = sorted(tmp_path.glob("store-*.npz"))
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
    for x, y in zip(reference.store_tables, again.store_tables):
        assert np.array_equal(x, y)
    # The rebuilt file is valid again.
    third = _compile(tmp_path)
    assert third.stats.rebuilt == 0 and third.stats.built == 0


def test_cache_key_depends_on_vocabulary(tmp_path):
    _compile(tmp_path, syncode.TokenizerInfo([b"{", b"}", b'"', b"a", None], [4]))
    n = len(list(tmp_path.glob("store-*.npz")))
    _compile(tmp_path, syncode.TokenizerInfo([b"{", b"}", b'"', b"b", None], [4]))
    assert len(list(tmp_path.glob("store-*.npz"))) == 2 * n


def test_cache_env_override(tmp_path, monkeypatch):
    from syncode.mask_store import default_cache_dir

    monkeypatch.setenv("SYNCODE_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"


def test_stores_are_kept_in_memory_per_cache_folder(tmp_path):
    first = _compile(tmp_path)
    again = syncode.compile_grammar(syncode.Grammar.builtin("json"), tokenizer_info("smollm2"), cache_dir=tmp_path)
    assert again.stats.memory == first.stats.built and again.stats.loaded == again.stats.built == 0
    other = syncode.compile_grammar(syncode.Grammar.builtin("json"), tokenizer_info("smollm2"), cache_dir=tmp_path / "b")
    assert other.stats.built == first.stats.built  # another folder is filled, not skipped
    for x, y in zip(first.store_tables, again.store_tables):
        assert np.array_equal(x, y)
