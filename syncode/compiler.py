"""Compiling a grammar for a tokenizer: `compile_grammar(grammar, info) -> CompiledGrammar`.

Owns assembling the pieces: LALR tables, lexer contexts, and the mask store
(`store.GrammarStore`: an entry per lexer state, built or loaded when decoding first reaches
the state, or all at once with `eager=True`), into the arrays the matcher's kernels read.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .gcpause import gc_paused
from .grammar import Grammar
from .kernels import new_workspace
from .lexer import LexerContexts, build_contexts
from .mask_store import default_cache_dir
from .parse_table import ParseTables, build_parse_tables
from .store import GrammarStore
from .tokenizer_info import TokenizerInfo


@dataclass
class CompileStats:
    """What a compile did: how many mask-store entries (one per lexer state) came from this
    process's memory, were loaded from disk, built or rebuilt, and how long the compile took.
    The counts keep growing as decoding reaches new lexer states."""

    seconds: float = 0.0
    memory: int = 0
    loaded: int = 0
    built: int = 0
    rebuilt: int = 0


class MaskCache:
    """Masks already computed, keyed by exactly what a mask depends on: the lexer state, its register and
    the parser stack's full contents. Shared by every matcher of a compiled grammar; least
    recently used entries go first once `max_bytes` is reached (0 disables the cache)."""

    def __init__(self, max_bytes: int, row_bytes: int = 1) -> None:
        self.capacity = max_bytes // max(row_bytes, 1)
        self.entries: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> np.ndarray | None:
        with self.lock:
            row = self.entries.get(key)
            if row is None:
                self.misses += 1
                return None
            self.entries.move_to_end(key)
            self.hits += 1
            return row

    def put(self, key: tuple, row: np.ndarray) -> None:
        if self.capacity <= 0:
            return
        with self.lock:
            self.entries[key] = row.copy()
            if len(self.entries) > self.capacity:
                self.entries.popitem(last=False)


@dataclass
class CompiledGrammar:
    """A grammar ready for matching with one tokenizer."""

    grammar: Grammar
    tokenizer_info: TokenizerInfo
    tables: ParseTables
    contexts: LexerContexts
    cache_dir: Path | None
    stats: CompileStats = field(default_factory=CompileStats)

    def __post_init__(self) -> None:
        t, c = self.tables, self.contexts
        self.kernel_tables = (  # the `G` tuple of kernels.py
            t.action, t.goto, np.stack([t.rule_len, t.rule_lhs], axis=1),
            c.trans, c.accept, c.alive_ptr, c.alive_terms, np.stack([c.lr_context, c.state_role], axis=1),
            c.context_start, np.stack([c.term_kind, c.term_arg], axis=1),
            np.r_[t.end_state, t.end_terminal, c.layout_params].astype(np.int32),
        )
        self.store = GrammarStore(t, c, self.tokenizer_info, self.cache_dir, self.stats)
        self._workspaces = threading.local()
        self.mask_cache = MaskCache(0)

    def workspace(self) -> tuple:
        """This thread's scratch buffers for the kernels (fills run one at a time per thread)."""
        ws = getattr(self._workspaces, "ws", None)
        if ws is None:
            info = self.tokenizer_info
            ws = new_workspace(len(self.contexts.term_kind), info.bitmask_words, info.max_token_len,
                               info.offsets, info.flat)
            self._workspaces.ws = ws
        return ws

    def ensure_all(self, progress: bool = False) -> None:
        """Build the mask-store entry of every lexer state now (ahead-of-time compiles; by
        default entries are built when decoding first reaches them); `progress` draws a bar."""
        def bar(done: int, total: int) -> None:
            if done == total or done % 16 == 0:
                filled = 30 * done // total
                print(f"\rmask store [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} states",
                      end="\n" if done == total else "", file=sys.stderr, flush=True)

        self.store.ensure_all(bar if progress else None)

    @property
    def store_tables(self) -> tuple:
        """The mask store as the kernels read it (entries built so far)."""
        return self.store.arrays()

    @property
    def store_nbytes(self) -> int:
        """Bytes of the mask store in memory (entries built so far)."""
        return self.store.nbytes


def compile_grammar(
    grammar: Grammar,
    tokenizer_info: TokenizerInfo,
    cache_dir: str | Path | None = "default",
    mask_cache_bytes: int = 32 << 20,
    progress: bool = False,
    eager: bool = False,
) -> CompiledGrammar:
    """Build (or load from the cache) everything needed to match `grammar` with this tokenizer.

    `cache_dir`: "default" (see `mask_store.default_cache_dir`), a folder, or None for no disk
    cache. `mask_cache_bytes`: memory for masks already computed (exact: keyed by the lexer
    state and the whole parser stack); 0 disables it. `eager`: build the mask-store entry of
    every lexer state now rather than when decoding first reaches it (what the first mask
    needs is always built here). `progress`: a progress bar on stderr (eager builds).
    """
    start = time.perf_counter()
    with gc_paused():
        tables = build_parse_tables(grammar)
        contexts = build_contexts(grammar, tables)
    folder = default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir is not None else None)
    compiled = CompiledGrammar(grammar, tokenizer_info, tables, contexts, folder)
    if eager:
        compiled.ensure_all(progress)
    else:
        compiled.store.ensure_for_fill(contexts.initial_state)
    compiled.mask_cache = MaskCache(mask_cache_bytes, 4 * tokenizer_info.bitmask_words)
    compiled.stats.seconds = time.perf_counter() - start
    return compiled
