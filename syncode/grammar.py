"""Grammar loading: Lark EBNF text in, a checked LALR(1) grammar out.

Owns reading grammars (text, files, the built-ins shipped in `grammars/`) through Lark's own
loader, so everything Lark accepts (`%import common`, `%ignore`, priorities, templates) is
accepted here, and turning Lark's errors into `GrammarError`s that say what and where.
"""
from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import lark
from lark.grammar import NonTerminal, Rule, Terminal
from lark.lexer import Lexer as Lark_Lexer
from lark.lexer import PatternRE, PatternStr, TerminalDef
from lark.load_grammar import eval_escaping

from .lalr import TableError, lalr_table
from .layout import Indenter, Keywords, Layout, LayoutError, Semicolons, parse_directives


class GrammarError(ValueError):
    """The grammar text is malformed, not LALR(1), or uses something syncode cannot run."""


@dataclass(frozen=True)
class TerminalSpec:
    """One terminal of a grammar: its name, its regex (Python syntax) and how it wins ties."""

    name: str
    regex: str
    priority: int
    is_string: bool
    max_width: int

    @property
    def tie_key(self) -> tuple:
        """Sort key among terminals matching the same longest lexeme: first wins."""
        return (-self.priority, not self.is_string, -self.max_width, -len(self.regex), self.name)


class _TablesOnly(Lark_Lexer):
    """Stands in for Lark's lexer: syncode lexes with its own DFAs (`terminals`, `lexer`), so
    Lark only builds the parse table (its lexer's regex checks cost more than the table)."""

    def __init__(self, lexer_conf) -> None:
        pass

    def lex(self, lexer_state, parser_state):
        raise NotImplementedError("syncode grammars are matched by GrammarMatcher, not parsed by Lark")


def builtin_dir() -> Path:
    """The folder holding the built-in `.lark` grammars (source checkout or installed package)."""
    source = Path(__file__).resolve().parent.parent / "grammars"
    if source.is_dir():
        return source
    return Path(str(importlib.resources.files("syncode") / "grammars"))


