"""Character-level automata: deterministic automata over Unicode code points.

Owns the regular-language algebra the JSON Schema compiler needs and Lark regexes do not
offer: Python regexes (the dialect `jsonschema` judges `pattern` with) compiled with exact
`re.search` or `re.fullmatch` semantics, intersection, union, complement, concatenation,
and the conversion to a byte-level `ByteDFA` for the lexer. Transitions are sorted lists of
disjoint code point ranges, so Unicode classes cost a few ranges, not thousands of edges.
"""
from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass

import numpy as np

from .terminals import ByteDFA, code_point_dfa_to_bytes, equivalence_classes

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
    missing ranges go to the (implicit) dead state; state 0 starts."""

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
    def _product(self, other: "CharDFA", keep) -> "CharDFA":
        """Product automaton; `keep(a_acc, b_acc)` decides acceptance. -1 is a dead component."""
        ids = {(0, 0): 0}
        order = [(0, 0)]
        edges: list[list[tuple[int, int, int]]] = []
        accepting: list[bool] = []
        i = 0
        while i < len(order):
            a, b = order[i]
            ea = self.edges[a] if a >= 0 else []
            eb = other.edges[b] if b >= 0 else []
            row = []
            for lo, hi, (ta, tb) in _merge_edges(ea, eb):
                if ta < 0 and tb < 0:
                    continue
                key = (ta, tb)
                if key not in ids:
                    ids[key] = len(order)
                    order.append(key)
                row.append((lo, hi, ids[key]))
            edges.append(coalesce(row))
            accepting.append(keep(a >= 0 and self.accepting[a], b >= 0 and other.accepting[b]))
            i += 1
        return CharDFA(edges, accepting).minimize()

    def intersect(self, other: "CharDFA") -> "CharDFA":
        if not _overlap(self.edges[0], other.edges[0]):  # at most the empty string in common
            return CharDFA([[]], [self.accepting[0] and other.accepting[0]])
        return self._product(other, lambda x, y: x and y)

    def union(self, other: "CharDFA") -> "CharDFA":
        if _overlap(self.edges[0], other.edges[0]):
            return self._product(other, lambda x, y: x or y)
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
        return self._product(other, lambda x, y: x and not y)

    def concat(self, other: "CharDFA") -> "CharDFA":
        nfa = NFA()
        a0, a1 = nfa.embed(self)
        b0, b1 = nfa.embed(other)
        nfa.eps(a1, b0)
        return nfa.to_dfa(a0, b1)

    def minimize(self) -> "CharDFA":
        """Trim dead and unreachable states and merge equivalent ones."""
        live = self.live_states()
        if not live[0]:
            return CharDFA([[]], [False])
        edges = [[(lo, hi, t) for lo, hi, t in row if live[t]] for row in self.edges]
        reach = CharDFA(edges, self.accepting)._reachable()
        cls = _equivalence(edges, self.accepting, reach)
        # Canonical numbering (breadth-first from the start, edges in range order), so equal
        # languages give equal automata.
        first = {}
        for s in reach:
            first.setdefault(cls[s], s)
        renum: dict[int, int] = {cls[0]: 0}
        queue = [0]
        for state in queue:
            for _, _, t in edges[first[cls[state]]]:
                if cls[t] not in renum:
                    renum[cls[t]] = len(renum)
                    queue.append(t)
        out_edges: list[list[tuple[int, int, int]]] = [[] for _ in renum]
        out_acc = [False] * len(renum)
        for c, s in first.items():
            out_edges[renum[c]] = coalesce([(lo, hi, renum[cls[t]]) for lo, hi, t in edges[s]])
            out_acc[renum[c]] = self.accepting[s]
        return CharDFA(out_edges, out_acc)

    def live_states(self) -> list[bool]:
        """For each state, whether some accepting state is reachable from it."""
        preds: list[list[int]] = [[] for _ in self.edges]
        for s, row in enumerate(self.edges):
            for _, _, t in row:
                preds[t].append(s)
        live = list(self.accepting)
        stack = [s for s, acc in enumerate(live) if acc]
        while stack:
            for p in preds[stack.pop()]:
                if not live[p]:
                    live[p] = True
                    stack.append(p)
        return live

    def key(self) -> tuple:
        """A hashable form; equal for equal languages once minimised."""
        return tuple(map(tuple, self.edges)), tuple(self.accepting)

    @staticmethod
    def from_key(key: tuple) -> "CharDFA":
        """The automaton a `key()` was taken from."""
        return CharDFA([list(row) for row in key[0]], list(key[1]))

    def to_byte_dfa(self) -> ByteDFA:
        """The same language over UTF-8 bytes (surrogate code points have no UTF-8 form)."""
        return _byte_dfa(self.key())


@functools.lru_cache(maxsize=4096)
def _byte_dfa(key: tuple) -> ByteDFA:
    """Byte DFAs by automaton structure: schemas share most of their terminals."""
    dfa = CharDFA.from_key(key)
    return code_point_dfa_to_bytes(dfa.edges, dfa.accepting)


def _equivalence(edges: list[list[tuple[int, int, int]]], accepting: list[bool], states: list[int]) -> dict[int, int]:
    """Language-equivalence class of each of `states` (closed under edges): the range edges
    become a dense table over the intervals between all range ends, refined by
    `terminals.equivalence_classes`."""
    index = {s: i for i, s in enumerate(states)}
    points = sorted({lo for s in states for lo, _, _ in edges[s]} | {hi + 1 for s in states for _, hi, _ in edges[s]})
    table = np.full((len(states), max(len(points) - 1, 1)), -1, dtype=np.int64)
    for s in states:
        for lo, hi, t in edges[s]:
            table[index[s], bisect.bisect_left(points, lo):bisect.bisect_left(points, hi + 1)] = index[t]
    classes = equivalence_classes(table, np.array([accepting[s] for s in states], dtype=bool))
    return {s: int(classes[index[s]]) for s in states}


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


def _merge_edges(ea, eb):
    """Walk two sorted range lists together: yields (lo, hi, (target_a, target_b))."""
    points = sorted({lo for lo, _, _ in ea} | {hi + 1 for _, hi, _ in ea} | {lo for lo, _, _ in eb} | {hi + 1 for _, hi, _ in eb})
    ia = ib = 0
    for k in range(len(points) - 1):
        lo, hi = points[k], points[k + 1] - 1
        while ia < len(ea) and ea[ia][1] < lo:
            ia += 1
        while ib < len(eb) and eb[ib][1] < lo:
            ib += 1
        ta = ea[ia][2] if ia < len(ea) and ea[ia][0] <= lo else -1
        tb = eb[ib][2] if ib < len(eb) and eb[ib][0] <= lo else -1
        if ta >= 0 or tb >= 0:
            yield lo, hi, (ta, tb)


def coalesce(row: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Sort and merge adjacent ranges with the same target."""
    out: list[tuple[int, int, int]] = []
    for lo, hi, t in sorted(row):
        if out and out[-1][2] == t and out[-1][1] + 1 == lo:
            out[-1] = (out[-1][0], hi, t)
        else:
            out.append((lo, hi, t))
    return out


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
        i = 0
        while i < len(order):
            current = order[i]
            accepting.append(final in self._closure(current, begin=(i == 0), end=True))
            events: list[tuple[int, int, int]] = []
            for s in current:
                events.extend(self.ranges[s])
            row = []
            for lo, hi, targets in _partition(events):
                key = self._closure(targets, begin=False, end=False)
                if key not in ids:
                    ids[key] = len(order)
                    order.append(key)
                row.append((lo, hi, ids[key]))
            edges.append(coalesce(row))
            i += 1
        return CharDFA(edges, accepting).minimize()


def _partition(edges: list[tuple[int, int, int]]):
    """Split overlapping range edges into disjoint ranges with their target sets."""
    if not edges:
        return []
    points = sorted({lo for lo, _, _ in edges} | {hi + 1 for _, hi, _ in edges})
    out = []
    for k in range(len(points) - 1):
        lo, hi = points[k], points[k + 1] - 1
        targets = frozenset(t for a, b, t in edges if a <= lo and hi <= b)
        if targets:
            if out and out[-1][2] == targets and out[-1][1] + 1 == lo:
                out[-1] = (out[-1][0], hi, targets)
            else:
                out.append((lo, hi, targets))
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
