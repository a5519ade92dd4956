"""Layout rules a grammar declares beyond its regexes: reserved keywords, Python-style
indentation, Go-style automatic semicolons.

Owns what these declarations say and how they are written: as `//@syncode ...` directives
in a `.lark` file (comments to Lark), or as objects passed to `Grammar(...)`. The lexer
(`lexer.py`) and the parser kernels (`kernels.py`) implement them; `docs/layout.md` gives the
exact semantics.

    //@syncode keywords NAME except=MATCH,CASE
    //@syncode indenter newline=_NEWLINE indent=_INDENT dedent=_DEDENT open=LPAR,LSQB,LBRACE close=RPAR,RSQB,RBRACE tab=8
    //@syncode semicolons insert=SEMICOLON after=NAME,INT,")","]","}","return"

Items are terminal names as Lark names them, or quoted literals (`"++"`) standing for the
string terminal with that value.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DIRECTIVE = re.compile(r"^[ \t]*//@syncode[ \t]+(\S+)(.*)$", re.MULTILINE)
_ITEM = re.compile(r'"(?:[^"\\]|\\.)*"|[^,\s]+')


class LayoutError(ValueError):
    """A layout directive or object is malformed (the grammar loader reports it as a GrammarError)."""


@dataclass(frozen=True)
class Keywords:
    """Reserved words: every string terminal that `identifier`'s regex fully matches (except
    those listed in `soft`) is a candidate wherever `identifier` is, so it wins the tie and is
    rejected where the parser cannot take it (`x := break` is not an assignment)."""

    identifier: str
    soft: tuple[str, ...] = ()


@dataclass(frozen=True)
class Indenter:
    """Python-style indentation (as Lark's `Indenter` post-lexer, with CPython's tab rules).

    `newline` is a terminal matching newlines, blank and comment lines and the next line's
    indentation; inside brackets (`open`/`close` terminals, counted on the parser stack) it is
    ignored, elsewhere it is shifted, followed by `indent` when the line is deeper than the
    current block or one `dedent` per block it closes. The input starts as if after a newline.
    """

    newline: str = "_NEWLINE"
    indent: str = "_INDENT"
    dedent: str = "_DEDENT"
    open: tuple[str, ...] | None = None  # default: whichever of "(", "[", "{" the grammar has
    close: tuple[str, ...] | None = None  # default: whichever of ")", "]", "}" the grammar has
    tab: int = 8

    @classmethod
    def from_lark(cls, postlex) -> "Indenter":
        """The same settings as a `lark.indenter.Indenter` instance (e.g. `PythonIndenter()`)."""
        return cls(newline=postlex.NL_type, indent=postlex.INDENT_type, dedent=postlex.DEDENT_type,
                   open=tuple(postlex.OPEN_PAREN_types), close=tuple(postlex.CLOSE_PAREN_types),
                   tab=int(postlex.tab_len))


@dataclass(frozen=True)
class Semicolons:
    """Go-style automatic semicolons: right after a terminal in `after`, an ignored lexeme that
    contains a newline is shifted as `insert`; so is the end of input."""

    insert: str
    after: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """Everything a grammar declares about its lexemes beyond the regexes."""

    keywords: Keywords | None = None
    indenter: Indenter | None = None
    semicolons: Semicolons | None = None

    @property
    def empty(self) -> bool:
        return self.keywords is None and self.indenter is None and self.semicolons is None


def _items(value: str) -> tuple[str, ...]:
    return tuple(_ITEM.findall(value))


def _options(kind: str, rest: str, allowed: dict[str, bool], line: int) -> dict[str, str]:
    """key=value options of one directive; `allowed` maps each key to whether it is required."""
    options: dict[str, str] = {}
    for word in rest.split():
        key, sep, value = word.partition("=")
        if not sep or key not in allowed:
            raise LayoutError(f"line {line}: //@syncode {kind}: unknown option {word!r} "
                              f"(options: {', '.join(allowed)})")
        if key in options:
            raise LayoutError(f"line {line}: //@syncode {kind}: option {key} given twice")
        options[key] = value
    missing = [k for k, required in allowed.items() if required and k not in options]
    if missing:
        raise LayoutError(f"line {line}: //@syncode {kind}: missing {', '.join(missing)}")
    return options


def parse_directives(text: str) -> Layout:
    """The layout a grammar text declares with `//@syncode` directives."""
    found: dict[str, object] = {}
    for match in DIRECTIVE.finditer(text):
        kind, rest = match.group(1), match.group(2)
        line = text.count("\n", 0, match.start()) + 1
        if kind in found:
            raise LayoutError(f"line {line}: //@syncode {kind} is declared twice")
        if kind == "keywords":
            words = rest.split()
            soft: tuple[str, ...] = ()
            if len(words) == 2 and words[1].startswith("except="):
                soft = _items(words[1][len("except="):])
            elif len(words) != 1:
                raise LayoutError(f"line {line}: expected //@syncode keywords IDENTIFIER [except=A,B]")
            found[kind] = Keywords(words[0], soft)
        elif kind == "indenter":
            o = _options(kind, rest, {"newline": False, "indent": False, "dedent": False, "open": False,
                                      "close": False, "tab": False}, line)
            default = Indenter()
            try:
                tab = int(o.get("tab", default.tab))
            except ValueError:
                raise LayoutError(f"line {line}: //@syncode indenter: tab must be an integer") from None
            found[kind] = Indenter(o.get("newline", default.newline), o.get("indent", default.indent),
                                   o.get("dedent", default.dedent),
                                   _items(o["open"]) if "open" in o else default.open,
                                   _items(o["close"]) if "close" in o else default.close, tab)
        elif kind == "semicolons":
            o = _options(kind, rest, {"insert": True, "after": True}, line)
            found[kind] = Semicolons(o["insert"], _items(o["after"]))
        else:
            raise LayoutError(f"line {line}: unknown directive //@syncode {kind} "
                              "(known: keywords, indenter, semicolons)")
    return Layout(found.get("keywords"), found.get("indenter"), found.get("semicolons"))  # type: ignore[arg-type]


# How the kernels treat a lexer terminal when its lexeme ends (`LexerContexts.term_kind`).
KIND_SHIFT = 0  # shift the parser terminal `term_arg`
KIND_IGNORE = 1  # drop it
KIND_NEWLINE = 2  # the indenter's newline: ignored inside brackets, else newline + INDENT/DEDENTs

# What the symbol that entered an LR state means to the layout (`LexerContexts.state_role`, bits).
ROLE_OPEN = 1
ROLE_CLOSE = 2
ROLE_INDENT = 4
ROLE_DEDENT = 8
ROLE_NEWLINE = 16
ROLE_TRIGGER = 32  # a semicolon may be inserted after it

# Indentation widths on the parser stack: an INDENT node's state carries the block's width
# (tabs to the next multiple of the tab size) and its width with tabs as 1, CPython's check.
STATE_BITS = 16
WIDTH_BITS = 8  # widths up to 255 columns; alternative widths up to 127
MAX_WIDTH = (1 << WIDTH_BITS) - 1
MAX_ALT_WIDTH = (1 << (31 - STATE_BITS - WIDTH_BITS)) - 1
