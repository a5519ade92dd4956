"""Lexer contexts: the combined DFA the lexer runs in each parser state.

Owns the lexing semantics. A lexeme starts in the parser's current LR state; the terminals
that state's action table accepts, plus the `%ignore` terminals, form its *context* (as in
Lark's contextual lexer). Each distinct context gets one combined DFA over bytes (the product
of its terminals' DFAs): a lexeme runs while some terminal can still extend it (longest
match), and ends when the next byte kills every terminal; it is then the highest-ranked
terminal accepting it (see `TerminalSpec.tie_key`). All contexts' states share one global
numbering so the Numba parser can index them directly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grammar import Grammar, GrammarError
from .parse_table import ParseTables
from .terminals import ByteDFA, UnsupportedRegexError, regex_to_dfa

MAX_CONTEXT_STATES = 200_000


@dataclass(frozen=True)
class LexerContexts:
    trans: np.ndarray  # int32 [Q, 256] global state ids, -1 dead
    accept: np.ndarray  # int32 [Q] terminal accepted in that state (best-ranked) or -1
    alive_ptr: np.ndarray  # int32 [Q + 1] CSR over alive_terms
    alive_terms: np.ndarray  # int32: terminals still completable in each state
    state_context: np.ndarray  # int32 [Q]
    context_start: np.ndarray  # int32 [n_contexts] global id of each context's start state
    context_terms: tuple[np.ndarray, ...]  # per context: its terminals (global ids), best-ranked first
    lr_context: np.ndarray  # int32 [n_lr_states]
    is_ignored: np.ndarray  # bool [n_terminals + 1]

    @property
    def n_contexts(self) -> int:
        return len(self.context_start)

    def local_tables(self, context: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(trans, accept, alive) of one context with local state and terminal numbering.

        These arrays alone decide how tokens lex in the context, so they key its mask store.
        """
        lo = int(self.context_start[context])
        hi = int(self.context_start[context + 1]) if context + 1 < self.n_contexts else len(self.accept)
        terms = self.context_terms[context]
        local_of = {int(t): i for i, t in enumerate(terms)}
        trans = np.where(self.trans[lo:hi] >= 0, self.trans[lo:hi] - lo, -1).astype(np.int32)
        accept = np.array([local_of.get(int(t), -1) for t in self.accept[lo:hi]], dtype=np.int32)
        alive = np.zeros((hi - lo, len(terms)), dtype=bool)
        for q in range(lo, hi):
            for t in self.alive_terms[self.alive_ptr[q]:self.alive_ptr[q + 1]]:
                alive[q - lo, local_of[int(t)]] = True
        return trans, accept, alive


def terminal_dfas(grammar: Grammar) -> list[ByteDFA]:
    dfas = []
    for spec in grammar.terminals:
        try:
            dfa = grammar.terminal_dfas.get(spec.name) or regex_to_dfa(spec.regex, spec.name)
        except UnsupportedRegexError as exc:
            raise GrammarError(f"grammar {grammar.name}: {exc}") from exc
        if dfa.accepting[0]:
            raise GrammarError(f"grammar {grammar.name}: terminal {spec.name} matches the empty string")
        dfas.append(dfa)
    return dfas


def build_contexts(grammar: Grammar, tables: ParseTables) -> LexerContexts:
    dfas = terminal_dfas(grammar)
    n_terms = len(tables.terminal_names)
    ignored = [tables.terminal_names.index(name) for name in grammar.ignore]
    is_ignored = np.zeros(n_terms, dtype=bool)
    is_ignored[ignored] = True
    rank = sorted(range(len(grammar.terminals)), key=lambda t: grammar.terminals[t].tie_key)
    rank_of = {t: r for r, t in enumerate(rank)}

    context_ids: dict[tuple[int, ...], int] = {}
    lr_context = np.zeros(tables.action.shape[0], dtype=np.int32)
    for state in range(tables.action.shape[0]):
        accepted = set(int(t) for t in np.nonzero(tables.action[state, :-1])[0]) | set(ignored)
        key = tuple(sorted(accepted, key=rank_of.__getitem__))
        lr_context[state] = context_ids.setdefault(key, len(context_ids))

    trans_rows: list[np.ndarray] = []
    accept: list[int] = []
    alive_lists: list[list[int]] = []
    state_context: list[int] = []
    context_start: list[int] = []
    for ctx, terms in enumerate(context_ids):
        base = len(accept)
        context_start.append(base)
        _product(terms, dfas, base, ctx, trans_rows, accept, alive_lists, state_context)
        if len(accept) > MAX_CONTEXT_STATES:
            raise GrammarError(f"grammar {grammar.name}: lexer contexts exceed {MAX_CONTEXT_STATES} DFA states")
    alive_ptr = np.zeros(len(alive_lists) + 1, dtype=np.int32)
    alive_ptr[1:] = np.cumsum([len(a) for a in alive_lists])
    return LexerContexts(
        trans=np.array(trans_rows, dtype=np.int32).reshape(-1, 256),
        accept=np.array(accept, dtype=np.int32),
        alive_ptr=alive_ptr,
        alive_terms=np.array([t for a in alive_lists for t in a], dtype=np.int32),
        state_context=np.array(state_context, dtype=np.int32),
        context_start=np.array(context_start, dtype=np.int32),
        context_terms=tuple(np.array(k, dtype=np.int32) for k in context_ids),
        lr_context=lr_context,
        is_ignored=is_ignored,
    )


def _product(terms, dfas, base, ctx, trans_rows, accept, alive_lists, state_context) -> None:
    """Append the product DFA of `terms` (ranked) with state ids offset by `base`."""
    # All terminals' tables stacked, with a dead row last: a product state's successor
    # columns are one fancy index.
    offsets = np.cumsum([0] + [dfas[t].trans.shape[0] for t in terms])
    stacked = np.concatenate([dfas[t].trans for t in terms] + [np.full((1, 256), -1, np.int32)]).astype(np.int32)
    dead_row = int(offsets[-1])
    row_base = offsets[:-1].astype(np.int64)
    start = np.zeros(len(terms), dtype=np.int32)
    ids = {start.tobytes(): 0}
    order = [start]
    i = 0
    while i < len(order):
        tup = order[i]
        row = np.full(256, -1, dtype=np.int32)
        nxt = stacked[np.where(tup >= 0, row_base + tup, dead_row)] if len(terms) else stacked[[dead_row]]
        tup = tup.tolist()
        live_bytes = np.nonzero((nxt >= 0).any(axis=0))[0]
        # Bytes leading to the same tuple of terminal states share one product state.
        columns = np.ascontiguousarray(nxt[:, live_bytes].T)
        width = columns.shape[1] * 4
        packed = columns.tobytes()
        for k, byte in enumerate(live_bytes.tolist()):
            key = packed[k * width:(k + 1) * width]
            target = ids.get(key)
            if target is None:
                target = ids[key] = len(order)
                order.append(columns[k])
            row[byte] = base + target
        trans_rows.append(row)
        best = -1
        alive = []
        for t, s in zip(terms, tup):
            if s >= 0:
                alive.append(t)
                if best < 0 and dfas[t].accepting[s]:
                    best = t
        accept.append(best)
        alive_lists.append(alive)
        state_context.append(ctx)
        i += 1
