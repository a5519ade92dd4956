"""The peer engines behind the `Engine` interface: XGrammar, llguidance, outlines-core.

Owns each peer's adapter and the engine registry (`ENGINES`, `make_engine`, `missing`;
`module:Class` names an engine defined elsewhere, e.g. in a test).
Peers are optional (`pip install .[peers]`): a peer that is not installed is reported by
`missing(name)`, never imported at module load. Every adapter is built from the same
`Tokenizer` as syncode: the Hugging Face tokenizer through the peer's own constructor when
there is one, else the token bytes syncode read (outlines-core, and the byte tokenizer).

Options, chosen so that each peer checks JSON Schema as specified (MaskBench's "compliant"
setting): XGrammar `strict_mode=False` (additional properties and items allowed unless the
schema forbids them), flexible whitespace, one compile thread, no compile cache; llguidance
its defaults (flexible whitespace); outlines-core its default whitespace pattern. Whatever
the peer raises while compiling is `Unsupported` (that is how each says it declines a
schema), with its message.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
from typing import Any

import numpy as np

from .engine import Engine, Matcher, SyncodeEngine, Tokenizer, Unsupported

PACKAGES = {"xgrammar": "xgrammar", "llguidance": "llguidance", "outlines-core": "outlines_core"}


def _version(distribution: str) -> str:
    return importlib.metadata.version(distribution)


class XGrammarMatcher:
    def __init__(self, compiled: Any, eos: int) -> None:
        import xgrammar

        self.matcher = xgrammar.GrammarMatcher(compiled)
        self.eos = eos
        self.reset = self.matcher.reset
        self.accept_token = self.matcher.accept_token

    def fill_mask(self, bitmask: np.ndarray) -> None:
        self.matcher.fill_next_token_bitmask(bitmask, 0)

    def is_accepting(self) -> bool:
        # XGrammar has no query for this: accept the stop token and roll it back.
        if not self.matcher.accept_token(self.eos):
            return False
        self.matcher.rollback(1)
        return True


class XGrammarEngine(Engine):
    name = "xgrammar"

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__(tokenizer)
        import xgrammar

        if tokenizer.hf is not None:
            info = xgrammar.TokenizerInfo.from_huggingface(tokenizer.hf, vocab_size=tokenizer.info.vocab_size,
                                                           stop_token_ids=[tokenizer.eos])
        else:
            vocab = [b or b"" for b in tokenizer.info.token_bytes]
            info = xgrammar.TokenizerInfo(vocab, xgrammar.VocabType.RAW, stop_token_ids=[tokenizer.eos])
        self.compiler = xgrammar.GrammarCompiler(info, max_threads=1, cache_enabled=False)

    def compile(self, schema: Any) -> Matcher:
        try:
            compiled = self.compiler.compile_json_schema(json.dumps(schema), strict_mode=False)
        except Exception as exc:
            raise Unsupported(f"{type(exc).__name__}: {exc}") from exc
        return XGrammarMatcher(compiled, self.tokenizer.eos)

    @staticmethod
    def version() -> str:
        return _version("xgrammar")


class LLGuidanceMatcher:
    def __init__(self, matcher: Any) -> None:
        self.matcher = matcher
        self.is_accepting = matcher.is_accepting

    def reset(self) -> None:
        self.matcher.reset()

    def fill_mask(self, bitmask: np.ndarray) -> None:
        row = bitmask[0]
        self.matcher.unsafe_compute_mask_ptr(row.ctypes.data, row.nbytes)

    def accept_token(self, token: int) -> bool:
        # consume_token of a token not allowed puts the matcher in a permanent error state;
        # validate first so that a rejection leaves it usable, as the interface requires.
        return self.matcher.validate_tokens([token]) == 1 and self.matcher.consume_token(token)


class LLGuidanceEngine(Engine):
    name = "llguidance"

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__(tokenizer)
        import llguidance

        if tokenizer.hf is not None:
            import llguidance.hf

            self.lltok = llguidance.hf.from_tokenizer(tokenizer.hf, n_vocab=tokenizer.info.vocab_size,
                                                      eos_token=tokenizer.eos)
        else:
            self.lltok = llguidance.LLTokenizer(llguidance.TokenizerWrapper(_ByteTokenizer(tokenizer)))

    def compile(self, schema: Any) -> Matcher:
        import llguidance

        try:
            grammar = llguidance.LLMatcher.grammar_from_json_schema(json.dumps(schema))
        except Exception as exc:
            raise Unsupported(f"{type(exc).__name__}: {exc}") from exc
        matcher = llguidance.LLMatcher(self.lltok, grammar, log_level=0)
        if matcher.is_error():
            raise Unsupported(matcher.get_error())
        return LLGuidanceMatcher(matcher)

    @staticmethod
    def version() -> str:
        return _version("llguidance")


class _ByteTokenizer:
    """What `llguidance.TokenizerWrapper` reads from a tokenizer, for the byte tokenizer."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.eos_token_id = tokenizer.eos
        self.bos_token_id = None
        self.tokens = [b or b"" for b in tokenizer.info.token_bytes]
        self.special_token_ids = [tokenizer.eos]
        self._encode = tokenizer.encode

    def __call__(self, text: str) -> list[int]:
        return self._encode(text)


