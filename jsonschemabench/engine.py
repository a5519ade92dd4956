"""Driving syncode for the benchmarks: tokenizers, compiling a schema, forcing an instance.

Owns the one way every mode talks to the engine: a `Tokenizer` ("bytes", one token per
byte, or a Hugging Face tokenizer folder), `compile_schema` (schema in, compiled grammar
out, through `Grammar.from_json_schema` (`schema_grammar`) and `compile_grammar`), `force` (an instance's token
ids through a fresh `GrammarMatcher`, checking at every step that the mask agrees with
`accept_token`, optionally timing each mask), `first_mask` (time to first mask), `warm_up`
(JIT compilation before anything is timed) and `time_limit`, the timeout guard.
"""
from __future__ import annotations

import signal
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

import syncode

BYTES = "bytes"


@dataclass
class Tokenizer:
    """A vocabulary for compiling (`info`) and the way instance text becomes token ids."""

    name: str
    info: syncode.TokenizerInfo
    encode: Callable[[str], list[int]]


def byte_tokenizer() -> Tokenizer:
    """Every byte one token (ids 0-255), EOS 256: compiles are fast and forcing checks the
    grammar's language byte by byte."""
    info = syncode.TokenizerInfo([bytes([i]) for i in range(256)] + [None], stop_token_ids=[256])
    return Tokenizer(BYTES, info, lambda text: list(text.encode("utf-8")))


def hf_tokenizer(path: str | Path) -> Tokenizer:
    """A Hugging Face tokenizer folder; instances are encoded without special tokens."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    info = syncode.TokenizerInfo.from_huggingface(tok)
    return Tokenizer(Path(path).name, info, lambda text: tok.encode(text, add_special_tokens=False))


def load_tokenizer(spec: str) -> Tokenizer:
    """`bytes` or the path of a Hugging Face tokenizer folder."""
    return byte_tokenizer() if spec == BYTES else hf_tokenizer(spec)


def schema_grammar(schema: Any) -> syncode.Grammar:
    """The schema's grammar. The schema front-end's warnings (unknown keywords, which the
    validator ignores too; a schema that allows nothing) are dropped: the outcome is judged
    on the instances."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return syncode.Grammar.from_json_schema(schema)


def compile_schema(schema: Any, info: syncode.TokenizerInfo) -> syncode.CompiledGrammar:
    """The schema's grammar compiled for `info` (default on-disk mask-store cache)."""
    return syncode.compile_grammar(schema_grammar(schema), info)


def warm_up(tokenizer: Tokenizer) -> None:
    """Compile and force a small schema once, so that Numba's JIT compilation (tens of
    seconds on a fresh checkout) happens before any case is timed."""
    compiled = compile_schema({"type": "object", "properties": {"a": {"type": "array"}}}, tokenizer.info)
    force(compiled, tokenizer.encode('{"a": [1, "x", null, true, {}]}'))


def first_mask(compiled: syncode.CompiledGrammar) -> None:
    """Fill the first mask of a fresh matcher (the end of "time to first mask")."""
    info = compiled.tokenizer_info
    syncode.GrammarMatcher(compiled).fill_next_token_bitmask(np.zeros((1, info.bitmask_words), dtype=np.int32), 0)


class MaskDisagreement(AssertionError):
    """The mask and `accept_token` (or `is_accepting`) disagree: an engine bug."""


def is_allowed(row: np.ndarray, token: int) -> bool:
    """Whether `token` is set in one int32 bitmask row."""
    return bool((row.view(np.uint32)[token >> 5] >> np.uint32(token & 31)) & 1)


@dataclass
class Forced:
    """What forcing an instance did. `accepted`: every token was accepted and EOS is allowed
    after the last one. `consumed`: tokens accepted before the first rejected one."""

    accepted: bool
    consumed: int
    n_tokens: int
    mask_seconds: list[float] = field(default_factory=list)


def force(compiled: syncode.CompiledGrammar, ids: list[int], time_masks: bool = False) -> Forced:
    """Force `ids` through a fresh matcher, filling the mask before every token and once
    after the last (timing each fill when `time_masks`); raises `MaskDisagreement` when a
    mask and `accept_token`/`is_accepting` disagree."""
    info = compiled.tokenizer_info
    matcher = syncode.GrammarMatcher(compiled)
    bitmask = np.zeros((1, info.bitmask_words), dtype=np.int32)
    eos = int(info.stop_token_ids[0])
    seconds: list[float] = []

    def fill() -> None:
        start = time.perf_counter()
        matcher.fill_next_token_bitmask(bitmask, 0)
        if time_masks:
            seconds.append(time.perf_counter() - start)

    for k, token in enumerate(ids):
        fill()
        allowed = is_allowed(bitmask[0], token)
        accepted = matcher.accept_token(token)
        if allowed != accepted:
            raise MaskDisagreement(f"token {k} ({token}, {info.token_bytes[token]!r}): mask says "
                                   f"{'allowed' if allowed else 'not allowed'}, accept_token {accepted}")
        if not accepted:
            return Forced(False, k, len(ids), seconds)
    fill()
    eos_allowed = is_allowed(bitmask[0], eos)
    if eos_allowed != matcher.is_accepting():
        raise MaskDisagreement(f"after the last token: EOS in the mask is {eos_allowed}, "
                               f"is_accepting() {not eos_allowed}")
    return Forced(eos_allowed, len(ids), len(ids), seconds)


class Timeout(Exception):
    """A case ran past its time limit."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise `Timeout` in the block after `seconds` (None/0: no limit). Nests: an inner limit
    never extends an outer one. Uses SIGALRM, so it works in the main thread on POSIX and is
    a no-op elsewhere; compiled Numba code is interrupted when it returns to Python."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return
    outer_left = signal.getitimer(signal.ITIMER_REAL)[0]
    binding = not outer_left or seconds <= outer_left
    start = time.monotonic()

    def expire(signum: int, frame: Any) -> None:
        raise Timeout(f"over the {seconds:g} s limit" if binding else "over the enclosing time limit")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds if binding else outer_left)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - start), 1e-3))
