"""Terminal regexes to byte-level DFAs.

Owns the translation of one terminal's regular expression (Python `re` syntax, as Lark
writes it) into a deterministic automaton over UTF-8 bytes: interegular parses the regex
into a character-level FSM, and each of its states becomes a byte-level state whose lead
bytes go to continuation states shared by the code points they can still complete to (the
result is deterministic by construction). States that cannot reach an accepting state are
removed, so "alive" always means "completable"; equivalent states are merged (Hopcroft).
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

import interegular
import numpy as np
from numba import njit

try:  # Python >= 3.11
    import re._parser as re_parser
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as re_parser

MAX_CODE_POINT = 0x10FFFF
SURROGATES = (0xD800, 0xDFFF)


class UnsupportedRegexError(ValueError):
    """A terminal's regex uses a feature a finite automaton cannot express."""


@dataclass(frozen=True)
class ByteDFA:
    """A trimmed DFA over bytes: `trans[state, byte]` is the next state or -1; state 0 starts."""

    trans: np.ndarray  # int32 [n_states, 256]
    accepting: np.ndarray  # bool [n_states]

    def __post_init__(self) -> None:
        self.trans.setflags(write=False)  # shared between grammars (`regex_to_dfa` keeps them)
        self.accepting.setflags(write=False)

    @property
    def n_states(self) -> int:
        return int(self.trans.shape[0])

    @functools.cached_property
    def digest(self) -> bytes:
        """A key for the automaton's content (equal tables, equal digests)."""
        return hashlib.blake2b(self.trans.tobytes() + self.accepting.tobytes(), digest_size=16).digest()

    def matches(self, data: bytes) -> bool:
        state = 0
        for byte in data:
            state = int(self.trans[state, byte])
            if state < 0:
                return False
        return bool(self.accepting[state])


def _code_point_ranges(chars: set[str] | None, excluded: set[str]) -> list[tuple[int, int]]:
    """Sorted, merged code point ranges: `chars`, or everything but `excluded` when chars is None."""
    if chars is not None:
        points = sorted(ord(c) for c in chars)
    else:
        cut = sorted(ord(c) for c in excluded)
        points = None
    ranges: list[tuple[int, int]] = []
    if points is not None:
        for p in points:
            if ranges and ranges[-1][1] + 1 == p:
                ranges[-1] = (ranges[-1][0], p)
            else:
                ranges.append((p, p))
    else:
        start = 0
        for p in cut + [MAX_CODE_POINT + 1]:
            if p > start:
                ranges.append((start, p - 1))
            start = p + 1
    # UTF-8 cannot encode surrogates.
    clean: list[tuple[int, int]] = []
    for a, b in ranges:
        if b < SURROGATES[0] or a > SURROGATES[1]:
            clean.append((a, b))
            continue
        if a < SURROGATES[0]:
            clean.append((a, SURROGATES[0] - 1))
        if b > SURROGATES[1]:
            clean.append((SURROGATES[1] + 1, b))
    return clean


_NOT_REGULAR = {
    "ASSERT": "lookahead/lookbehind",
    "ASSERT_NOT": "negative lookahead/lookbehind",
    "GROUPREF": "a backreference",
    "GROUPREF_EXISTS": "a conditional backreference",
    "AT": "an anchor (^, $, \\b, \\A, \\Z)",
}


def _check_regular(regex: str, name: str) -> None:
    """Reject features a lexer's DFA cannot honour, walking Python's own parse of the regex."""
    try:
        tree = re_parser.parse(regex)
    except re.error as exc:
        raise UnsupportedRegexError(f"terminal {name}: invalid regex /{regex}/: {exc}") from exc

    def walk(items) -> None:
        for op, arg in items:
            feature = _NOT_REGULAR.get(str(op))
            if feature:
                raise UnsupportedRegexError(f"terminal {name}: regex /{regex}/ uses {feature}, which is not regular")
            for sub in arg if isinstance(arg, (list, tuple)) else [arg]:
                if isinstance(sub, re_parser.SubPattern):
                    walk(sub)
                elif isinstance(sub, (list, tuple)):
                    for x in sub:
                        if isinstance(x, re_parser.SubPattern):
                            walk(x)

    walk(tree)