class OutlinesCoreMatcher:
    def __init__(self, guide: Any) -> None:
        self.guide = guide
        self.reset = guide.reset
        self.is_accepting = guide.is_finished

    def fill_mask(self, bitmask: np.ndarray) -> None:
        row = bitmask[0]
        self.guide.write_mask_into(row.ctypes.data, row.size, 4)

    def accept_token(self, token: int) -> bool:
        try:
            self.guide.advance(token, return_tokens=False)
        except ValueError:  # "No next state found": the token is not allowed
            return False
        return True


class OutlinesCoreEngine(Engine):
    name = "outlines-core"

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__(tokenizer)
        import outlines_core

        by_bytes: dict[bytes, list[int]] = {}
        stops = set(int(t) for t in tokenizer.info.stop_token_ids)
        for token, data in enumerate(tokenizer.info.token_bytes):
            if data and token not in stops:  # special tokens (no bytes) are never allowed
                by_bytes.setdefault(data, []).append(token)
        self.vocabulary = outlines_core.Vocabulary(tokenizer.eos, by_bytes)

    def compile(self, schema: Any) -> Matcher:
        import outlines_core

        try:
            regex = outlines_core.json_schema.build_regex_from_schema(json.dumps(schema))
            index = outlines_core.Index(regex, self.vocabulary)
        except Exception as exc:
            raise Unsupported(f"{type(exc).__name__}: {exc}") from exc
        return OutlinesCoreMatcher(outlines_core.Guide(index))

    @staticmethod
    def version() -> str:
        return _version("outlines-core")


ENGINES: dict[str, type[Engine]] = {
    "syncode": SyncodeEngine,
    "xgrammar": XGrammarEngine,
    "llguidance": LLGuidanceEngine,
    "outlines-core": OutlinesCoreEngine,
}


def missing(name: str) -> str | None:
    """Why engine `name` cannot run here (not installed), or None when it can."""
    if ":" in name:
        return None
    package = PACKAGES.get(name)
    if package is not None and importlib.util.find_spec(package) is None:
        return f"{name} is not installed (pip install '.[peers]')"
    return None


def engine_class(name: str) -> type[Engine]:
    """A registered engine, or `module:Class` naming an `Engine` subclass elsewhere."""
    if ":" in name:
        module, _, attribute = name.partition(":")
        return getattr(importlib.import_module(module), attribute)
    return ENGINES[name]


def make_engine(name: str, tokenizer: Tokenizer) -> Engine:
    """The engine `name` (see `engine_class`) for `tokenizer`; raises RuntimeError when it is
    not installed."""
    reason = missing(name)
    if reason is not None:
        raise RuntimeError(reason)
    return engine_class(name)(tokenizer)
