"""Character-level automata: deterministic automata over Unicode code points.

Owns the regular-language algebra the JSON Schema compiler needs and Lark regexes do not
offer: Python regexes (the dialect `jsonschema` judges `pattern` with) compiled with exact
`re.search` or `re.fullmatch` semantics, intersection, union, complement, concatenation,
and the conversion to a byte-level `ByteDFA` for the lexer. Transitions are sorted lists of
disjoint code point ranges, so Unicode classes cost a few ranges, not thousands of edges.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from numba import njit

from .lru import LRU
from .terminals import ByteDFA, code_point_dfa_to_bytes, coreachable, equivalence_classes, predecessors

try:  # Python >= 3.11
    import re._constants as sre_c
    import re._parser as sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as sre_c
    import sre_parse

MAX_CP = 0x10FFFF
Range = tuple[int, int]


class UnsupportedPatternError(ValueError):
    """A regex uses a feature whose language is not regular or not implemented exactly."""


@dataclass
class CharDFA:
    """A DFA over code points: `edges[s]` is a sorted list of disjoint (lo, hi, target);
    missing ranges go to the (implicit) dead state; state 0 starts. An automaton is a value:
    never changed once made (its key is kept, and results are shared by content)."""

    edges: list[list[tuple[int, int, int]]]
    accepting: list[bool]

    @property
    def n_states(self) -> int:
        return len(self.edges)

    def step(self, state: int, cp: int) -> int:
        for lo, hi, t in self.edges[state]:
            if lo <= cp <= hi:
                return t
            if lo > cp:
                break
        return -1

    def accepts(self, text: str) -> bool:
        state = 0
        for ch in text:
            state = self.step(state, ord(ch))
            if state < 0:
                return False
        return self.accepting[state]

    def is_empty(self) -> bool:
        return not any(self.accepting[s] for s in self._reachable())

    def _reachable(self) -> list[int]:
        seen, stack = {0}, [0]
        while stack:
            for _, _, t in self.edges[stack.pop()]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return sorted(seen)

    # ------------------------------------------------------------------ algebra
    def _product(self, other: "CharDFA", mode: int) -> "CharDFA":
        """The minimal product automaton, acceptance by `mode` (_AND, _OR, _AND_NOT)."""
        key = (self.key(), other.key(), mode)
        found = _RESULTS.get(key)
        if found is None:
            found = _RESULTS.put(key, _minimal(*_range_product(*_to_arrays(self), *_to_arrays(other), mode)))
        return found

    def intersect(self, other: "CharDFA") -> "CharDFA":
        if not _overlap(self.edges[0], other.edges[0]):  # at most the empty string in common
            return CharDFA([[]], [self.accepting[0] and other.accepting[0]])
        return self._product(other, _AND)

    def union(self, other: "CharDFA") -> "CharDFA":
        if _overlap(self.edges[0], other.edges[0]):
            return self._product(other, _OR)
        # No first character in common (a string or null, say): a new start state with both
        # start states' edges, then the two automata side by side.
        shift = self.n_states + 1
        start = coalesce([(lo, hi, t + 1) for lo, hi, t in self.edges[0]] +
                         [(lo, hi, t + shift) for lo, hi, t in other.edges[0]])
        edges = ([start] + [[(lo, hi, t + 1) for lo, hi, t in row] for row in self.edges] +
                 [[(lo, hi, t + shift) for lo, hi, t in row] for row in other.edges])
        accepting = [self.accepting[0] or other.accepting[0]] + self.accepting + other.accepting
        return CharDFA(edges, accepting).minimize()

    def difference(self, other: "CharDFA") -> "CharDFA":
        return self._product(other, _AND_NOT)

    def concat(self, other: "CharDFA") -> "CharDFA":
        nfa = NFA()
        a0, a1 = nfa.embed(self)
        b0, b1 = nfa.embed(other)
        nfa.eps(a1, b0)
        return nfa.to_dfa(a0, b1)

    def minimize(self) -> "CharDFA":
        """Trim dead and unreachable states and merge equivalent ones; states are numbered
        breadth-first from the start (edges in range order), so equal languages give equal
        automata."""
        key = self.key()
        found = _RESULTS.get(key)
        if found is None:
            found = _RESULTS.put(key, _minimal(*_to_arrays(self)))
        return found

    def live_states(self) -> list[bool]:
        """For each state, whether some accepting state is reachable from it."""
        ptr, _, _, tgt, accepting = _to_arrays(self)
        return _live(ptr, tgt, accepting).tolist()

    def key(self) -> tuple:
        """A hashable form; equal for equal languages once minimised."""
        key = self.__dict__.get("_key")
        if key is None:
            key = self.__dict__["_key"] = (tuple(map(tuple, self.edges)), tuple(self.accepting))
        return key

    @staticmethod
    def from_key(key: tuple) -> "CharDFA":
        """The automaton a `key()` was taken from."""
        return CharDFA([list(row) for row in key[0]], list(key[1]))

    def to_byte_dfa(self) -> ByteDFA:
        """The same language over UTF-8 bytes (surrogate code points have no UTF-8 form)."""
        return _byte_dfa(self.key())


_RESULTS = LRU(budget=4096)  # products and minimisations by their operands' keys


@functools.lru_cache(maxsize=4096)
def _byte_dfa(key: tuple) -> ByteDFA:
    """Byte DFAs by automaton structure: schemas share most of their terminals."""
    dfa = CharDFA.from_key(key)
    return code_point_dfa_to_bytes(dfa.edges, dfa.accepting)


def _overlap(ea, eb) -> bool:
    """Whether two sorted range lists share a code point."""
    i = j = 0
    while i < len(ea) and j < len(eb):
        if ea[i][1] < eb[j][0]:
            i += 1
        elif eb[j][1] < ea[i][0]:
            j += 1
        else:
            return True
    return False


def coalesce(row: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Sort and merge adjacent ranges with the same target."""
    out: list[tuple[int, int, int]] = []
    for lo, hi, t in sorted(row):
        if out and out[-1][2] == t and out[-1][1] + 1 == lo:
            out[-1] = (out[-1][0], hi, t)
        else:
            out.append((lo, hi, t))
    return out


