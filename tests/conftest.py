"""Shared fixtures: the real tokenizers from ../shared, compiled built-in grammars, helpers."""
from __future__ import annotations

import functools
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# No per-example deadline: the first call of a Numba kernel compiles it (seconds on a clean
# checkout), and speed is measured by benchmarks, not by tests.
settings.register_profile("syncode", deadline=None)
settings.load_profile("syncode")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import syncode  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
TOKENIZERS = ("smollm2", "qwen3", "llama3", "mistral7b")
PAD_COLUMNS = 64  # tiny_model's logits are this much wider than its tokenizer
EOS = 2  # smollm2's <|im_end|>: the tokenizer's EOS and pad


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared data folder ../shared is needed beside the repo")
    return path


@functools.lru_cache(maxsize=None)
def hf_tokenizer(name: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(shared_path("tokenizers", name)))


@functools.lru_cache(maxsize=None)
def tokenizer_info(name: str) -> syncode.TokenizerInfo:
    return syncode.TokenizerInfo.from_huggingface(hf_tokenizer(name))


@functools.lru_cache(maxsize=None)
def compiled(grammar: str, tokenizer: str) -> syncode.CompiledGrammar:
    """Compiled with the mask cache off, so every mask in the tests comes from the kernels."""
    return syncode.compile_grammar(syncode.Grammar.builtin(grammar), tokenizer_info(tokenizer), mask_cache_bytes=0)


def is_allowed(bitmask_row: np.ndarray, token: int) -> bool:
    return bool((np.asarray(bitmask_row).view(np.uint32)[token >> 5] >> np.uint32(token & 31)) & 1)


def new_bitmask(info: syncode.TokenizerInfo) -> np.ndarray:
    return np.zeros((1, info.bitmask_words), dtype=np.int32)


class TokenIndex:
    """Which token ids spell which bytes, for random (non-canonical) tokenizations."""

    def __init__(self, info: syncode.TokenizerInfo) -> None:
        self.info = info
        self.by_bytes: dict[bytes, list[int]] = {}
        for t, b in enumerate(info.token_bytes):
            if b:
                self.by_bytes.setdefault(b, []).append(t)
        self.max_len = max(len(b) for b in self.by_bytes)

    def random_tokenization(self, data: bytes, rng: random.Random) -> list[int]:
        out, i = [], 0
        while i < len(data):
            options = [data[i:j] for j in range(i + 1, min(len(data), i + self.max_len) + 1) if data[i:j] in self.by_bytes]
            if not options:
                raise ValueError(f"no token spells {data[i:i + 1]!r}")
            piece = rng.choice(options)
            out.append(rng.choice(self.by_bytes[piece]))
            i += len(piece)
        return out


@functools.lru_cache(maxsize=None)
def token_index(name: str) -> TokenIndex:
    return TokenIndex(tokenizer_info(name))


def force(c: syncode.CompiledGrammar, ids: list[int]) -> tuple[int, bool]:
    """Force ids through a fresh matcher checking each step's mask agrees with accept_token.

    Returns (number of tokens accepted, EOS allowed at the end of what was accepted)."""
    m = syncode.GrammarMatcher(c)
    info = c.tokenizer_info
    bm = new_bitmask(info)
    for k, t in enumerate(ids):
        m.fill_next_token_bitmask(bm, 0)
        allowed = is_allowed(bm[0], t)
        accepted = m.accept_token(t)
        assert allowed == accepted, f"mask and accept_token disagree on token {k} ({t}, {info.token_bytes[t]!r})"
        if not accepted:
            return k, False
    m.fill_next_token_bitmask(bm, 0)
    eos = is_allowed(bm[0], int(info.stop_token_ids[0]))
    assert eos == m.is_accepting()
    return len(ids), eos


@functools.lru_cache(maxsize=None)
def tiny_model(seed: int = 0):
    """(model, tokenizer, info): a randomly initialised one-layer Llama, 64 padded logit columns
    (another seed: another model over the same vocabulary, e.g. a drafter)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = hf_tokenizer("smollm2")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok) + PAD_COLUMNS, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, bos_token_id=1, eos_token_id=EOS, pad_token_id=EOS,
    )
    model = LlamaForCausalLM(config).eval()
    info = syncode.TokenizerInfo.from_huggingface(tok, vocab_size=config.vocab_size)
    return model, tok, info