@functools.lru_cache(maxsize=4096)
def regex_to_dfa(regex: str, name: str = "<regex>") -> ByteDFA:
    """Compile `regex` (Python syntax) to a trimmed byte-level DFA; errors name the terminal.
    Kept per process: grammars share terminals (every schema's punctuation)."""
    _check_regular(regex, name)
    try:
        fsm = interegular.parse_pattern(regex).to_fsm()
    except interegular.patterns.Unsupported as exc:
        raise UnsupportedRegexError(f"terminal {name}: regex /{regex}/ cannot be compiled to a DFA: {exc}") from exc
    except Exception as exc:  # interegular raises plain exceptions for syntax it cannot parse
        raise UnsupportedRegexError(f"terminal {name}: cannot parse regex /{regex}/: {exc}") from exc

    symbol_chars: dict[int, set[str]] = {}
    explicit: set[str] = set()
    other_symbol = None
    for char, symbol in fsm.alphabet.items():
        if char is interegular.fsm.anything_else:
            other_symbol = symbol
        elif len(char) != 1:
            raise UnsupportedRegexError(
                f"terminal {name}: regex /{regex}/ matches {char!r} as one symbol (case folding to several characters)"
            )
        else:
            symbol_chars.setdefault(symbol, set()).add(char)
            explicit.add(char)
    symbol_ranges: dict[int, list[tuple[int, int]]] = {
        symbol: _code_point_ranges(chars, set()) for symbol, chars in symbol_chars.items()
    }
    if other_symbol is not None:
        symbol_ranges[other_symbol] = symbol_ranges.get(other_symbol, []) + _code_point_ranges(None, explicit)
    index = {s: i for i, s in enumerate(sorted(fsm.states))}
    edges: list[list[tuple[int, int, int]]] = [[] for _ in index]
    for src, symbol_edges in fsm.map.items():
        for symbol, dst in symbol_edges.items():
            edges[index[src]].extend((lo, hi, index[dst]) for lo, hi in symbol_ranges.get(symbol, []))
    accepting = [False] * len(index)
    for s in fsm.finals:
        accepting[index[s]] = True
    return code_point_dfa_to_bytes(edges, accepting, start=index[fsm.initial])


Pieces = tuple[tuple[int, int, int], ...]  # sorted, disjoint (lo, hi, target)
UTF8_FORMS = ((1, 0x80, 0x7FF, 0xC0), (2, 0x800, 0xFFFF, 0xE0), (3, 0x10000, MAX_CODE_POINT, 0xF0))
# (continuation bytes, lowest and highest code point, lead byte of code point 0)


