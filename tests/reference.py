"""An independent, slow reference for syncode's language: is a byte string a viable prefix?

It shares no code with the engine's DFAs or parser: lexing uses the `regex` module's partial
matching on each terminal's regex, parsing uses Lark's own interactive LALR parser. The
lexing semantics are the documented ones (docs/lexing.md): contextual (the terminals the
current LR state's action table lists, plus %ignore), longest match without backtracking,
ties by (priority, string terminal first, Lark's width order, name).
"""
from __future__ import annotations

import functools

import lark
import regex
from lark import Token

from syncode.grammar import Grammar


@functools.lru_cache(maxsize=None)
def lark_parser(grammar: Grammar) -> lark.Lark:
    """Lark's own LALR parser with its contextual lexer, for the grammar's text (syncode
    builds only Lark's parse table and lexes with its own DFAs)."""
    return lark.Lark(grammar.text, parser="lalr", lexer="contextual", start=grammar.start)


class Reference:
    def __init__(self, grammar: Grammar) -> None:
        self.grammar = grammar
        self.specs = {t.name: t for t in grammar.terminals}
        self.patterns = {t.name: regex.compile(t.regex) for t in grammar.terminals}
        self.ignore = set(grammar.ignore)

    def _candidates(self, ip) -> list[str]:
        names = [n for n in ip.choices() if n in self.specs] + list(self.ignore)
        return sorted(set(names), key=lambda n: self.specs[n].tie_key)

    def _run(self, text: str):
        """Lex and parse `text`. Returns (status, ip, alive) with status 'dead', 'partial'
        (ends inside a lexeme, alive = terminals that may still complete it), or 'boundary'."""
        ip = lark_parser(self.grammar).parse_interactive("")
        pos = 0
        while pos < len(text):
            cands = self._candidates(ip)
            end = pos
            alive: list[str] = []
            # Extend the lexeme while some candidate can still match a longer string.
            while end < len(text):
                nxt = [c for c in cands if self.patterns[c].fullmatch(text, pos, end + 1, partial=True)]
                if not nxt:
                    break
                alive = nxt
                end += 1
            if end == pos:
                return "dead", ip, []
            if end == len(text):
                return "partial", ip, alive
            full = [c for c in cands if self.patterns[c].fullmatch(text, pos, end, partial=False)]
            if not full:
                return "dead", ip, []
            term = full[0]
            if term not in self.ignore:
                if term not in ip.accepts():
                    return "dead", ip, []
                ip.feed_token(Token(term, text[pos:end]))
            pos = end
        return "boundary", ip, []

    def _ok_partial(self, text: str, ip, alive: list[str]) -> bool:
        accepts = ip.accepts()
        return any(a in self.ignore or a in accepts for a in alive)

    def viable(self, data: bytes) -> bool:
        """Whether `data` is a prefix of some sentence (bytes; may end inside a UTF-8 character)."""
        text, tails = _decode_prefix(data)
        for t in tails:
            status, ip, alive = self._run(text + t)
            if status == "boundary" or (status == "partial" and self._ok_partial(text + t, ip, alive)):
                return True
        return False

    def accepts(self, data: bytes) -> bool:
        """Whether `data` is a complete sentence (what EOS after it means)."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        status, ip, alive = self._run(text)
        if status == "dead":
            return False
        if status == "partial":
            start = len(text) - _partial_len(self, text)
            full = [c for c in alive if self.patterns[c].fullmatch(text, start, len(text))]
            if not full:
                return False
            term = full[0]
            if term not in self.ignore:
                if term not in ip.accepts():
                    return False
                ip.feed_token(Token(term, text[start:]))
        return "$END" in ip.accepts()


def _partial_len(ref: Reference, text: str) -> int:
    """Length of the last (partial) lexeme of `text` (re-lexes; fine for a reference)."""
    ip = lark_parser(ref.grammar).parse_interactive("")
    pos = 0
    while True:
        cands = ref._candidates(ip)
        end = pos
        while end < len(text) and any(ref.patterns[c].fullmatch(text, pos, end + 1, partial=True) for c in cands):
            end += 1
        if end == len(text):
            return end - pos
        full = [c for c in cands if ref.patterns[c].fullmatch(text, pos, end)]
        term = full[0]
        if term not in ref.ignore:
            ip.feed_token(Token(term, text[pos:end]))
        pos = end


@functools.lru_cache(maxsize=256)
def _tails_for(prefix: bytes) -> tuple[str, ...]:
    """The smallest and largest characters whose UTF-8 encoding starts with `prefix` (an
    incomplete sequence): enough to decide membership for the character classes used here."""
    lead = prefix[0]
    need = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else 4 if 0xF0 <= lead <= 0xF4 else 0
    if need <= len(prefix):
        return ()
    chars = set()
    for fill in (0x80, 0xBF):
        for first in range(0x80, 0xC0):
            candidate = prefix + bytes([first]) + bytes([fill] * (need - len(prefix) - 1))
            try:
                chars.add(candidate.decode("utf-8"))
            except UnicodeDecodeError:
                continue
    return tuple(sorted(chars)[:1] + sorted(chars)[-1:])


def _decode_prefix(data: bytes) -> tuple[str, tuple[str, ...]]:
    """Split bytes into (decoded text, possible completions of a trailing partial character)."""
    for cut in range(0, min(4, len(data)) + 1):
        head, tail = data[: len(data) - cut], data[len(data) - cut:]
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not tail:
            return text, ("",)
        tails = _tails_for(bytes(tail))
        if tails:
            return text, tails
    return "", ()