class Grammar:
    """A context-free grammar in Lark EBNF, checked to be LALR(1)."""

    def __init__(
        self, text: str, start: str = "start", name: str = "<grammar>", terminal_dfas: dict | None = None,
        *, keywords: Keywords | None = None, indenter: Indenter | None = None,
        semicolons: Semicolons | None = None, postlex=None,
    ) -> None:
        """`terminal_dfas`: automata (`ByteDFA`) that define some terminals exactly, for
        languages a regex cannot write (intersections, complements); the text's pattern for
        such a terminal only stands in for Lark.

        Layout (`syncode.layout`, docs/layout.md): `keywords` (reserved words), `indenter`
        (Python-style INDENT/DEDENT; `postlex` may instead be a `lark.indenter.Indenter`
        instance) and `semicolons` (Go-style), or the same as `//@syncode` directives in the
        text; a setting given both ways is an error."""
        try:
            loaded = lark.Lark(text, parser="lalr", lexer=_TablesOnly, start=start)
        except lark.exceptions.GrammarError as exc:
            raise GrammarError(f"grammar {name}: {exc}") from exc
        except lark.exceptions.LarkError as exc:
            raise GrammarError(f"grammar {name}: cannot be loaded: {exc}") from exc
        self._set(text, start, name, terminal_dfas, list(loaded.rules), list(loaded.terminals),
                  tuple(loaded.ignore_tokens), loaded.parser.parser.parser.parse_table)
        if postlex is not None:
            if indenter is not None:
                raise GrammarError(f"grammar {name}: give either indenter= or postlex=, not both")
            if not all(hasattr(postlex, a) for a in ("NL_type", "INDENT_type", "DEDENT_type", "tab_len")):
                raise GrammarError(f"grammar {name}: postlex= must be a lark.indenter.Indenter "
                                   f"(got {type(postlex).__name__}); other post-lexers are not supported")
            indenter = Indenter.from_lark(postlex)
        self.layout = self._layout(keywords, indenter, semicolons)
        self.virtual_terminals = self._check_symbols()

    def _set(self, text: str, start: str, name: str, terminal_dfas: dict | None, rules: list[Rule],
             terminal_defs: list[TerminalDef], ignore: tuple, parse_table) -> None:
        """The parts every grammar has, however it was built."""
        self.text, self.start, self.name = text, start, name
        self.terminal_dfas = dict(terminal_dfas or {})
        self.rules: list[Rule] = rules
        self.terminal_defs: list[TerminalDef] = terminal_defs
        self.terminals = [self._spec(t) for t in terminal_defs]
        self.ignore = ignore
        self.parse_table = parse_table

    def _layout(self, keywords, indenter, semicolons) -> Layout:
        """The directives in the text merged with the objects given; names checked."""
        try:
            declared = parse_directives(self.text)
        except LayoutError as exc:
            raise GrammarError(f"grammar {self.name}: {exc}") from exc
        merged = {}
        for field, given in (("keywords", keywords), ("indenter", indenter), ("semicolons", semicolons)):
            from_text = getattr(declared, field)
            if given is not None and from_text is not None:
                raise GrammarError(f"grammar {self.name}: {field} is both given and declared by //@syncode {field}")
            merged[field] = given if given is not None else from_text
        layout = Layout(**merged)
        if layout.indenter is not None and layout.semicolons is not None:
            raise GrammarError(f"grammar {self.name}: an indenter and automatic semicolons cannot be combined")
        return layout

    def terminal_named(self, item: str, role: str) -> str:
        """The terminal an item of a layout declaration names: a terminal name, or a quoted
        literal standing for the string terminal with that value."""
        names = {t.name for t in self.terminals}
        if item.startswith('"'):
            value = item[1:-1].encode().decode("unicode_escape")
            for t in self.terminal_defs:
                if isinstance(t.pattern, PatternStr) and t.pattern.value == value:
                    return t.name
            raise GrammarError(f"grammar {self.name}: {role}: no string terminal {item} in the grammar")
        if item not in names:
            raise GrammarError(f"grammar {self.name}: {role}: no terminal {item} in the grammar")
        return item

    def _check_symbols(self) -> tuple[str, ...]:
        """Every symbol in the parse table is a rule, a terminal with a pattern, $END, or a
        terminal the indenter makes (INDENT, DEDENT). Returns the latter in table order."""
        known = {r.origin.name for r in self.rules} | {t.name for t in self.terminals} | {"$END"}
        made = ()
        if self.layout.indenter is not None:
            made = (self.layout.indenter.indent, self.layout.indenter.dedent)
        used: set[str] = set()
        for actions in self.parse_table.states.values():
            for symbol in actions:
                if symbol in made:
                    used.add(symbol)
                elif symbol not in known:
                    raise GrammarError(
                        f"grammar {self.name}: terminal {symbol} is %declare'd without a pattern; "
                        "only an indenter's INDENT and DEDENT may be (see docs/layout.md)"
                    )
        for symbol in made:
            if symbol not in used:
                raise GrammarError(f"grammar {self.name}: the indenter's terminal {symbol} is not used by any rule "
                                   "(declare it with %declare and use it, e.g. block: _NEWLINE _INDENT stmt+ _DEDENT)")
        return made

    def _spec(self, terminal) -> TerminalSpec:
        pattern = terminal.pattern
        if pattern is None:
            raise GrammarError(
                f"grammar {self.name}: terminal {terminal.name} is %declare'd without a pattern; "
                "terminals made by a post-lexer are not supported"
            )
        try:
            max_width = pattern.max_width
        except Exception:  # Lark cannot size some regexes; the width only breaks ties
            max_width = 1 << 30
        return TerminalSpec(
            name=terminal.name,
            regex=pattern.to_regexp(),
            priority=terminal.priority,
            is_string=isinstance(pattern, PatternStr),
            max_width=min(int(max_width), 1 << 30),
        )

    @classmethod
    def from_rules(cls, rules: dict[str, list[str]], terminals: dict[str, str], start: str = "start",
                   name: str = "<grammar>", terminal_dfas: dict | None = None) -> "Grammar":
        """The grammar Lark would load from the text `name: alt | alt ...` / `NAME: /regex/`
        (alternatives are symbol names separated by spaces, no EBNF; terminals are regexes as
        written between slashes), built without parsing text and with `syncode.lalr`'s table
        builder: generated grammars (JSON Schema) skip Lark's loader and analyser."""
        text = "".join(f"{rule}: {' | '.join(alts)}\n" for rule, alts in rules.items())
        text += "".join(f"{term}: /{regex}/\n" for term, regex in terminals.items())
        compiled = _compile_rules(rules, set(terminals), start, name)
        used = {symbol.name for rule in compiled for symbol in rule.expansion if symbol.is_term}
        terminal_defs = [TerminalDef(term, PatternRE(eval_escaping(regex), raw=f"/{regex}/"))
                         for term, regex in terminals.items() if term in used]
        try:
            table = lalr_table(compiled, start)
        except TableError as exc:
            raise GrammarError(f"grammar {name}: {exc}") from exc
        grammar = cls.__new__(cls)
        grammar._set(text, start, name, terminal_dfas, compiled, terminal_defs, (), table)
        grammar.layout = Layout()
        grammar.virtual_terminals = grammar._check_symbols()
        return grammar

    @classmethod
    def from_lark(cls, text: str, start: str = "start") -> "Grammar":
        """A grammar from Lark EBNF text."""
        return cls(text, start=start)

    @classmethod
    def from_json_schema(cls, schema, **options) -> "Grammar":
        """The grammar of exactly the JSON texts valid for a JSON Schema (a dict, JSON text,
        or a pydantic model class); options are those of `syncode.schema.SchemaOptions`."""
        from .schema import schema_to_grammar  # the schema front-end builds on this module

        return schema_to_grammar(schema, **options)

    @classmethod
    def from_file(cls, path: str | Path, start: str = "start") -> "Grammar":
        """A grammar from a `.lark` file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GrammarError(f"cannot read grammar file {path}: {exc}") from exc
        return cls(text, start=start, name=str(path))

    @classmethod
    def builtin(cls, name: str) -> "Grammar":
        """A built-in grammar by name (see `builtin_names()`)."""
        return _builtin(name)

    @staticmethod
    def builtin_names() -> list[str]:
        """Names of the built-in grammars."""
        return sorted(p.stem for p in builtin_dir().glob("*.lark"))

    def __repr__(self) -> str:
        return f"Grammar({self.name!r}, {len(self.terminals)} terminals)"


def _compile_rules(rules: dict[str, list[str]], terminals: set[str], start: str, name: str) -> list[Rule]:
    """Lark `Rule`s as Lark's loader makes them from plain alternatives: every symbol defined,
    empty duplicates merged, other duplicates an error, rules unreachable from `start` dropped."""
    made = {rule: NonTerminal(rule) for rule in rules}  # one object per symbol; a terminal wins a name
    made.update((term, Terminal(term, filter_out=False)) for term in terminals)
    compiled: list[Rule] = []
    for origin, alts in rules.items():
        seen: set[tuple[str, ...]] = set()
        for order, alt in enumerate(alts):
            symbols = tuple(alt.split())
            if symbols in seen:
                if symbols:
                    raise GrammarError(f"grammar {name}: rule {origin} has the alternative {alt!r} twice")
                continue
            seen.add(symbols)
            try:
                expansion = [made[symbol] for symbol in symbols]
            except KeyError as exc:
                raise GrammarError(f"grammar {name}: rule {origin} uses the undefined symbol {exc.args[0]}") from None
            compiled.append(Rule(made[origin], expansion, order))
    if start not in rules:
        raise GrammarError(f"grammar {name}: no start rule {start}")
    reachable, stack = {start}, [start]
    by_origin: dict[str, list[Rule]] = {}
    for rule in compiled:
        by_origin.setdefault(rule.origin.name, []).append(rule)
    while stack:
        for rule in by_origin.get(stack.pop(), ()):
            for symbol in rule.expansion:
                if not symbol.is_term and symbol.name not in reachable:
                    reachable.add(symbol.name)
                    stack.append(symbol.name)
    return [rule for rule in compiled if rule.origin.name in reachable]


@functools.lru_cache(maxsize=None)
def _builtin(name: str) -> Grammar:
    path = builtin_dir() / f"{name}.lark"
    if not path.is_file():
        raise GrammarError(f"no built-in grammar {name!r}; built-ins: {', '.join(Grammar.builtin_names())}")
    grammar = Grammar(path.read_text(encoding="utf-8"), name=name)
    return grammar
