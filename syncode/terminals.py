"""Terminal regexes to byte-level DFAs.

Owns the translation of one terminal's regular expression (Python `re` syntax, as Lark
writes it) into a deterministic automaton over UTF-8 bytes: interegular parses the regex
into a character-level FSM, each character class becomes the UTF-8 byte paths of its
code points, and a subset construction makes the result deterministic. States that
cannot reach an accepting state are removed, so "alive" always means "completable".
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import interegular
import numpy as np

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

    @property
    def n_states(self) -> int:
        return int(self.trans.shape[0])

    def matches(self, data: bytes) -> bool:
        state = 0
        for byte in data:
            state = int(self.trans[state, byte])
            if state < 0:
                return False
        return bool(self.accepting[state])


def _utf8_ranges(lo: int, hi: int) -> list[list[tuple[int, int]]]:
    """Split the code point range [lo, hi] into sequences of byte ranges, one per UTF-8 shape."""
    bounds = [(0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, MAX_CODE_POINT)]
    out: list[list[tuple[int, int]]] = []
    for n_bytes, (blo, bhi) in enumerate(bounds, start=1):
        a, b = max(lo, blo), min(hi, bhi)
        if a <= b:
            out.extend(_split_same_length(a, b, n_bytes))
    return out


def _encode(cp: int, n_bytes: int) -> list[int]:
    if n_bytes == 1:
        return [cp]
    lead = {2: 0xC0, 3: 0xE0, 4: 0xF0}[n_bytes]
    tail = [0x80 | ((cp >> (6 * i)) & 0x3F) for i in range(n_bytes - 2, -1, -1)]
    return [lead | (cp >> (6 * (n_bytes - 1)))] + tail


def _split_same_length(lo: int, hi: int, n_bytes: int) -> list[list[tuple[int, int]]]:
    """Byte-range sequences for code points lo..hi that all encode in n_bytes bytes."""
    if n_bytes == 1:
        return [[(lo, hi)]]
    # Split until the range covers whole blocks of continuation bytes below a common prefix.
    for i in range(1, n_bytes):
        block = 1 << (6 * i)
        if lo & ~(block - 1) != hi & ~(block - 1):
            if lo & (block - 1) != 0:
                mid = (lo | (block - 1))
                return _split_same_length(lo, mid, n_bytes) + _split_same_length(mid + 1, hi, n_bytes)
            if hi & (block - 1) != block - 1:
                mid = (hi & ~(block - 1)) - 1
                return _split_same_length(lo, mid, n_bytes) + _split_same_length(mid + 1, hi, n_bytes)
    a, b = _encode(lo, n_bytes), _encode(hi, n_bytes)
    return [list(zip(a, b))]


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


def regex_to_dfa(regex: str, name: str = "<regex>") -> ByteDFA:
    """Compile `regex` (Python syntax) to a trimmed byte-level DFA; errors name the terminal."""
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


def code_point_dfa_to_bytes(
    edges: list[list[tuple[int, int, int]]], accepting: list[bool], start: int = 0
) -> ByteDFA:
    """A trimmed, minimised ByteDFA for an automaton over code points given as range edges
    `edges[state] = [(lo, hi, target), ...]` (surrogates, which UTF-8 cannot encode, are dropped)."""
    nfa: list[dict[int, set[int]]] = [dict() for _ in edges]
    for src, row in enumerate(edges):
        for lo, hi, dst in row:
            for a, b in _without_surrogates(lo, hi):
                for path in _utf8_ranges(a, b):
                    cur = src
                    for k, (blo, bhi) in enumerate(path):
                        if k == len(path) - 1:
                            nxt = dst
                        else:
                            nfa.append(dict())
                            nxt = len(nfa) - 1
                        for byte in range(blo, bhi + 1):
                            nfa[cur].setdefault(byte, set()).add(nxt)
                        cur = nxt
    return _determinize(nfa, start, {s for s, acc in enumerate(accepting) if acc})


def _without_surrogates(lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    if lo < SURROGATES[0]:
        out.append((lo, min(hi, SURROGATES[0] - 1)))
    if hi > SURROGATES[1]:
        out.append((max(lo, SURROGATES[1] + 1), hi))
    return out


def _determinize(nfa: list[dict[int, set[int]]], start: int, accepting: set[int]) -> ByteDFA:
    start_set = frozenset([start])
    ids = {start_set: 0}
    order = [start_set]
    rows: list[list[int]] = []
    i = 0
    while i < len(order):
        current = order[i]
        row = [-1] * 256
        by_byte: dict[int, set[int]] = {}
        for s in current:
            for byte, targets in nfa[s].items():
                by_byte.setdefault(byte, set()).update(targets)
        for byte, targets in by_byte.items():
            key = frozenset(targets)
            if key not in ids:
                ids[key] = len(order)
                order.append(key)
            row[byte] = ids[key]
        rows.append(row)
        i += 1
    trans = np.array(rows, dtype=np.int32)
    acc = np.array([bool(s & accepting) for s in order], dtype=bool)
    return trim(trans, acc)


def trim(trans: np.ndarray, accepting: np.ndarray) -> ByteDFA:
    """Drop states that cannot reach acceptance (and unreachable ones); renumber with start 0."""
    n = trans.shape[0]
    live = accepting.copy()
    changed = True
    valid = trans >= 0
    while changed:
        reach_any = (valid & live[np.maximum(trans, 0)]).any(axis=1)
        new_live = live | reach_any
        changed = bool((new_live != live).any())
        live = new_live
    if not live[0]:
        raise UnsupportedRegexError("the regex matches no string")
    # Reachable from the start through live states.
    seen = {0}
    stack = [0]
    while stack:
        s = stack.pop()
        for t in trans[s]:
            t = int(t)
            if t >= 0 and live[t] and t not in seen:
                seen.add(t)
                stack.append(t)
    keep = sorted(seen)
    remap = np.full(n, -1, dtype=np.int32)
    remap[keep] = np.arange(len(keep), dtype=np.int32)
    new = trans[keep]
    new = np.where(new >= 0, remap[np.maximum(new, 0)], -1).astype(np.int32)
    return minimize(new, accepting[keep].copy())


def equivalence_classes(trans: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Class of each state of a DFA (`trans[state, symbol]`, -1 for no edge) under language
    equivalence, numbered by first appearance (Moore refinement on the distinct columns:
    symbols that every state treats alike are refined once)."""
    _, first_column = np.unique(trans, axis=1, return_index=True)
    columns = trans[:, np.sort(first_column)]
    classes = accepting.astype(np.int64)
    n_classes = len(np.unique(classes))
    row = np.dtype((np.void, (columns.shape[1] + 1) * 8))
    while True:
        targets = np.where(columns >= 0, classes[np.maximum(columns, 0)], -1)
        signature = np.ascontiguousarray(np.concatenate([classes[:, None], targets], axis=1), dtype=np.int64)
        _, first, classes = np.unique(signature.view(row).ravel(), return_index=True, return_inverse=True)
        classes = classes.reshape(-1)
        if len(first) == n_classes:
            # Number classes by first appearance (so the start state's class is 0).
            order = np.empty(len(first), dtype=np.int64)
            order[np.argsort(first, kind="stable")] = np.arange(len(first))
            return order[classes]
        n_classes = len(first)


def minimize(trans: np.ndarray, accepting: np.ndarray) -> ByteDFA:
    """Merge equivalent states; the start stays state 0."""
    classes = equivalence_classes(trans, accepting)
    n_classes = int(classes.max()) + 1
    # Renumber classes in order of first appearance so that the start state's class is 0.
    order: dict[int, int] = {}
    for c in classes.tolist():
        order.setdefault(c, len(order))
    renum = np.array([order[c] for c in range(n_classes)], dtype=np.int32)
    state_class = renum[classes]
    new_trans = np.full((n_classes, 256), -1, dtype=np.int32)
    new_acc = np.zeros(n_classes, dtype=bool)
    for s in range(trans.shape[0]):
        c = state_class[s]
        row = trans[s]
        new_trans[c] = np.where(row >= 0, state_class[np.maximum(row, 0)], -1)
        new_acc[c] = accepting[s]
    return ByteDFA(trans=new_trans, accepting=new_acc)


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