def clip(pieces, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """The part of sorted, disjoint (lo, hi, target) `pieces` inside lo..hi."""
    out = []
    for a, b, t in pieces:
        if b < lo:
            continue
        if a > hi:
            break
        out.append((max(a, lo), min(b, hi), t))
    return out


def split_blocks(pieces, unit: int) -> list[tuple[int, int, Pieces]]:
    """Sorted, disjoint (lo, hi, target) `pieces` cut into blocks of `unit` values: (first
    block, last block, the pieces inside each as offsets from its start), sorted; a run of
    blocks inside one piece comes as one item. (A UTF-8 lead byte, a hex digit of `\\uXXXX`
    or a high surrogate chooses a block; what follows chooses within it.)"""
    whole: list[tuple[int, int, Pieces]] = []
    partial: dict[int, list[tuple[int, int, int]]] = {}
    for a, b, t in pieces:
        block_a, off_a = divmod(a, unit)
        block_b, off_b = divmod(b, unit)
        first = block_a if off_a == 0 else block_a + 1
        last = block_b if off_b == unit - 1 else block_b - 1
        if block_a == block_b and first > last:
            partial.setdefault(block_a, []).append((off_a, off_b, t))
            continue
        if off_a:
            partial.setdefault(block_a, []).append((off_a, unit - 1, t))
        if off_b != unit - 1:
            partial.setdefault(block_b, []).append((0, off_b, t))
        if first <= last:
            whole.append((first, last, ((0, unit - 1, t),)))
    return sorted(whole + [(block, block, tuple(inner)) for block, inner in partial.items()])


def digit_trie(pieces: Pieces, digits: int, radix: int, spell, memo: dict, add_state) -> int:
    """The state reading the last `digits` base-`radix` digits of a value, where `pieces` (by
    value) say where each value leads; states are shared through `memo` by what they lead to.
    `spell(lo, hi)` gives the symbol ranges writing the digits lo..hi, `add_state(row)` makes a
    state with that row of (lo, hi, target) symbol ranges. (The continuation bytes of a UTF-8
    character; the hex digits of a JSON `\\uXXXX` escape.)"""
    key = (digits, pieces)
    state = memo.get(key)
    if state is None:
        row = []
        for lo, hi, inner in split_blocks(pieces, radix ** (digits - 1)):
            target = inner[0][2] if digits == 1 else digit_trie(inner, digits - 1, radix, spell, memo, add_state)
            row += [(c_lo, c_hi, target) for c_lo, c_hi in spell(lo, hi)]
        state = memo[key] = add_state(row)
    return state


def code_point_dfa_to_bytes(
    edges: list[list[tuple[int, int, int]]], accepting: list[bool], start: int = 0
) -> ByteDFA:
    """A trimmed, minimised ByteDFA for a deterministic automaton over code points given as
    range edges `edges[state] = [(lo, hi, target), ...]` (surrogates, which UTF-8 cannot
    encode, are dropped). Built directly: a state per code point state, and the states inside
    a multi-byte character shared by what their remaining bytes can lead to."""
    order = [start] + [s for s in range(len(edges)) if s != start]  # the start becomes state 0
    index = {s: i for i, s in enumerate(order)}
    rows: list[list[tuple[int, int, int]]] = [[] for _ in order]  # then the states inside characters
    inside: dict[tuple[int, Pieces], int] = {}

    def add_state(row: list[tuple[int, int, int]]) -> int:
        rows.append(row)
        return len(rows) - 1

    def continuation(k: int, pieces: Pieces) -> int:
        """The state reading the last `k` bytes of a character, `pieces` by code point offset."""
        return digit_trie(pieces, k, 64, lambda lo, hi: ((0x80 + lo, 0x80 + hi),), inside, add_state)

    for s in order:
        if all(hi < 0x80 for _, hi, _ in edges[s]):  # ASCII only (most states of keys and literals)
            rows[index[s]] = [(lo, hi, index[t]) for lo, hi, t in edges[s]]
            continue
        pieces = sorted((a, b, index[t]) for lo, hi, t in edges[s] for a, b in _without_surrogates(lo, hi))
        row = clip(pieces, 0, 0x7F)
        for k, lowest, highest, lead in UTF8_FORMS:
            form = clip(pieces, lowest, highest)
            row += [(lead + lo, lead + hi, continuation(k, inner)) for lo, hi, inner in split_blocks(form, 64 ** k)]
        rows[index[s]] = row
    trans = np.full((len(rows), 256), -1, dtype=np.int32)
    for state, row in enumerate(rows):
        for lo, hi, t in row:
            trans[state, lo:hi + 1] = t
    final = np.zeros(len(rows), dtype=bool)
    final[[index[s] for s, acc in enumerate(accepting) if acc]] = True
    return trim(trans, final)


def _without_surrogates(lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    if lo < SURROGATES[0]:
        out.append((lo, min(hi, SURROGATES[0] - 1)))
    if hi > SURROGATES[1]:
        out.append((max(lo, SURROGATES[1] + 1), hi))
    return out


def trim(trans: np.ndarray, accepting: np.ndarray) -> ByteDFA:
    """Drop states that cannot reach acceptance (and unreachable ones); renumber with start 0."""
    keep = np.flatnonzero(_useful_states(np.ascontiguousarray(trans, dtype=np.int32), accepting.astype(np.bool_)))
    if len(keep) == 0:
        raise UnsupportedRegexError("the regex matches no string")
    remap = np.full(trans.shape[0], -1, dtype=np.int32)
    remap[keep] = np.arange(len(keep), dtype=np.int32)
    new = trans[keep]
    new = np.where(new >= 0, remap[np.maximum(new, 0)], -1).astype(np.int32)
    return minimize(new, accepting[keep].copy())


@njit(cache=True)
def predecessors(sources: np.ndarray, targets: np.ndarray, n: int):
    """The edges (sources[e] -> targets[e]) of an n-state automaton reversed, as CSR:
    the predecessors of state t are preds[ptr[t]:ptr[t + 1]]."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    for e in range(len(targets)):
        ptr[targets[e] + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    preds = np.empty(len(targets), dtype=np.int64)
    fill = ptr[:-1].copy()
    for e in range(len(targets)):
        preds[fill[targets[e]]] = sources[e]
        fill[targets[e]] += 1
    return ptr, preds


@njit(cache=True)
def coreachable(ptr: np.ndarray, preds: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """For each state, whether an accepting state can be reached from it (`ptr`, `preds`:
    the reversed edges, from `predecessors`)."""
    n = len(accepting)
    live = accepting.copy()
    stack = np.empty(n, dtype=np.int64)
    top = 0
    for s in range(n):
        if live[s]:
            stack[top] = s
            top += 1
    while top > 0:
        top -= 1
        t = stack[top]
        for j in range(ptr[t], ptr[t + 1]):
            p = preds[j]
            if not live[p]:
                live[p] = True
                stack[top] = p
                top += 1
    return live


@njit(cache=True)
def _useful_states(trans: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """States reachable from state 0 through states that can reach acceptance (none when
    state 0 cannot)."""
    n, k = trans.shape
    n_edges = 0
    for s in range(n):
        for b in range(k):
            if trans[s, b] >= 0:
                n_edges += 1
    sources = np.empty(n_edges, dtype=np.int64)
    targets = np.empty(n_edges, dtype=np.int64)
    e = 0
    for s in range(n):
        for b in range(k):
            if trans[s, b] >= 0:
                sources[e] = s
                targets[e] = trans[s, b]
                e += 1
    ptr, preds = predecessors(sources, targets, n)
    live = coreachable(ptr, preds, accepting)
    useful = np.zeros(n, dtype=np.bool_)
    if n == 0 or not live[0]:
        return useful
    stack = np.empty(n, dtype=np.int64)
    useful[0] = True
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        s = stack[top]
        for b in range(k):
            t = trans[s, b]
            if t >= 0 and live[t] and not useful[t]:
                useful[t] = True
                stack[top] = t
                top += 1
    return useful


def equivalence_classes(trans: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Class of each state of a DFA (`trans[state, symbol]`, -1 for no edge) under language
    equivalence, numbered by first appearance (so the start state's class is 0). Symbols that
    every state treats alike are one symbol; the refinement is Hopcroft's, O(n k log n)
    (Moore's round-by-round refinement needs as many rounds as the longest distinguishing
    string: a thousand for a `maxLength: 1000` counter)."""
    if trans.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    columns = np.ascontiguousarray(trans[:, _distinct_columns(trans)], dtype=np.int64)
    blocks = _hopcroft(columns, np.ascontiguousarray(accepting, dtype=np.bool_))
    _, first, inverse = np.unique(blocks, return_index=True, return_inverse=True)
    order = np.empty(len(first), dtype=np.int64)
    order[np.argsort(first, kind="stable")] = np.arange(len(first))
    return order[inverse.reshape(-1)]


def _distinct_columns(trans: np.ndarray) -> np.ndarray:
    """Index of the first of each distinct column, in order: columns hashed by a fixed random
    projection, equal hashes checked equal (sorting whole columns, as np.unique(axis=1) does,
    costs more than the refinement on large automata)."""
    weights = np.random.default_rng(0).integers(1, 1 << 62, size=trans.shape[0], dtype=np.int64)
    hashes = (trans.astype(np.int64) + 2).T @ weights  # wraps around: a hash, not a sum
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    representative = first[inverse.reshape(-1)]
    if not (trans == trans[:, representative]).all():  # a collision: compare columns exactly
        _, first = np.unique(trans, axis=1, return_index=True)
    return np.sort(first)


@njit(cache=True)
def _hopcroft(trans: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Block of each state in the coarsest partition that separates accepting from other
    states and is stable under every symbol; missing edges go to an implicit sink state."""
    n, k = trans.shape
    size = n + 1  # state n is the sink
    # Predecessors by (symbol, target), compressed rows: every state has one target per symbol.
    ptr = np.zeros(k * size + 1, dtype=np.int64)
    for s in range(n):
        for a in range(k):
            t = trans[s, a]
            ptr[a * size + (t if t >= 0 else n) + 1] += 1
    for a in range(k):
        ptr[a * size + n + 1] += 1  # the sink's own edges
    for i in range(k * size):
        ptr[i + 1] += ptr[i]
    preds = np.empty(k * size, dtype=np.int64)
    fill = ptr[:-1].copy()
    for s in range(size):
        for a in range(k):
            t = trans[s, a] if s < n else -1
            slot = a * size + (t if t >= 0 else n)
            preds[fill[slot]] = s
            fill[slot] += 1
    # Blocks are ranges of `elems`; `loc` is each state's index there.
    elems = np.empty(size, dtype=np.int64)
    loc = np.empty(size, dtype=np.int64)
    block = np.empty(size, dtype=np.int64)
    first = np.zeros(size + 1, dtype=np.int64)
    end = np.zeros(size + 1, dtype=np.int64)
    marked = np.zeros(size + 1, dtype=np.int64)
    n_accepting = 0
    for s in range(n):
        if accepting[s]:
            n_accepting += 1
    head, tail = 0, n_accepting
    for s in range(size):
        if s < n and accepting[s]:
            elems[head] = s
            loc[s] = head
            block[s] = 0
            head += 1
        else:
            elems[tail] = s
            loc[s] = tail
            block[s] = 1
            tail += 1
    first[0], end[0], first[1], end[1] = 0, n_accepting, n_accepting, size
    n_blocks = 2
    waiting = np.zeros((size + 1) * k, dtype=np.bool_)
    stack = np.empty(max(2 * k, 16), dtype=np.int64)
    top = 0
    if n_accepting > 0:
        smaller = 0 if n_accepting <= size - n_accepting else 1
        for a in range(k):
            stack[top] = smaller * k + a
            top += 1
            waiting[smaller * k + a] = True
    splitter = np.empty(size, dtype=np.int64)
    touched = np.empty(size + 1, dtype=np.int64)
    while top > 0:
        top -= 1
        item = stack[top]
        waiting[item] = False
        b, a = item // k, item % k
        count = end[b] - first[b]
        splitter[:count] = elems[first[b]:end[b]]
        n_touched = 0
        for i in range(count):
            t = splitter[i]
            for j in range(ptr[a * size + t], ptr[a * size + t + 1]):
                p = preds[j]
                pb = block[p]
                slot = first[pb] + marked[pb]
                if loc[p] >= slot:  # not yet marked: swap into the block's marked prefix
                    q = elems[slot]
                    elems[loc[p]] = q
                    loc[q] = loc[p]
                    elems[slot] = p
                    loc[p] = slot
                    if marked[pb] == 0:
                        touched[n_touched] = pb
                        n_touched += 1
                    marked[pb] += 1
        for i in range(n_touched):
            y = touched[i]
            m = marked[y]
            marked[y] = 0
            total = end[y] - first[y]
            if m == total:
                continue
            z = n_blocks
            n_blocks += 1
            if m <= total - m:  # the new block is the smaller part: relabel fewer states
                first[z], end[z] = first[y], first[y] + m
                first[y] = first[y] + m
            else:
                first[z], end[z] = first[y] + m, end[y]
                end[y] = first[y] + m
            for j in range(first[z], end[z]):
                block[elems[j]] = z
            small = z if end[z] - first[z] <= end[y] - first[y] else y
            for c in range(k):
                add = z if waiting[y * k + c] else small
                if top == len(stack):
                    grown = np.empty(2 * len(stack), dtype=np.int64)
                    grown[:top] = stack[:top]
                    stack = grown
                stack[top] = add * k + c
                top += 1
                waiting[add * k + c] = True
    return block[:n].copy()


def minimize(trans: np.ndarray, accepting: np.ndarray) -> ByteDFA:
    """Merge equivalent states; the start stays state 0."""
    state_class = equivalence_classes(trans, accepting)  # numbered by first appearance: the start's is 0
    _, representative = np.unique(state_class, return_index=True)
    new_trans = trans[representative]
    new_trans = np.where(new_trans >= 0, state_class[np.maximum(new_trans, 0)], -1).astype(np.int32)
    return ByteDFA(trans=new_trans, accepting=accepting[representative].copy())


def split_on_byte(dfa: ByteDFA, byte: int) -> tuple[ByteDFA | None, ByteDFA | None]:
    """The strings of `dfa` without `byte`, and those with it (None where there are none)."""
    n = dfa.n_states
    seen_trans = np.where(dfa.trans >= 0, dfa.trans + n, -1).astype(np.int32)  # once seen, stays seen
    first = dfa.trans.copy()
    first[:, byte] = seen_trans[:, byte]
    trans = np.concatenate([first, seen_trans])
    parts = []
    for seen in (False, True):
        accepting = np.concatenate([dfa.accepting & (not seen), dfa.accepting & seen])
        try:
            parts.append(trim(trans, accepting))
        except UnsupportedRegexError:  # no such string
            parts.append(None)
    return parts[0], parts[1]
