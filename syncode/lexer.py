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
from numba import njit

from .grammar import Grammar, GrammarError
from .layout import (KIND_IGNORE, KIND_NEWLINE, KIND_SHIFT, ROLE_CLOSE, ROLE_DEDENT, ROLE_INDENT,
                     ROLE_NEWLINE, ROLE_OPEN, ROLE_TRIGGER, STATE_BITS)
from .lru import LRU
from .parse_table import ParseTables
from .terminals import ByteDFA, UnsupportedRegexError, regex_to_dfa, split_on_byte

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
    term_kind: np.ndarray  # int32 [n_lexer_terms]: layout.KIND_*
    term_arg: np.ndarray  # int32 [n_lexer_terms]: the parser terminal a KIND_SHIFT term shifts
    state_role: np.ndarray  # int32 [n_lr_states]: layout.ROLE_* bits
    layout_params: np.ndarray  # int32 [6]: newline, indent, dedent, insert terminals (-1 if none), tab size,
    #                            and the mask of an LR state in a stack node (INDENT nodes carry widths above it)
    initial_state: int  # the lexer state at the start of input

    @property
    def n_contexts(self) -> int:
        return len(self.context_start)

    def local_tables(self, context: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(trans, accept, alive, newline) of one context with local state and terminal
        numbering (`newline` marks the indenter's newline terminal).

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
        return trans, accept, alive, self.term_kind[terms] == KIND_NEWLINE


def terminal_dfas(grammar: Grammar) -> list[ByteDFA]:
    """The grammar's terminals as byte DFAs, in the grammar's order."""
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
    terms = _LexerTerms(grammar, tables)
    rank = sorted(range(len(grammar.terminals)), key=lambda t: grammar.terminals[t].tie_key)
    rank_of = {t: r for r, t in enumerate(rank)}

    context_ids: dict[tuple[int, ...], int] = {}
    lr_context = np.zeros(tables.action.shape[0], dtype=np.int32)
    for state in range(tables.action.shape[0]):
        accepted = terms.context_of(state)
        key = tuple(sorted(accepted, key=lambda t: (rank_of[terms.base[t]], t)))
        lr_context[state] = context_ids.setdefault(key, len(context_ids))

    parts: list[tuple[np.ndarray, ...]] = []  # per context: trans, accept, alive counts, alive terminals
    context_start: list[int] = []
    base = 0
    for key in context_ids:
        context_start.append(base)
        part = _product(key, terms.dfas, base, MAX_CONTEXT_STATES - base)
        if part is None:
            raise GrammarError(f"grammar {grammar.name}: lexer contexts exceed {MAX_CONTEXT_STATES} DFA states")
        parts.append(part)
        base += len(part[1])
    trans, accept, alive_count, alive_terms = (np.concatenate(column) for column in zip(*parts))
    alive_ptr = np.zeros(len(accept) + 1, dtype=np.int32)
    alive_ptr[1:] = np.cumsum(alive_count)
    state_context = np.repeat(np.arange(len(parts), dtype=np.int32), [len(part[1]) for part in parts])
    initial = int(context_start[lr_context[tables.start_state]])
    if grammar.layout.indenter is not None:
        initial = terms.initial_after_newline(initial, trans, accept)
    kind = np.array(terms.kind, dtype=np.int32)
    return LexerContexts(
        trans=trans,
        accept=accept,
        alive_ptr=alive_ptr,
        alive_terms=alive_terms,
        state_context=state_context,
        context_start=np.array(context_start, dtype=np.int32),
        context_terms=tuple(np.array(k, dtype=np.int32) for k in context_ids),
        lr_context=lr_context,
        term_kind=kind,
        term_arg=np.array(terms.arg, dtype=np.int32),
        state_role=terms.roles(),
        layout_params=terms.params(),
        initial_state=initial,
    )


class _LexerTerms:
    """The lexer's terminals for a grammar and its layout: DFAs, kinds, and which of them
    each LR state's context holds."""

    def __init__(self, grammar: Grammar, tables: ParseTables) -> None:
        self.grammar, self.tables = grammar, tables
        names = tables.terminal_names
        self.index = {name: i for i, name in enumerate(names)}
        grammar_dfas = terminal_dfas(grammar)
        self.dfas: list[ByteDFA | None] = grammar_dfas + [None] * (len(names) - len(grammar_dfas))
        self.kind = [KIND_SHIFT] * len(names)
        self.arg = list(range(len(names)))
        self.base = list(range(len(grammar_dfas))) + [0] * (len(names) - len(grammar_dfas))
        self.ignored = [self.index[name] for name in grammar.ignore]
        for t in self.ignored:
            self.kind[t] = KIND_IGNORE
        self.lexed = set(range(len(grammar_dfas)))  # the terminals with a pattern
        layout = grammar.layout
        self.reserved: dict[int, list[int]] = {}
        if layout.keywords is not None:
            self._reserve(layout.keywords)
        self.newline = self.indent = self.dedent = self.insert = -1
        self.open: set[int] = set()
        self.close: set[int] = set()
        if layout.indenter is not None:
            self._indenter(layout.indenter)
        self.triggers: set[int] = set()
        self.split: dict[int, list[int]] = {}  # ignored terminal -> its lexemes after a trigger
        if layout.semicolons is not None:
            self._semicolons(layout.semicolons)

    def _id(self, item: str, role: str) -> int:
        return self.index[self.grammar.terminal_named(item, role)]

    def _error(self, message: str) -> GrammarError:
        return GrammarError(f"grammar {self.grammar.name}: {message}")

    def _reserve(self, keywords) -> None:
        ident = self._id(keywords.identifier, "keywords")
        soft = {self._id(item, "keywords except") for item in keywords.soft}
        dfa = self.dfas[ident]
        words = []
        for i, spec in enumerate(self.grammar.terminals):
            if not spec.is_string or i == ident or i in soft or i in self.ignored:
                continue
            spellings = _spellings(self.dfas[i])  # several for a case-insensitive keyword
            matched = [dfa.matches(w) for w in spellings]
            if all(matched):
                words.append(i)
            elif any(matched):
                raise self._error(f"keywords: {keywords.identifier} matches some spellings of {spec.name} but not "
                                  "all, so it cannot be reserved; list it in except= or make the two agree")
        self.reserved[ident] = words

    def _indenter(self, ind) -> None:
        self.newline = self._id(ind.newline, "indenter newline")
        self.indent, self.dedent = self.index[ind.indent], self.index[ind.dedent]
        self.open = self._brackets(ind.open, '"(" "[" "{"', "indenter open")
        self.close = self._brackets(ind.close, '")" "]" "}"', "indenter close")
        if self.newline in self.ignored:
            raise self._error(f"the indenter's newline terminal {ind.newline} must not be %ignore'd")
        if ind.tab < 1:
            raise self._error("the indenter's tab size must be at least 1")
        self.kind[self.newline] = KIND_NEWLINE
        _check_newline_dfa(self.dfas[self.newline], ind.newline, self._error)
        _check_balanced(self.grammar, self.tables, self.open, self.close, "brackets", self._error)
        _check_balanced(self.grammar, self.tables, {self.indent}, {self.dedent}, "INDENT/DEDENT", self._error)
        if self.tables.action[self.tables.start_state, self.newline] == 0:
            raise self._error(f"with an indenter the input starts as if after a newline, so the start rule must "
                              f"accept a leading {ind.newline} (e.g. file_input: ({ind.newline} | stmt)*)")
        if self.tables.action.shape[0] >= 1 << STATE_BITS:
            raise self._error(f"an indenter supports at most {1 << STATE_BITS} LR states")

    def _brackets(self, items: tuple[str, ...] | None, default: str, role: str) -> set[int]:
        if items is not None:
            return {self._id(item, role) for item in items}
        found = set()
        for literal in default.split():
            try:
                found.add(self._id(literal, role))
            except GrammarError:  # the grammar has no such bracket
                pass
        return found

    def _semicolons(self, semi) -> None:
        self.insert = self._id(semi.insert, "semicolons insert")
        self.triggers = {self._id(item, "semicolons after") for item in semi.after}
        for t in self.ignored:
            without, with_newline = split_on_byte(self.dfas[t], ord("\n"))
            if with_newline is None:
                continue
            parts = []
            for dfa, kind in ((without, KIND_IGNORE), (with_newline, KIND_SHIFT)):
                if dfa is None:
                    continue
                parts.append(len(self.dfas))
                self.dfas.append(dfa)
                self.kind.append(kind)
                self.arg.append(self.insert if kind == KIND_SHIFT else len(self.arg))
                self.base.append(self.base[t])
            self.split[t] = parts

    def context_of(self, state: int) -> set[int]:
        """The lexer terminals a lexeme starting in LR state `state` may be."""
        accepted = {int(t) for t in np.nonzero(self.tables.action[state])[0] if int(t) in self.lexed}
        for ident, words in self.reserved.items():
            if ident in accepted:
                accepted.update(words)
        always = list(self.ignored)
        if self.newline >= 0:
            always.append(self.newline)  # inside brackets it is ignored, whatever the state takes
        if self.tables.accessing_terminal[state] in self.triggers:
            always = [p for t in always for p in self.split.get(t, [t])]
        return accepted | set(always)

    def roles(self) -> np.ndarray:
        roles = np.zeros(self.tables.action.shape[0], dtype=np.int32)
        for terminals, role in ((self.open, ROLE_OPEN), (self.close, ROLE_CLOSE), ({self.indent}, ROLE_INDENT),
                                ({self.dedent}, ROLE_DEDENT), ({self.newline}, ROLE_NEWLINE),
                                (self.triggers, ROLE_TRIGGER)):
            if terminals - {-1}:
                roles[np.isin(self.tables.accessing_terminal, list(terminals - {-1}))] |= role
        return roles

    def params(self) -> np.ndarray:
        indenter = self.grammar.layout.indenter
        tab = indenter.tab if indenter is not None else 8
        mask = (1 << STATE_BITS) - 1 if indenter is not None else 0x7FFFFFFF
        return np.array([self.newline, self.indent, self.dedent, self.insert, tab, mask], dtype=np.int32)

    def initial_after_newline(self, start: int, trans: np.ndarray, accept: np.ndarray) -> int:
        """The lexer state after a newline read at the start of input (the indenter's view of
        the input's first line)."""
        after = int(trans[start, ord("\n")])
        if after < 0 or accept[after] != self.newline:
            raise self._error("with an indenter the input starts as if after a newline, but a newline at the "
                              "start is not lexed as the indenter's newline terminal")
        return after


def _spellings(dfa: ByteDFA) -> list[bytes]:
    """Every string a string terminal's DFA matches (one, or a case-insensitive word's variants)."""
    found, todo = [], [(0, b"")]
    while todo:
        state, prefix = todo.pop()
        if dfa.accepting[state]:
            found.append(prefix)
        todo.extend((int(t), prefix + bytes([b])) for b, t in enumerate(dfa.trans[state]) if t >= 0)
    return found


def _check_newline_dfa(dfa: ByteDFA, name: str, error) -> None:
    """From every point of the newline terminal, some continuation must reach another newline
    after which any run of spaces and tabs completes it: the masks rely on every indentation
    staying reachable while a newline lexeme is open."""
    def indents_anything(after: int) -> bool:
        seen, todo = {after}, [after]
        while todo:
            u = todo.pop()
            if u < 0 or not dfa.accepting[u]:
                return False
            for b in (9, 32):
                v = int(dfa.trans[u, b])
                if v not in seen:
                    seen.add(v)
                    todo.append(v)
        return True

    good = np.array([indents_anything(int(dfa.trans[s, 10])) for s in range(dfa.n_states)])
    while True:  # states that can reach a good one
        more = good | (((dfa.trans >= 0) & good[np.maximum(dfa.trans, 0)]).any(axis=1))
        if (more == good).all():
            break
        good = more
    if not good[1:].all():
        raise error(f"the indenter's newline terminal {name} must allow, from anywhere inside it, another "
                    "newline followed by any spaces and tabs (e.g. _NEWLINE: (/\\r?\\n[\\t ]*/ | COMMENT)+)")


def _check_balanced(grammar: Grammar, tables: ParseTables, opening: set[int], closing: set[int], what: str,
                    error) -> None:
    """Every rule holds its open and close symbols balanced: the kernels count them on the stack."""
    names = tables.terminal_names
    open_names = {names[t] for t in opening}
    close_names = {names[t] for t in closing}
    for rule in grammar.rules:
        depth = 0
        for symbol in rule.expansion:
            depth += (symbol.name in open_names) - (symbol.name in close_names)
            if depth < 0:
                break
        if depth != 0:
            expansion = " ".join(s.name for s in rule.expansion)
            raise error(f"{what} must open and close in the same rule (the indenter reads them from the parser "
                        f"stack), but rule {rule.origin.name}: {expansion} does not balance them")


def _product(terms, dfas, base: int, limit: int) -> tuple[np.ndarray, ...] | None:
    """The product DFA of `terms` (ranked), its state ids offset by `base`: (trans, accepted
    terminal, number of alive terminals, the alive terminals in rank order), or None over
    `limit` states."""
    key = tuple(dfas[t].digest for t in terms)
    local = _PRODUCTS.get(key)
    if local is None:
        local = _local_product([dfas[t] for t in terms], limit)
        if local is None:
            return None
        _PRODUCTS.put(key, local)
    trans, accept, alive_count, alive = local
    if len(accept) > limit:
        return None
    named = np.append(np.array(terms, dtype=np.int32), np.int32(-1))  # position -1: no terminal
    return np.where(trans >= 0, trans + base, -1).astype(np.int32), named[accept], alive_count, named[alive]


# Products by the DFAs' contents and order: most of a schema's lexer contexts (punctuation,
# values) recur across schemas. Budget: 32,768 product states in all.
_PRODUCTS = LRU(budget=32_768, size=lambda part: len(part[1]))


def _local_product(dfas: list[ByteDFA], limit: int) -> tuple[np.ndarray, ...] | None:
    """The product of `dfas` with states from 0 and terminals as positions in `dfas`: (trans,
    the first accepting position or -1, number alive, alive positions), or None over `limit`."""
    sizes = [dfa.trans.shape[0] for dfa in dfas]
    row_base = np.cumsum([0] + sizes)[:-1].astype(np.int64)
    stacked = np.concatenate([np.empty((0, 256), np.int32)] + [dfa.trans for dfa in dfas]).astype(np.int32)
    final = np.concatenate([dfa.accepting for dfa in dfas] + [np.zeros(1, dtype=bool)])
    trans, tuples = _product_states(stacked, row_base, limit)
    if trans.shape[0] > limit:
        return None
    alive = tuples >= 0
    accepting = alive & final[np.where(alive, row_base + tuples, len(final) - 1)]
    first = accepting.argmax(axis=1) if dfas else np.zeros(len(tuples), dtype=np.int64)
    accept = np.where(accepting.any(axis=1), first, -1).astype(np.int64)
    for array in (trans, accept):
        array.setflags(write=False)
    return trans, accept, alive.sum(axis=1), np.nonzero(alive)[1]


@njit(cache=True)
def _product_states(stacked: np.ndarray, row_base: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first product of the terminal DFAs stacked in `stacked` (terminal j's state s
    is row row_base[j] + s): every reachable tuple of terminal states (-1: dead), numbered in
    discovery order (bytes in order), with its successor row. Stops past `limit` states."""
    m = len(row_base)
    cap = 256
    tuples = np.full((cap, m), -1, dtype=np.int32)
    trans = np.full((cap, 256), -1, dtype=np.int32)
    hashes = np.zeros(cap, dtype=np.uint64)
    counts = np.zeros(cap, dtype=np.int64)
    table = np.full(1024, -1, dtype=np.int64)
    live = np.empty(max(m, 1), dtype=np.int64)
    values = np.empty(max(m, 1), dtype=np.int32)
    tuples[0, :] = 0
    n = 1
    start_hash = np.uint64(14695981039346656037)
    h = start_hash
    for j in range(m):
        h = (h ^ np.uint64(j * 1000003 + 1)) * np.uint64(1099511628211)
    hashes[0], counts[0] = h, m
    table[h & np.uint64(len(table) - 1)] = 0
    i = 0
    while i < n:
        n_live = 0
        for j in range(m):
            if tuples[i, j] >= 0:
                live[n_live] = j
                n_live += 1
        for b in range(256):
            h = start_hash
            count = 0
            for q in range(n_live):
                j = live[q]
                v = stacked[row_base[j] + tuples[i, j], b]
                values[q] = v
                if v >= 0:
                    count += 1
                    h = (h ^ np.uint64(j * 1000003 + v + 1)) * np.uint64(1099511628211)
            if count == 0:
                continue
            mask = np.uint64(len(table) - 1)
            slot = h & mask
            target = -1
            while table[slot] >= 0:
                k = table[slot]
                if hashes[k] == h and counts[k] == count:
                    same = True
                    for q in range(n_live):
                        if values[q] >= 0 and tuples[k, live[q]] != values[q]:
                            same = False
                            break
                    if same:
                        target = k
                        break
                slot = (slot + np.uint64(1)) & mask
            if target < 0:
                if n == limit + 1:
                    return trans[:n], tuples[:n]
                if n == cap:
                    cap *= 2
                    grown = np.full((cap, m), -1, dtype=np.int32)
                    grown[:n] = tuples[:n]
                    tuples = grown
                    grown_trans = np.full((cap, 256), -1, dtype=np.int32)
                    grown_trans[:n] = trans[:n]
                    trans = grown_trans
                    hashes = np.concatenate((hashes, np.zeros(cap - n, dtype=np.uint64)))
                    counts = np.concatenate((counts, np.zeros(cap - n, dtype=np.int64)))
                target = n
                for q in range(n_live):
                    tuples[n, live[q]] = values[q]
                hashes[n], counts[n] = h, count
                table[slot] = n
                n += 1
                if 2 * n > len(table):  # keep the table at most half full
                    table = np.full(2 * len(table), -1, dtype=np.int64)
                    mask = np.uint64(len(table) - 1)
                    for k in range(n):
                        slot = hashes[k] & mask
                        while table[slot] >= 0:
                            slot = (slot + np.uint64(1)) & mask
                        table[slot] = k
            trans[i, b] = target
        i += 1
    return trans[:n], tuples[:n]
