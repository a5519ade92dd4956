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

from ..automata import MAX_CP, CharDFA, coalesce
from ..terminals import Pieces, clip, digit_trie, split_blocks

QUOTE, BACKSLASH = 0x22, 0x5C
SHORT_ESCAPES = {0x22: "\"", 0x5C: "\\", 0x2F: "/", 0x08: "b", 0x0C: "f", 0x0A: "n", 0x0D: "r", 0x09: "t"}
SURROGATE_LO, SURROGATE_HI = 0xD800, 0xDFFF
PRINTABLE_ASCII = (0x20, 0x7E)


HEX_DIGITS = [[(0x30 + d, 0x30 + d)] if d < 10 else [(0x61 + d - 10, 0x61 + d - 10), (0x41 + d - 10, 0x41 + d - 10)]
              for d in range(16)]  # the characters spelling each hex digit value (both cases)
# Characters written as themselves, and those written as `\\uXXXX` (with BMP code points).
RAW_RANGES = ((0x20, QUOTE - 1), (QUOTE + 1, BACKSLASH - 1), (BACKSLASH + 1, SURROGATE_LO - 1),
              (SURROGATE_HI + 1, MAX_CP))
ESCAPED_BMP_RANGES = ((0, PRINTABLE_ASCII[0] - 1), (PRINTABLE_ASCII[1] + 1, SURROGATE_LO - 1),
                      (SURROGATE_HI + 1, 0xFFFF))


class _Speller:
    """The deterministic automaton of the JSON text spelling the strings a content DFA accepts:
    one state per content state between characters (`char`), the states inside an escape
    shared by what they lead to (`hex_node`, `low_half`), each built when first reached."""

    def __init__(self, content: CharDFA) -> None:
        self.content = content
        self.edges: list[list[tuple[int, int, int]]] = []
        self.accepting: list[bool] = []
        self.char_states: dict[int, int] = {}
        self.pending: list[int] = []
        self.nodes: dict[tuple, int] = {}

    def new(self, accepting: bool = False) -> int:
        self.edges.append([])
        self.accepting.append(accepting)
        return len(self.edges) - 1

    def with_row(self, row: list[tuple[int, int, int]]) -> int:
        """A new state with the edges `row`."""
        state = self.new()
        self.edges[state] = row
        return state

    def char(self, s: int) -> int:
        """The state between characters when the decoded text so far led the content DFA to `s`."""
        state = self.char_states.get(s)
        if state is None:
            state = self.char_states[s] = self.new()
            self.pending.append(s)
        return state

    def build(self) -> CharDFA:
        start, end = self.new(), self.new(accepting=True)
        self.edges[start].append((QUOTE, QUOTE, self.char(0)))
        while self.pending:
            s = self.pending.pop()
            self.fill_char(s, end)
        return CharDFA([coalesce(row) for row in self.edges], self.accepting).minimize()

    def fill_char(self, s: int, end: int) -> None:
        content = self.content
        row = self.edges[self.char_states[s]]
        for lo, hi in RAW_RANGES:
            row.extend((a, b, self.char(t)) for a, b, t in clip(content.edges[s], lo, hi))
        if content.accepting[s]:
            row.append((QUOTE, QUOTE, end))
        escape = []
        for cp, letter in SHORT_ESCAPES.items():
            t = content.step(s, cp)
            if t >= 0:
                escape.append((ord(letter), ord(letter), self.char(t)))
        unicode = self.escaped(s)
        if unicode:
            escape.append((0x75, 0x75, self.hex_node(unicode)))
        if escape:
            row.append((BACKSLASH, BACKSLASH, self.with_row(escape)))

    def escaped(self, s: int) -> Pieces:
        """What `\\uXXXX` leads to from `s`, by the value XXXX: the next character state for
        BMP characters other than printable ASCII (never escaped), the state awaiting the low
        half for a high surrogate; lone low surrogates lead nowhere."""
        edges = self.content.edges[s]
        pieces = [(a, b, self.char(t)) for lo, hi in ESCAPED_BMP_RANGES for a, b, t in clip(edges, lo, hi)]
        pieces += self.astral(edges)
        return tuple(sorted(pieces))

    def astral(self, edges) -> list[tuple[int, int, int]]:
        """`\\uHHHH` (HHHH a high surrogate) to the state reading `\\uLLLL`, by HHHH: the
        blocks of 1,024 code points that lie inside one content edge share one state."""
        astral = [(a - 0x10000, b - 0x10000, t) for a, b, t in clip(edges, 0x10000, MAX_CP)]
        return [(SURROGATE_LO + lo, SURROGATE_LO + hi, self.low_half(low))
                for lo, hi, low in split_blocks(astral, 0x400)]

    def low_half(self, low: Pieces) -> int:
        """The state after a high surrogate: `\\u` and a low surrogate, by the 10 bits it carries."""
        key = ("low", low)
        state = self.nodes.get(key)
        if state is None:
            pieces = tuple((0xDC00 + x, 0xDC00 + y, self.char(t)) for x, y, t in low)
            u = self.with_row([(0x75, 0x75, self.hex_node(pieces))])
            state = self.nodes[key] = self.with_row([(BACKSLASH, BACKSLASH, u)])
        return state

    def hex_node(self, pieces: Pieces) -> int:
        """The state reading the four hex digits of `\\uXXXX`, `pieces` saying where each value leads."""
        return digit_trie(pieces, 4, 16, _hex_spelling, self.nodes, self.with_row)


def _hex_spelling(lo: int, hi: int) -> list[tuple[int, int]]:
    """The characters writing the hex digits lo..hi (both cases)."""
    return [chars for d in range(lo, hi + 1) for chars in HEX_DIGITS[d]]


def json_string(content: CharDFA) -> CharDFA:
    """Every JSON string literal (quotes included) whose decoded value `content` accepts."""
    return _json_string(content.key())


@functools.lru_cache(maxsize=4096)
def _json_string(key: tuple) -> CharDFA:
    """`json_string` by automaton structure: property names and formats recur across schemas."""
    return _Speller(CharDFA.from_key(key)).build()


ANY_CONTENT_RANGES = [(0, SURROGATE_LO - 1), (SURROGATE_HI + 1, MAX_CP)]
