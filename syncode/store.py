"""A compiled grammar's mask store, assembled state by state on first use.

Owns the arrays the mask kernel reads (`arrays()`, the `ST` tuple documented in
`kernels.fill_level`) and filling them lazily: a mask from lexer state q needs the entries of
q and of the context start states a lexeme may begin in once q's lexeme ends
(`ensure_for_fill`), so only states the decoding actually reaches are ever built. Each entry
comes from `mask_store` (memory, disk or built, shared across grammars by its signature), is
renumbered to this grammar's global states and terminals, and appended. The cross-context
shortcuts of large tries (`cross`) are added for the (trie, next start) pairs the mask kernel
reports walking (`add_cross_misses`). Arrays only grow (a root's cross entries are re-appended
together when one is added), so state, row and node ids stay valid for every matcher.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .cross import cross_groups, next_starts
from .lexer import LexerContexts
from .mask_store import RowTable, cross_memory, load_or_build_entry, state_signature
from .parse_table import ParseTables
from .tokenizer_info import TokenizerInfo


class _Column:
    """An append-only NumPy column with amortised growth."""

    def __init__(self, dtype, first: int = 0) -> None:
        self.data = np.zeros(max(16, first), dtype=dtype)
        self.n = 0

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=self.data.dtype)
        need = self.n + len(values)
        if need > len(self.data):
            grown = np.zeros(max(need, 2 * len(self.data)), dtype=self.data.dtype)
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n:need] = values
        self.n = need

    def view(self) -> np.ndarray:
        return self.data[: self.n]


class GrammarStore:
    """The mask store of one compiled grammar, filled as lexer states are reached."""

    def __init__(self, tables: ParseTables, contexts: LexerContexts, info: TokenizerInfo,
                 cache_dir: Path | None, stats) -> None:
        self.tables, self.contexts, self.info, self.cache_dir, self.stats = tables, contexts, info, cache_dir, stats
        n_states = len(contexts.accept)
        self.rows = RowTable(info.bitmask_words)
        self.inside_row = np.full(n_states, -1, dtype=np.int32)
        self.die0_row = np.full(n_states, -1, dtype=np.int32)
        self.grp_lo, self.grp_hi = np.zeros(n_states, np.int32), np.zeros(n_states, np.int32)
        self.root_first, self.root_last = np.zeros(n_states, np.int32), np.zeros(n_states, np.int32)
        self.ready = np.zeros(n_states, dtype=bool)  # the state and its next starts are built
        self.col = {name: _Column(np.int32) for name in (
            "grp_state", "grp_row", "root_term", "root_lo", "root_hi", "root_rep", "root_cut", "node_depth",
            "node_end", "node_toks",
            "cx_s0", "cx_grp_state", "cx_grp_row", "cx_deep")}
        self.col["node_byte"] = _Column(np.uint8)
        self.col["cx_lo"], self.col["cx_hi"] = _Column(np.int32), _Column(np.int32)
        for name in ("node_tok_ptr", "cx_grp_ptr", "cx_deep_ptr"):
            self.col[name] = _Column(np.int32)
            self.col[name].extend([0])
        terms = contexts.context_terms
        self.ctx_term_ptr = np.r_[0, np.cumsum([len(k) for k in terms])].astype(np.int32)
        self.ctx_terms = np.concatenate(terms).astype(np.int32)
        self._local: dict[int, tuple] = {}
        self._alive_id: np.ndarray | None = None
        self._start_sigs: dict[int, tuple] = {}
        self._root_origin: list[tuple[str, int]] = []  # per root: (entry key, root index in the entry)
        self._lock = threading.Lock()
        self._tables: tuple = ()

    # -- filling -------------------------------------------------------------------------
    def ensure_for_fill(self, q: int) -> None:
        """Build what a mask from lexer state q reads: q, and the context start states of the
        lexeme that follows when q's lexeme ends."""
        if self.ready[q]:
            return
        with self._lock:
            if self.ready[q]:
                return
            needed = [q]
            term = int(self.contexts.accept[q])
            if term >= 0:
                needed += next_starts(term, q, self.tables, self.contexts)
            for s in needed:
                if self.inside_row[s] < 0:
                    self._add_state(s)
            self._tables = ()
            self.ready[q] = True

    def ensure_all(self, progress=None) -> None:
        """Build every state (ahead-of-time compiles); `progress(done, total)` is called as it goes."""
        n = len(self.ready)
        for q in range(n):
            self.ensure_for_fill(q)
            if progress is not None:
                progress(q + 1, n)

    def _local_tables(self, context: int) -> tuple:
        local = self._local.get(context)
        if local is None:
            local = self._local[context] = self.contexts.local_tables(context)
        return local

    def _add_state(self, q: int) -> None:
        c = self.contexts
        context = int(c.state_context[q])
        start = int(c.context_start[context])
        trans, accept, alive, newline = self._local_tables(context)
        sig = state_signature(trans, accept, alive, q - start, self.info, newline)
        entry, how = load_or_build_entry(trans, accept, alive, sig, self.info, self.cache_dir, newline)
        setattr(self.stats, how, getattr(self.stats, how) + 1)
        states = sig.states + start  # canonical -> global
        terms = c.context_terms[context][sig.terms]
        col = self.col
        self.inside_row[q] = self.rows.add(entry["inside"])
        self.die0_row[q] = self.rows.add(entry["die0"]) if len(entry["die0"]) else -1
        self.grp_lo[q] = col["grp_state"].n
        col["grp_state"].extend(states[entry["grp_state"]])
        col["grp_row"].extend([self.rows.add(row) for row in entry["grp_rows"]])
        self.grp_hi[q] = col["grp_state"].n

        node_base, tok_base = col["node_byte"].n, col["node_toks"].n
        col["node_byte"].extend(entry["node_byte"])
        col["node_depth"].extend(entry["node_depth"])
        col["node_end"].extend(entry["node_end"] + node_base)
        col["node_tok_ptr"].extend(entry["node_tok_ptr"][1:] + tok_base)
        col["node_toks"].extend(entry["node_toks"])
        self.root_first[q] = col["root_term"].n
        n_roots = len(entry["root_term"])
        col["root_term"].extend(terms[entry["root_term"]])
        col["root_lo"].extend(entry["root_lo"] + node_base)
        col["root_hi"].extend(entry["root_hi"] + node_base)
        col["root_rep"].extend(entry["root_rep"])
        col["root_cut"].extend(entry["root_cut"])
        col["cx_lo"].extend(np.zeros(n_roots, np.int32))
        col["cx_hi"].extend(np.zeros(n_roots, np.int32))
        self._root_origin.extend((sig.key, root) for root in range(n_roots))
        self.root_last[q] = col["root_term"].n

    def _start_signature(self, s0: int) -> tuple:
        """The signature of context start state s0, and global state -> canonical index."""
        found = self._start_sigs.get(s0)
        if found is None:
            context = int(self.contexts.state_context[s0])
            trans, accept, alive, newline = self._local_tables(context)
            sig = state_signature(trans, accept, alive, 0, self.info, newline)
            canon = np.full(len(self.contexts.accept), -1, dtype=np.int32)
            canon[sig.states + s0] = np.arange(len(sig.states), dtype=np.int32)
            found = self._start_sigs[s0] = (sig, canon)
        return found

    def add_cross_misses(self, pairs: np.ndarray, count: int) -> None:
        """Add the cross entries of the (root, next start) pairs a fill reported walking."""
        with self._lock:
            for r, s0 in set(zip(pairs[0:2 * count:2].tolist(), pairs[1:2 * count:2].tolist())):
                lo, hi = self.col["cx_lo"].data[r], self.col["cx_hi"].data[r]
                if s0 not in self.col["cx_s0"].data[lo:hi]:
                    self._add_cross(r, s0)
            self._tables = ()

    def _add_cross(self, r: int, s0: int) -> None:
        """The cross entry of root r for next start s0, appended after copies of the root's
        earlier entries (a root's entries stay contiguous); memoised across grammars by (the
        root's entry and index, s0's signature)."""
        col = self.col
        if self._alive_id is None:
            self._alive_id = alive_set_ids(self.contexts)
        node_base = int(col["root_lo"].data[r])
        nodes = np.arange(node_base, col["root_hi"].data[r])
        sig0, canon0 = self._start_signature(s0)
        key = (self.cache_dir, *self._root_origin[r], sig0.key)
        cached = cross_memory.get(key)
        if cached is None:
            found = cross_groups(s0, nodes, col["node_depth"].view(), col["node_tok_ptr"].view(),
                                 col["node_toks"].view(), self.contexts, self.info, self._alive_id)
            cached = {"grp_state": canon0[found["grp_state"]], "grp_rows": found["grp_rows"],
                      "deep": found["deep"] - node_base}
            cross_memory.put(key, cached)
        old_lo, old_hi = int(col["cx_lo"].data[r]), int(col["cx_hi"].data[r])
        new_lo = col["cx_s0"].n
        for e in range(old_lo, old_hi):
            g = col["cx_grp_ptr"].data[e:e + 2]
            d = col["cx_deep_ptr"].data[e:e + 2]
            self._append_cross(int(col["cx_s0"].data[e]), col["cx_grp_state"].data[g[0]:g[1]].copy(),
                               col["cx_grp_row"].data[g[0]:g[1]].copy(), col["cx_deep"].data[d[0]:d[1]].copy())
        self._append_cross(s0, sig0.states[cached["grp_state"]] + s0,
                           [self.rows.add(row) for row in cached["grp_rows"]], cached["deep"] + node_base)
        col["cx_lo"].data[r], col["cx_hi"].data[r] = new_lo, col["cx_s0"].n

    def _append_cross(self, s0: int, grp_state, grp_row, deep) -> None:
        col = self.col
        col["cx_s0"].extend([s0])
        col["cx_grp_state"].extend(grp_state)
        col["cx_grp_row"].extend(grp_row)
        col["cx_grp_ptr"].extend([col["cx_grp_state"].n])
        col["cx_deep"].extend(deep)
        col["cx_deep_ptr"].extend([col["cx_deep"].n])

    # -- reading -------------------------------------------------------------------------
    def arrays(self) -> tuple:
        """The `ST` tuple for the kernels (views of the arrays as they are now)."""
        if not self._tables:
            v = {name: col.view() for name, col in self.col.items()}
            self._tables = (
                self.rows.array(), self.inside_row, self.die0_row, self.grp_lo, v["grp_state"], v["grp_row"],
                self.root_first, v["root_term"], v["root_lo"], v["root_hi"],
                v["node_byte"], v["node_depth"], v["node_end"], v["node_tok_ptr"], v["node_toks"],
                self.ctx_term_ptr, self.ctx_terms, self.contexts.state_context,
                v["cx_lo"], v["cx_s0"], v["cx_grp_ptr"], v["cx_grp_state"], v["cx_grp_row"], v["cx_deep_ptr"],
                v["cx_deep"], self.grp_hi, self.root_last, v["cx_hi"], v["root_rep"], v["root_cut"],
            )
        return self._tables

    @property
    def n_built(self) -> int:
        """Lexer states whose entries are in the store."""
        return int((self.inside_row >= 0).sum())

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays())


def alive_set_ids(contexts: LexerContexts) -> np.ndarray:
    """Per lexer state, a number for its set of alive terminals: equal sets, equal numbers.
    States are grouped by a hash of their (rank-ordered) terminal lists, then every member is
    checked against its group's first state, so the numbering is exact."""
    ptr, terms = contexts.alive_ptr.astype(np.int64), contexts.alive_terms.astype(np.int64)
    counts = np.diff(ptr)
    owner = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(len(terms)) - ptr[owner]
    weights = np.random.default_rng(0).integers(1, 1 << 62, size=int(counts.max(initial=0)) + 1, dtype=np.int64)
    summed = np.concatenate(([0], np.cumsum((terms + 1) * weights[position])))  # wraps: a hash, not a sum
    keys = np.stack([summed[ptr[1:]] - summed[ptr[:-1]], counts], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    representative = first[inverse]
    if (terms == terms[ptr[representative[owner]] + position]).all():
        return inverse.astype(np.int64)
    sets: dict[bytes, int] = {}  # a hash collision: number the sets one by one
    return np.array([sets.setdefault(terms[ptr[s]:ptr[s + 1]].tobytes(), len(sets)) for s in range(len(counts))],
                    dtype=np.int64)
