"""JSON string literals: from a language of decoded strings to the language of their JSON text.

Owns the spelling rules of RFC 8259 strings. A string value can be written in many ways
(`"a"`, `"\\u0061"`, `"\\u0041"` for "A" in any hex case, `\\ud83d\\ude00` for one astral
character, `\\/` for "/"), and every one of them is valid JSON for the same value, so a
schema's string constraint (judged on the decoded value) becomes an automaton over every
spelling, with one restriction: printable ASCII (space to `~`) is written as itself, never as
`\\u0061` (json.dumps never escapes it; allowing it multiplies the states of every key and
format automaton). Lone surrogates (`\\ud800` alone) decode to no Unicode scalar value and
are never produced here.
"""
from __future__ import annotations

import functools

from ..automata import MAX_CP, NFA, CharDFA

QUOTE, BACKSLASH = 0x22, 0x5C
SHORT_ESCAPES = {0x22: "\"", 0x5C: "\\", 0x2F: "/", 0x08: "b", 0x0C: "f", 0x0A: "n", 0x0D: "r", 0x09: "t"}
SURROGATE_LO, SURROGATE_HI = 0xD800, 0xDFFF
PRINTABLE_ASCII = (0x20, 0x7E)


def _hex_digit_ranges(lo: int, hi: int) -> list[tuple[int, int]]:
    """Characters spelling hex digits lo..hi (both cases)."""
    out = []
    if lo <= 9:
        out.append((0x30 + lo, 0x30 + min(hi, 9)))
    if hi >= 10:
        a = max(lo, 10) - 10
        b = hi - 10
        out += [(0x61 + a, 0x61 + b), (0x41 + a, 0x41 + b)]
    return out


def _hex_paths(lo: int, hi: int, width: int = 4) -> list[list[tuple[int, int]]]:
    """Digit-range sequences (most significant first) covering the numbers lo..hi in `width` hex digits."""
    if width == 1:
        return [[(lo, hi)]]
    unit = 16 ** (width - 1)
    top_lo, top_hi = lo // unit, hi // unit
    if top_lo == top_hi:
        return [[(top_lo, top_lo)] + p for p in _hex_paths(lo % unit, hi % unit, width - 1)]
    paths = []
    if lo % unit:
        paths += [[(top_lo, top_lo)] + p for p in _hex_paths(lo % unit, unit - 1, width - 1)]
        top_lo += 1
    tail = []
    if hi % unit != unit - 1:
        tail = [[(top_hi, top_hi)] + p for p in _hex_paths(0, hi % unit, width - 1)]
        top_hi -= 1
    if top_lo <= top_hi:
        paths.append([(top_lo, top_hi)] + [(0, 15)] * (width - 1))
    return paths + tail


class _Encoder:
    def __init__(self) -> None:
        self.nfa = NFA()

    def chain(self, src: int, dst: int, steps: list[list[tuple[int, int]]]) -> None:
        """A path src -> dst reading one character from each step's ranges."""
        cur = src
        for k, ranges in enumerate(steps):
            nxt = dst if k == len(steps) - 1 else self.nfa.new()
            for lo, hi in ranges:
                self.nfa.range(cur, lo, hi, nxt)
            cur = nxt

    def unicode_escape(self, src: int, dst: int, lo: int, hi: int) -> None:
        """`\\uXXXX` for every BMP code point lo..hi."""
        for path in _hex_paths(lo, hi):
            self.chain(src, dst, [[(BACKSLASH, BACKSLASH)], [(0x75, 0x75)]] + [_hex_digit_ranges(a, b) for a, b in path])

    def encode_range(self, src: int, dst: int, lo: int, hi: int) -> None:
        # Raw characters: everything but controls, quote and backslash.
        for a, b in ((max(lo, 0x20), min(hi, QUOTE - 1)), (max(lo, QUOTE + 1), min(hi, BACKSLASH - 1)),
                     (max(lo, BACKSLASH + 1), min(hi, SURROGATE_LO - 1)), (max(lo, SURROGATE_HI + 1), hi)):
            if a <= b:
                self.nfa.range(src, a, b, dst)
        for cp, letter in SHORT_ESCAPES.items():
            if lo <= cp <= hi:
                self.chain(src, dst, [[(BACKSLASH, BACKSLASH)], [(ord(letter), ord(letter))]])
        # `\\uXXXX` for everything but printable ASCII, which is only ever written as itself
        # (json.dumps never escapes it; escaping it multiplies every constrained string's states).
        for a, b in ((lo, min(hi, PRINTABLE_ASCII[0] - 1)), (max(lo, PRINTABLE_ASCII[1] + 1), min(hi, SURROGATE_LO - 1)),
                     (max(lo, SURROGATE_HI + 1), min(hi, 0xFFFF))):
            if a <= b:
                self.unicode_escape(src, dst, a, b)
        if hi >= 0x10000:
            self.surrogate_pairs(src, dst, max(lo, 0x10000), hi)

    def surrogate_pairs(self, src: int, dst: int, lo: int, hi: int) -> None:
        """`\\uHHHH\\uLLLL` for every astral code point lo..hi."""
        def split(cp: int) -> tuple[int, int]:
            v = cp - 0x10000
            return 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)

        (h_lo, l_lo), (h_hi, l_hi) = split(lo), split(hi)
        pieces = []
        if h_lo == h_hi:
            pieces.append((h_lo, h_lo, l_lo, l_hi))
        else:
            pieces.append((h_lo, h_lo, l_lo, 0xDFFF))
            if h_lo + 1 <= h_hi - 1:
                pieces.append((h_lo + 1, h_hi - 1, 0xDC00, 0xDFFF))
            pieces.append((h_hi, h_hi, 0xDC00, l_hi))
        for ha, hb, la, lb in pieces:
            mid = self.nfa.new()
            self.unicode_escape(src, mid, ha, hb)
            self.unicode_escape(mid, dst, la, lb)


def json_string(content: CharDFA) -> CharDFA:
    """Every JSON string literal (quotes included) whose decoded value `content` accepts."""
    return _json_string(content.key())


@functools.lru_cache(maxsize=4096)
def _json_string(key: tuple) -> CharDFA:
    """`json_string` by automaton structure: property names and formats recur across schemas."""
    content = CharDFA([list(row) for row in key[0]], list(key[1]))
    enc = _Encoder()
    nfa = enc.nfa
    start, end = nfa.new(), nfa.new()
    base = len(nfa.ranges)
    for _ in range(content.n_states):
        nfa.new()
    nfa.range(start, QUOTE, QUOTE, base)
    for s, row in enumerate(content.edges):
        for lo, hi, t in row:
            enc.encode_range(base + s, base + t, lo, hi)
        if content.accepting[s]:
            nfa.range(base + s, QUOTE, QUOTE, end)
    return nfa.to_dfa(start, end)


ANY_CONTENT_RANGES = [(0, SURROGATE_LO - 1), (SURROGATE_HI + 1, MAX_CP)]
