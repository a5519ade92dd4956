"""Compiling a grammar for a tokenizer: `compile_grammar(grammar, info) -> CompiledGrammar`.

Owns assembling the pieces: LALR tables, lexer contexts, and the mask store of every context
(loaded from the disk cache or built), into the arrays the matcher's kernels read.
"""
from __future__ import annotations

import sys
import threading
from collections import OrderedDict
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .grammar import Grammar
from .cross import build_cross
from .kernels import new_workspace
from .lexer import LexerContexts, build_contexts
from .mask_store import RowTable, default_cache_dir, load_or_build_store
from .parse_table import ParseTables, build_parse_tables
from .tokenizer_info import TokenizerInfo


@dataclass
class CompileStats:
    """What a compile did: how many stores came from this process's memory, were loaded from
    disk, built or rebuilt, and how long it took."""

    seconds: float = 0.0
    memory: int = 0
    loaded: int = 0
    built: int = 0
    rebuilt: int = 0


class MaskCache:
    """Masks already computed, keyed by exactly what a mask depends on: the lexer state and
    the parser stack's full contents. Shared by every matcher of a compiled grammar; least
    recently used entries go first once `max_bytes` is reached (0 disables the cache)."""

    def __init__(self, max_bytes: int, row_bytes: int = 1) -> None:
        self.capacity = max_bytes // max(row_bytes, 1)
        self.entries: OrderedDict[tuple[int, bytes], np.ndarray] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[int, bytes]) -> np.ndarray | None:
        with self.lock:
            row = self.entries.get(key)
            if row is None:
                self.misses += 1
                return None
            self.entries.move_to_end(key)
            self.hits += 1
            return row

    def put(self, key: tuple[int, bytes], row: np.ndarray) -> None:
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
        self.kernel_tables = (
            t.action, t.goto, t.rule_len, t.rule_lhs, np.int32(t.end_state), np.int32(t.end_terminal),
            c.trans, c.accept, c.alive_ptr, c.alive_terms, c.lr_context, c.context_start, c.is_ignored,
        )
        self.store_tables: tuple = ()
        self._workspaces = threading.local()
        self.mask_cache = MaskCache(0)

    def workspace(self) -> tuple:
        """This thread's scratch buffers for the kernels (fills run one at a time per thread)."""
        ws = getattr(self._workspaces, "ws", None)
        if ws is None:
            info = self.tokenizer_info
            ws = new_workspace(len(self.tables.terminal_names), info.bitmask_words, info.max_token_len,
                               info.offsets, info.flat)
            self._workspaces.ws = ws
        return ws

    def build_store(self, progress: bool = False) -> None:
        """Load (or build and cache) every context's mask store and join them into `store_tables`;
        `progress` draws a progress bar on stderr."""
        parts = []
        n = self.contexts.n_contexts
        for context in range(n):
            trans, accept, alive = self.contexts.local_tables(context)
            if progress:
                done = 30 * context // n
                print(f"\rmask stores [{'#' * done}{'.' * (30 - done)}] {context}/{n} ({trans.shape[0]} states)",
                      end="", file=sys.stderr, flush=True)
            arrays, how = load_or_build_store(trans, accept, alive, self.tokenizer_info, self.cache_dir)
            setattr(self.stats, how, getattr(self.stats, how) + 1)
            parts.append(arrays)
        if progress:
            print(f"\rmask stores [{'#' * 30}] {n}/{n}" + " " * 20, file=sys.stderr, flush=True)
        table = RowTable(self.tokenizer_info.bitmask_words)
        joined = join_stores(parts, self.contexts, table)
        cross = build_cross(joined, self.tables, self.contexts, self.tokenizer_info, table)
        self.store_tables = (table.array(),) + joined + cross

    @property
    def store_nbytes(self) -> int:
        """Bytes of the joined mask store in memory."""
        return sum(a.nbytes for a in self.store_tables)


def _join_ptrs(ptrs: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """Concatenate CSR pointer arrays whose targets are concatenated with the given sizes."""
    out, offset = [np.zeros(1, np.int32)], 0
    for ptr, size in zip(ptrs, sizes):
        out.append(ptr[1:] + offset)
        offset += size
    return np.concatenate(out).astype(np.int32)


def join_stores(parts: list[dict[str, np.ndarray]], contexts: LexerContexts, table: RowTable) -> tuple:
    """One store for the whole grammar: per-context stores with global state, terminal and
    row ids. Rows go into `table` (rows equal across contexts are stored once); the tuple
    returned is the store without its rows array (`store_tables[1:]`)."""
    starts = contexts.context_start
    row_maps = [np.array([table.add(r) for r in p["rows"]] + [-1], dtype=np.int32) for p in parts]
    cat = lambda name: np.concatenate([p[name] for p in parts])  # noqa: E731
    node_base = np.cumsum([0] + [len(p["node_byte"]) for p in parts])
    ctx_terms = contexts.context_terms
    return (
        np.concatenate([m[p["inside_row"]] for m, p in zip(row_maps, parts)]).astype(np.int32),
        np.concatenate([m[p["die0_row"]] for m, p in zip(row_maps, parts)]).astype(np.int32),
        _join_ptrs([p["grp_ptr"] for p in parts], [len(p["grp_state"]) for p in parts]),
        np.concatenate([p["grp_state"] + starts[i] for i, p in enumerate(parts)]).astype(np.int32),
        np.concatenate([m[p["grp_row"]] for m, p in zip(row_maps, parts)]).astype(np.int32),
        _join_ptrs([p["root_ptr"] for p in parts], [len(p["root_term"]) for p in parts]),
        np.concatenate([ctx_terms[i][p["root_term"]] for i, p in enumerate(parts)]).astype(np.int32),
        np.concatenate([p["root_lo"] + node_base[i] for i, p in enumerate(parts)]).astype(np.int32),
        np.concatenate([p["root_hi"] + node_base[i] for i, p in enumerate(parts)]).astype(np.int32),
        cat("node_byte"),
        cat("node_depth"),
        np.concatenate([p["node_end"] + node_base[i] for i, p in enumerate(parts)]).astype(np.int32),
        _join_ptrs([p["node_tok_ptr"] for p in parts], [len(p["node_toks"]) for p in parts]),
        cat("node_toks"),
        _join_ptrs([np.array([0, len(k)], np.int32) for k in ctx_terms], [len(k) for k in ctx_terms]),
        np.concatenate(ctx_terms).astype(np.int32),
        contexts.state_context,
    )


def compile_grammar(
    grammar: Grammar,
    tokenizer_info: TokenizerInfo,
    cache_dir: str | Path | None = "default",
    mask_cache_bytes: int = 32 << 20,
    progress: bool = False,
) -> CompiledGrammar:
    """Build (or load from the cache) everything needed to match `grammar` with this tokenizer.

    `cache_dir`: "default" (see `mask_store.default_cache_dir`), a folder, or None for no disk
    cache. `mask_cache_bytes`: memory for masks already computed (exact: keyed by the lexer
    state and the whole parser stack); 0 disables it. `progress`: a progress bar on stderr.
    """
    start = time.perf_counter()
    tables = build_parse_tables(grammar)
    contexts = build_contexts(grammar, tables)
    folder = default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir is not None else None)
    compiled = CompiledGrammar(grammar, tokenizer_info, tables, contexts, folder)
    compiled.build_store(progress)
    compiled.mask_cache = MaskCache(mask_cache_bytes, 4 * tokenizer_info.bitmask_words)
    compiled.stats.seconds = time.perf_counter() - start
    return compiled