# ---------------------------------------------------------------------- array kernels
# A CharDFA as arrays (CSR): state s has edges ptr[s]:ptr[s+1] of `lo`, `hi`, `tgt` (int64),
# sorted and disjoint. Products and minimisation run on these in Numba.

_AND, _OR, _AND_NOT = 0, 1, 2
_HASH = 0x9E3779B1  # multiplicative hashing of pair keys


def _to_arrays(dfa: "CharDFA"):
    counts = np.fromiter((len(row) for row in dfa.edges), dtype=np.int64, count=len(dfa.edges))
    ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    flat = np.array([edge for row in dfa.edges for edge in row], dtype=np.int64).reshape(-1, 3)
    return (ptr, np.ascontiguousarray(flat[:, 0]), np.ascontiguousarray(flat[:, 1]),
            np.ascontiguousarray(flat[:, 2]), np.array(dfa.accepting, dtype=np.bool_))


def _from_arrays(ptr, lo, hi, tgt, accepting) -> "CharDFA":
    triples = list(zip(lo.tolist(), hi.tolist(), tgt.tolist()))
    bounds = ptr.tolist()
    return CharDFA([triples[bounds[s]: bounds[s + 1]] for s in range(len(bounds) - 1)], accepting.tolist())


@njit(cache=True)
def _grow(arr, need):
    if need <= len(arr):
        return arr
    out = np.empty(max(need, 2 * len(arr)), dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


@njit(cache=True)
def _pair_slot(table, qa, qb, nb1, a, b):
    """The slot of the pair (a, b) in `table` (pair indices into qa/qb), or the empty slot
    where it goes."""
    mask = len(table) - 1
    slot = (((a + 1) * nb1 + (b + 1)) * _HASH) & mask
    while table[slot] >= 0 and (qa[table[slot]] != a or qb[table[slot]] != b):
        slot = (slot + 1) & mask
    return slot


@njit(cache=True)
def _range_product(pa, la, ha, ta, acc_a, pb, lb, hb, tb, acc_b, mode):
    """The product automaton of two range DFAs (pairs reachable from (0, 0); a component of
    -1 is dead), acceptance by `mode` (_AND, _OR, _AND_NOT); pairs that cannot accept under
    the mode (a dead component of an intersection, a dead first component of a difference)
    are not built. Ranges are split where either side's change, adjacent equal targets merged."""
    nb1 = len(pb)  # pair keys (a + 1) * nb1 + (b + 1): b + 1 ranges over 0..nb
    table = np.full(64, -1, dtype=np.int64)  # open addressing: the index of a pair, or -1
    qa = np.zeros(16, dtype=np.int64)  # the pairs, in discovery order; the first is (0, 0)
    qb = np.zeros(16, dtype=np.int64)
    table[_pair_slot(table, qa, qb, nb1, 0, 0)] = 0
    n_pairs = 1
    out_ptr = np.zeros(17, dtype=np.int64)
    out_lo = np.empty(64, dtype=np.int64)
    out_hi = np.empty(64, dtype=np.int64)
    out_t = np.empty(64, dtype=np.int64)
    out_acc = np.empty(16, dtype=np.bool_)
    n_edges = 0
    big = np.int64(1) << np.int64(40)
    i = 0
    while i < n_pairs:
        a = qa[i]
        b = qb[i]
        x_a = acc_a[a] if a >= 0 else False
        x_b = acc_b[b] if b >= 0 else False
        out_acc = _grow(out_acc, i + 1)
        if mode == _AND:
            out_acc[i] = x_a and x_b
        elif mode == _OR:
            out_acc[i] = x_a or x_b
        else:
            out_acc[i] = x_a and not x_b
        ia = pa[a] if a >= 0 else 0
        ea = pa[a + 1] if a >= 0 else 0
        ib = pb[b] if b >= 0 else 0
        eb = pb[b + 1] if b >= 0 else 0
        x = np.int64(-1)
        row_start = n_edges
        while True:
            while ia < ea and ha[ia] < x:
                ia += 1
            while ib < eb and hb[ib] < x:
                ib += 1
            if ia >= ea and ib >= eb:
                break
            sa = max(la[ia], x) if ia < ea else big
            sb = max(lb[ib], x) if ib < eb else big
            lo = min(sa, sb)
            t_a = ta[ia] if ia < ea and la[ia] <= lo else -1
            t_b = tb[ib] if ib < eb and lb[ib] <= lo else -1
            hi = big
            if t_a >= 0:
                hi = min(hi, ha[ia])
            elif ia < ea:
                hi = min(hi, la[ia] - 1)
            if t_b >= 0:
                hi = min(hi, hb[ib])
            elif ib < eb:
                hi = min(hi, lb[ib] - 1)
            x = hi + 1
            if (mode == _AND and (t_a < 0 or t_b < 0)) or (mode == _AND_NOT and t_a < 0):
                continue
            slot = _pair_slot(table, qa, qb, nb1, t_a, t_b)
            target = table[slot]
            if target < 0:
                qa = _grow(qa, n_pairs + 1)
                qb = _grow(qb, n_pairs + 1)
                qa[n_pairs] = t_a
                qb[n_pairs] = t_b
                target = table[slot] = n_pairs
                n_pairs += 1
                if 2 * n_pairs > len(table):  # rehash at half load
                    table = np.full(4 * len(table), -1, dtype=np.int64)
                    for k in range(n_pairs):
                        table[_pair_slot(table, qa, qb, nb1, qa[k], qb[k])] = k
            if n_edges > row_start and out_t[n_edges - 1] == target and out_hi[n_edges - 1] + 1 == lo:
                out_hi[n_edges - 1] = hi
            else:
                out_lo = _grow(out_lo, n_edges + 1)
                out_hi = _grow(out_hi, n_edges + 1)
                out_t = _grow(out_t, n_edges + 1)
                out_lo[n_edges] = lo
                out_hi[n_edges] = hi
                out_t[n_edges] = target
                n_edges += 1
        out_ptr = _grow(out_ptr, i + 2)
        out_ptr[i + 1] = n_edges
        i += 1
    out_ptr[0] = 0
    return out_ptr[: n_pairs + 1].copy(), out_lo[:n_edges].copy(), out_hi[:n_edges].copy(), out_t[:n_edges].copy(), \
        out_acc[:n_pairs].copy()


@njit(cache=True)
def _live(ptr, tgt, accepting):
    """For each state of a range DFA given as arrays, whether it can reach acceptance."""
    n = len(ptr) - 1
    sources = np.empty(len(tgt), dtype=np.int64)
    for state in range(n):
        sources[ptr[state]: ptr[state + 1]] = state
    pred_ptr, preds = predecessors(sources, tgt, n)
    return coreachable(pred_ptr, preds, accepting)


@njit(cache=True)
def _live_and_reachable(ptr, lo, hi, tgt, accepting):
    """States that can reach acceptance, and the states reachable from 0 through them (sorted;
    empty when state 0 is not live)."""
    n = len(ptr) - 1
    live = _live(ptr, tgt, accepting)
    stack = np.empty(n, dtype=np.int64)
    seen = np.zeros(n, dtype=np.bool_)
    if n == 0 or not live[0]:
        return live, np.zeros(0, dtype=np.int64)
    seen[0] = True
    stack[0] = 0
    top = 1
    while top:
        top -= 1
        s = stack[top]
        for e in range(ptr[s], ptr[s + 1]):
            t = tgt[e]
            if live[t] and not seen[t]:
                seen[t] = True
                stack[top] = t
                top += 1
    return live, np.flatnonzero(seen)


@njit(cache=True)
def _interval_table(ptr, lo, hi, tgt, live, reach):
    """The transitions of the `reach` states over the intervals between all their range ends,
    as a dense table of indices into `reach` (-1: dead)."""
    index = np.full(len(ptr) - 1, -1, dtype=np.int64)
    for i in range(len(reach)):
        index[reach[i]] = i
    n_ends = 0
    for s in reach:
        n_ends += 2 * (ptr[s + 1] - ptr[s])
    ends = np.empty(n_ends, dtype=np.int64)
    k = 0
    for s in reach:
        for e in range(ptr[s], ptr[s + 1]):
            if live[tgt[e]]:
                ends[k] = lo[e]
                ends[k + 1] = hi[e] + 1
                k += 2
    points = np.unique(ends[:k])
    table = np.full((len(reach), max(len(points) - 1, 1)), -1, dtype=np.int64)
    for i in range(len(reach)):
        s = reach[i]
        for e in range(ptr[s], ptr[s + 1]):
            if live[tgt[e]]:
                a = np.searchsorted(points, lo[e])
                b = np.searchsorted(points, hi[e] + 1)
                table[i, a:b] = index[tgt[e]]
    return table


@njit(cache=True)
def _canonical(ptr, lo, hi, tgt, accepting, live, reach, classes):
    """The quotient automaton, states numbered breadth-first from the start (edges in range
    order) and adjacent ranges with one target merged: equal languages, equal arrays."""
    n_classes = classes.max() + 1
    first = np.full(n_classes, -1, dtype=np.int64)  # the smallest state of each class
    cls = np.full(len(ptr) - 1, -1, dtype=np.int64)
    for i in range(len(reach)):
        cls[reach[i]] = classes[i]
        if first[classes[i]] < 0:
            first[classes[i]] = reach[i]
    renum = np.full(n_classes, -1, dtype=np.int64)
    order = np.empty(n_classes, dtype=np.int64)  # class of each new state
    renum[cls[0]] = 0
    order[0] = cls[0]
    n_new = 1
    head = 0
    while head < n_new:
        s = first[order[head]]
        head += 1
        for e in range(ptr[s], ptr[s + 1]):
            if live[tgt[e]]:
                c = cls[tgt[e]]
                if renum[c] < 0:
                    renum[c] = n_new
                    order[n_new] = c
                    n_new += 1
    n_out = 0
    for j in range(n_new):
        s = first[order[j]]
        n_out += ptr[s + 1] - ptr[s]
    out_ptr = np.zeros(n_new + 1, dtype=np.int64)
    out_lo = np.empty(n_out, dtype=np.int64)
    out_hi = np.empty(n_out, dtype=np.int64)
    out_t = np.empty(n_out, dtype=np.int64)
    out_acc = np.empty(n_new, dtype=np.bool_)
    k = 0
    for j in range(n_new):
        s = first[order[j]]
        out_acc[j] = accepting[s]
        row = k
        for e in range(ptr[s], ptr[s + 1]):
            if not live[tgt[e]]:
                continue
            t = renum[cls[tgt[e]]]
            if k > row and out_t[k - 1] == t and out_hi[k - 1] + 1 == lo[e]:
                out_hi[k - 1] = hi[e]
            else:
                out_lo[k] = lo[e]
                out_hi[k] = hi[e]
                out_t[k] = t
                k += 1
        out_ptr[j + 1] = k
    return out_ptr, out_lo[:k].copy(), out_hi[:k].copy(), out_t[:k].copy(), out_acc


def _minimal(ptr, lo, hi, tgt, accepting) -> "CharDFA":
    """The canonical minimal automaton of a range DFA given as arrays."""
    live, reach = _live_and_reachable(ptr, lo, hi, tgt, accepting)
    if not len(reach):
        return CharDFA([[]], [False])
    table = _interval_table(ptr, lo, hi, tgt, live, reach)
    classes = equivalence_classes(table, accepting[reach])
    return _from_arrays(*_canonical(ptr, lo, hi, tgt, accepting, live, reach, classes))


# ---------------------------------------------------------------------- constructors
def literal(text: str) -> CharDFA:
    """Exactly the string `text`."""
    edges = [[(ord(c), ord(c), i + 1)] for i, c in enumerate(text)] + [[]]
    return CharDFA(edges, [False] * len(text) + [True])


def any_string(min_len: int = 0, max_len: int | None = None, ranges: list[Range] | None = None) -> CharDFA:
    """Strings of `min_len` to `max_len` (None: unbounded) characters from `ranges` (default: all)."""
    ranges = ranges or [(0, MAX_CP)]
    if max_len is not None and max_len < min_len:
        return CharDFA([[]], [False])
    n = min_len + 1 if max_len is None else max_len + 1
    edges = []
    for i in range(n):
        if max_len is None and i == n - 1:
            target = i
        elif i + 1 < n:
            target = i + 1
        else:
            edges.append([])
            continue
        edges.append([(lo, hi, target) for lo, hi in ranges])
    return CharDFA(edges, [i >= min_len for i in range(n)])


def char_set(ranges: list[Range]) -> CharDFA:
    """One character from `ranges`."""
    return any_string(1, 1, ranges)


def from_regex(pattern: str, search: bool = False) -> CharDFA:
    """The language of a Python regex: strings `re.fullmatch` accepts, or with `search=True`
    strings `re.search` finds a match in (anchors then pin the match)."""
    return _compile_regex(pattern, search)


@functools.lru_cache(maxsize=4096)
def _compile_regex(pattern: str, search: bool) -> CharDFA:
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        raise UnsupportedPatternError(f"invalid regex {pattern!r}: {exc}") from exc
    flags = parsed.state.flags
    if flags & re.MULTILINE:
        raise UnsupportedPatternError(f"regex {pattern!r}: the MULTILINE flag is not supported")
    nfa = NFA()
    start, end = nfa.new(), nfa.new()
    _Builder(nfa, pattern, search).sequence(list(parsed), start, end, flags, tail=True)
    if not search:
        return nfa.to_dfa(start, end)
    # re.search: any prefix, then the pattern, then anything (unless $ / \Z pinned the end).
    outer_start, outer_end = nfa.new(), nfa.new()
    nfa.range(outer_start, 0, MAX_CP, outer_start)
    nfa.eps(outer_start, start)
    nfa.eps(end, outer_end)
    nfa.range(outer_end, 0, MAX_CP, outer_end)
    return nfa.to_dfa(outer_start, outer_end)


# ---------------------------------------------------------------------- NFA
class NFA:
    """Thompson NFA with range edges, epsilon edges, and two assertions: BEGIN (only at
    position 0) and END (only at the end of the input)."""

    def __init__(self) -> None:
        self.ranges: list[list[tuple[int, int, int]]] = []
        self.epsilon: list[list[int]] = []
        self.begin: list[list[int]] = []
        self.end: list[list[int]] = []

    def new(self) -> int:
        for lst in (self.ranges, self.epsilon, self.begin, self.end):
            lst.append([])
        return len(self.ranges) - 1

    def eps(self, a: int, b: int) -> None:
        self.epsilon[a].append(b)

    def range(self, a: int, lo: int, hi: int, b: int) -> None:
        self.ranges[a].append((lo, hi, b))

    def embed(self, dfa: CharDFA) -> tuple[int, int]:
        """Copy a DFA in; returns (start, end) with every accepting state linked to end."""
        base = len(self.ranges)
        for _ in range(dfa.n_states):
            self.new()
        end = self.new()
        for s, row in enumerate(dfa.edges):
            for lo, hi, t in row:
                self.range(base + s, lo, hi, base + t)
            if dfa.accepting[s]:
                self.eps(base + s, end)
        return base, end

    def _closure(self, states, begin: bool, end: bool) -> frozenset[int]:
        seen = set(states)
        stack = list(states)
        while stack:
            s = stack.pop()
            nxt = list(self.epsilon[s])
            if begin:
                nxt += self.begin[s]
            if end:
                nxt += self.end[s]
            for t in nxt:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return frozenset(seen)

    def to_dfa(self, start: int, final: int) -> CharDFA:
        first = self._closure([start], begin=True, end=False)
        ids = {first: 0}
        order = [first]
        edges: list[list[tuple[int, int, int]]] = []
        accepting: list[bool] = []
        closures: dict[frozenset[int], frozenset[int]] = {}  # a target set's epsilon closure
        i = 0
        while i < len(order):
            current = order[i]
            accepting.append(final in self._closure(current, begin=(i == 0), end=True))
            events: list[tuple[int, int, int]] = []
            for s in current:
                events.extend(self.ranges[s])
            row = []
            for lo, hi, targets in _partition(events):
                key = closures.get(targets)
                if key is None:
                    key = closures[targets] = self._closure(targets, begin=False, end=False)
                if key not in ids:
                    ids[key] = len(order)
                    order.append(key)
                row.append((lo, hi, ids[key]))
            edges.append(coalesce(row))
            i += 1
        return CharDFA(edges, accepting).minimize()


def _partition(edges: list[tuple[int, int, int]]) -> list[tuple[int, int, frozenset[int]]]:
    """Split overlapping range edges into disjoint ranges with their target sets (one sweep
    over the range ends, so Unicode classes of hundreds of ranges stay cheap)."""
    starts: dict[int, list[int]] = {}
    ends: dict[int, list[int]] = {}
    for lo, hi, t in edges:
        starts.setdefault(lo, []).append(t)
        ends.setdefault(hi + 1, []).append(t)
    points = sorted(starts.keys() | ends.keys())
    active: dict[int, int] = {}  # target -> how many edges to it cover the current point
    out: list[tuple[int, int, frozenset[int]]] = []
    for k in range(len(points) - 1):
        point = points[k]
        for t in ends.get(point, ()):
            active[t] -= 1
            if not active[t]:
                del active[t]
        for t in starts.get(point, ()):
            active[t] = active.get(t, 0) + 1
        if not active:
            continue
        targets, hi = frozenset(active), points[k + 1] - 1
        if out and out[-1][2] == targets and out[-1][1] + 1 == point:
            out[-1] = (out[-1][0], hi, targets)
        else:
            out.append((point, hi, targets))
    return out


# ---------------------------------------------------------------------- regex -> NFA
@functools.lru_cache(maxsize=None)
def category_ranges(category: str, ascii_only: bool = False) -> tuple[Range, ...]:
    """Code point ranges Python's `re` matches with \\d, \\s or \\w (str patterns)."""
    if ascii_only:
        text = "".join(map(chr, range(128)))
        rx = re.compile(f"\\{category}+", re.ASCII)
    else:
        text = "".join(map(chr, range(MAX_CP + 1)))
        rx = re.compile(f"\\{category}+")
    return tuple((m.start(), m.end() - 1) for m in rx.finditer(text))


def complement_ranges(ranges) -> list[Range]:
    out, start = [], 0
    for lo, hi in sorted(ranges):
        if lo > start:
            out.append((start, lo - 1))
        start = max(start, hi + 1)
    if start <= MAX_CP:
        out.append((start, MAX_CP))
    return out


def merge_ranges(ranges) -> list[Range]:
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _case_variants(cp: int) -> set[int]:
    ch = chr(cp)
    out = {cp}
    for v in (ch.lower(), ch.upper(), ch.casefold()):
        if len(v) == 1:
            out.add(ord(v))
    # Characters whose lower form equals ours (e.g. 'K' KELVIN SIGN for 'k') are rare;
    # Python's re folds them too, so look them up.
    out |= _FOLD_TO.get(ch.lower(), set())
    return out


def _build_fold_table() -> dict[str, set[int]]:
    table: dict[str, set[int]] = {}
    for cp in range(MAX_CP + 1):
        low = chr(cp).lower()
        if len(low) == 1 and low != chr(cp):
            table.setdefault(low, set()).add(cp)
    return table


_FOLD_TO: dict[str, set[int]] = {}


_CATEGORIES = {
    "CATEGORY_DIGIT": ("d", False), "CATEGORY_NOT_DIGIT": ("d", True),
    "CATEGORY_SPACE": ("s", False), "CATEGORY_NOT_SPACE": ("s", True),
    "CATEGORY_WORD": ("w", False), "CATEGORY_NOT_WORD": ("w", True),
}


class _Builder:
    """Thompson construction from Python's own regex parse tree."""

    def __init__(self, nfa: NFA, pattern: str, search: bool) -> None:
        self.nfa = nfa
        self.pattern = pattern
        self.search = search

    def fail(self, what: str) -> UnsupportedPatternError:
        return UnsupportedPatternError(f"regex {self.pattern!r} uses {what}, which syncode cannot compile exactly")

    def sequence(self, items, a: int, b: int, flags: int, tail: bool) -> None:
        """Items in order from a to b; `tail`: nothing follows b in the whole pattern."""
        if not items:
            self.nfa.eps(a, b)
            return
        cur = a
        for k, item in enumerate(items):
            nxt = b if k == len(items) - 1 else self.nfa.new()
            self.item(item, cur, nxt, flags, tail and k == len(items) - 1)
            cur = nxt

    def chars(self, ranges, a: int, b: int, flags: int) -> None:
        if flags & re.IGNORECASE:
            ranges = self._fold(ranges)
        for lo, hi in merge_ranges(ranges):
            self.nfa.range(a, lo, hi, b)

    def _fold(self, ranges) -> list[Range]:
        if not _FOLD_TO:
            _FOLD_TO.update(_build_fold_table())
        extra = []
        for lo, hi in ranges:
            if hi - lo > 5000:
                raise self.fail("a case-insensitive class wider than 5000 characters")
            for cp in range(lo, hi + 1):
                extra.extend((v, v) for v in _case_variants(cp))
        return list(ranges) + extra

    def category(self, name: str, flags: int) -> list[Range]:
        letter, negate = _CATEGORIES[name]
        ranges = list(category_ranges(letter, bool(flags & re.ASCII)))
        return complement_ranges(ranges) if negate else ranges

    def item(self, item, a: int, b: int, flags: int, tail: bool) -> None:
        op, arg = item
        op = str(op)
        if op == "LITERAL":
            self.chars([(arg, arg)], a, b, flags)
        elif op == "NOT_LITERAL":
            self.chars(complement_ranges(self._fold([(arg, arg)]) if flags & re.IGNORECASE else [(arg, arg)]), a, b, 0)
        elif op == "ANY":
            self.chars([(0, MAX_CP)] if flags & re.DOTALL else complement_ranges([(10, 10)]), a, b, 0)
        elif op == "IN":
            self.char_class(arg, a, b, flags)
        elif op == "BRANCH":
            for alternative in arg[1]:
                self.sequence(list(alternative), a, b, flags, tail)
        elif op == "SUBPATTERN":
            _, add, remove, sub = arg
            self.sequence(list(sub), a, b, (flags | add) & ~remove, tail)
        elif op in ("MAX_REPEAT", "MIN_REPEAT"):
            lo, hi, sub = arg
            self.repeat(list(sub), lo, hi, a, b, flags, tail)
        elif op == "AT":
            self.anchor(str(arg), a, b, tail)
        elif op in ("POSSESSIVE_REPEAT", "ATOMIC_GROUP"):
            raise self.fail("possessive repetition or an atomic group")
        elif op in ("GROUPREF", "GROUPREF_EXISTS"):
            raise self.fail("a backreference")
        elif op in ("ASSERT", "ASSERT_NOT"):
            raise self.fail("lookaround")
        else:
            raise self.fail(f"the regex construct {op}")

    def char_class(self, items, a: int, b: int, flags: int) -> None:
        negate = False
        ranges: list[Range] = []
        for op, arg in items:
            op = str(op)
            if op == "NEGATE":
                negate = True
            elif op == "LITERAL":
                ranges.append((arg, arg))
            elif op == "RANGE":
                ranges.append(arg)
            elif op == "CATEGORY":
                ranges.extend(self.category(str(arg), flags))
            else:
                raise self.fail(f"the class item {op}")
        if flags & re.IGNORECASE:
            ranges = self._fold(merge_ranges(ranges))
        if negate:
            ranges = complement_ranges(ranges)
        self.chars(ranges, a, b, 0)

    def repeat(self, sub, lo: int, hi: int, a: int, b: int, flags: int, tail: bool) -> None:
        nfa = self.nfa
        unbounded = hi == sre_c.MAXREPEAT
        if (hi if not unbounded else lo) > 10_000:
            raise self.fail(f"a repetition count over 10000 ({lo}, {hi})")
        cur = a
        for _ in range(lo):
            nxt = nfa.new()
            self.sequence(sub, cur, nxt, flags, tail and hi == 1)
            cur = nxt
        if unbounded:
            # A fresh loop state: a back edge into `cur` could re-enter whatever else leaves it.
            loop, loop_end = nfa.new(), nfa.new()
            nfa.eps(cur, loop)
            self.sequence(sub, loop, loop_end, flags, False)
            nfa.eps(loop_end, loop)
            nfa.eps(loop, b)
            return
        for _ in range(hi - lo):
            nxt = nfa.new()
            nfa.eps(cur, b)
            self.sequence(sub, cur, nxt, flags, tail and hi == 1)
            cur = nxt
        nfa.eps(cur, b)

    def anchor(self, kind: str, a: int, b: int, tail: bool) -> None:
        nfa = self.nfa
        if kind in ("AT_BEGINNING", "AT_BEGINNING_STRING"):
            nfa.begin[a].append(b)
        elif kind == "AT_END_STRING":
            nfa.end[a].append(b)
        elif kind == "AT_END":
            # `$` matches at the end, or (in a search) before a newline that ends the string.
            if not tail:
                raise self.fail("`$` followed by more pattern")
            nfa.end[a].append(b)
            if not self.search:
                return
            mid = nfa.new()
            nfa.range(a, 10, 10, mid)
            nfa.end[mid].append(b)
        else:
            raise self.fail("a word boundary (\\b, \\B)")
