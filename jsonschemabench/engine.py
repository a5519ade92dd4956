"""The engine interface every mode drives, and syncode behind it.

Owns the one way a mode talks to a constrained-decoding engine: a `Tokenizer` ("bytes", one
token per byte, or a Hugging Face tokenizer folder), the `Engine` interface
(`compile(schema) -> Matcher`; a matcher can `reset`, `fill_mask`, `accept_token` and say
`is_accepting`, i.e. whether EOS is allowed), its errors (`Unsupported`, `InvalidSchema`),
`SyncodeEngine` (the peers are in `peers`), `force` (an instance's token ids through a
matcher, checking at every step that the mask agrees with `accept_token`, optionally timing
each mask), `warm_up` (JIT and first-use work before anything is timed) and `time_limit`,
the timeout guard.
"""
from __future__ import annotations

import signal
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import numpy as np

import syncode

BYTES = "bytes"
WARM_UP_SCHEMA = {"type": "object", "properties": {"a": {"type": "array"}}}
WARM_UP_TEXT = '{"a": [1, "x", null, true, {}]}'


@dataclass
class Tokenizer:
    """A vocabulary: syncode's `info` (token bytes, stop ids), the Hugging Face tokenizer
    `hf` it came from (None for "bytes"), and the way instance text becomes token ids."""

    name: str
    info: syncode.TokenizerInfo
    encode: Callable[[str], list[int]]
    hf: Any = None
    path: str = BYTES

    @property
    def eos(self) -> int:
        return int(self.info.stop_token_ids[0])


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
    return Tokenizer(Path(path).name, info, lambda text: tok.encode(text, add_special_tokens=False), tok, str(path))


def load_tokenizer(spec: str) -> Tokenizer:
    """`bytes` or the path of a Hugging Face tokenizer folder."""
    return byte_tokenizer() if spec == BYTES else hf_tokenizer(spec)


class Unsupported(Exception):
    """The engine declined the schema (a keyword or feature it does not support). `keyword`
    and `pointer` say which and where when the engine tells."""

    def __init__(self, message: str, keyword: str = "", pointer: str = "") -> None:
        super().__init__(message)
        self.keyword, self.pointer = keyword, pointer


class InvalidSchema(Exception):
    """The schema itself is wrong (e.g. a `$ref` to nowhere)."""


class Matcher(Protocol):
    """One output tracked against a compiled schema."""

    def reset(self) -> None: ...
    def fill_mask(self, bitmask: np.ndarray) -> None: ...  # row 0 of an int32 (1, words) array
    def accept_token(self, token: int) -> bool: ...  # False (and no effect) when not allowed
    def is_accepting(self) -> bool: ...  # whether EOS is allowed now


class Engine:
    """A constrained-decoding engine for one tokenizer. `compile` raises `Unsupported` or
    `InvalidSchema` for a schema it will not take; anything else it raises is a crash."""

    name = "engine"

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.mask_words = tokenizer.info.bitmask_words

    def compile(self, schema: Any) -> Matcher:
        raise NotImplementedError

    @staticmethod
    def version() -> str:
        raise NotImplementedError


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


class SyncodeMatcher:
    """`syncode.GrammarMatcher` behind the `Matcher` interface."""

    def __init__(self, compiled: syncode.CompiledGrammar) -> None:
        self.matcher = syncode.GrammarMatcher(compiled)
        self.reset = self.matcher.reset
        self.accept_token = self.matcher.accept_token
        self.is_accepting = self.matcher.is_accepting

    def fill_mask(self, bitmask: np.ndarray) -> None:
        self.matcher.fill_next_token_bitmask(bitmask, 0)


class SyncodeEngine(Engine):
    """syncode: schema -> grammar -> `compile_grammar` (with its on-disk mask-store cache)."""

    name = "syncode"

    def compile(self, schema: Any) -> Matcher:
        from syncode.schema import InvalidSchemaError, UnsupportedSchemaError

        try:
            grammar = schema_grammar(schema)
        except UnsupportedSchemaError as exc:
            raise Unsupported(str(exc), exc.keyword, exc.pointer) from exc
        except InvalidSchemaError as exc:
            raise InvalidSchema(str(exc)) from exc
        try:
            return SyncodeMatcher(syncode.compile_grammar(grammar, self.tokenizer.info))
        except syncode.GrammarError as exc:  # a generated grammar over a size limit (lexer contexts)
            raise Unsupported(str(exc)) from exc

    @staticmethod
    def version() -> str:
        return syncode.__version__


def warm_up(engine: Engine) -> None:
    """Compile and force a small schema once, so that JIT compilation (Numba: tens of seconds
    on a fresh checkout) and first-use work happen before any case is timed."""
    tokenizer = engine.tokenizer
    force(engine.compile(WARM_UP_SCHEMA), tokenizer.encode(WARM_UP_TEXT), tokenizer.eos, engine.mask_words)


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


def force(matcher: Matcher, ids: list[int], eos: int, mask_words: int, time_masks: bool = False) -> Forced:
    """Force `ids` through `matcher` from its start (it is reset first), filling the mask
    before every token and once after the last (timing each fill when `time_masks`); raises
    `MaskDisagreement` when a mask and `accept_token`/`is_accepting` disagree."""
    matcher.reset()
    bitmask = np.zeros((1, mask_words), dtype=np.int32)
    seconds: list[float] = []

    def fill() -> None:
        bitmask[:] = 0
        start = time.perf_counter()
        matcher.fill_mask(bitmask)
        if time_masks:
            seconds.append(time.perf_counter() - start)

    for k, token in enumerate(ids):
        fill()
        allowed = is_allowed(bitmask[0], token)
        accepted = matcher.accept_token(token)
        if allowed != accepted:
            raise MaskDisagreement(f"token {k} ({token}): mask says "
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

    message = f"over the {seconds:g} s limit" if binding else "over the enclosing time limit"
    expired = False

    def expire(signum: int, frame: Any) -> None:
        nonlocal expired
        expired = True
        raise Timeout(message)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds if binding else outer_left)
    try:
        yield
    except Exception as exc:
        # Raised inside compiled code, the Timeout comes back as another exception (Numba:
        # "SystemError: ... returned a result with an exception set"): still the time limit.
        if expired and not isinstance(exc, Timeout):
            raise Timeout(message) from exc
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - start), 1e-3))
