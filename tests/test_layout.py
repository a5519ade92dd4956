"""Layout declarations (syncode.layout): reserved keywords, an indenter, automatic semicolons.

Toy grammars keep these fast; the Python and Go grammars' own tests run real code. Acceptance
is compared with Lark's LALR parser plus a post-lexer doing the same job (Lark's `Indenter`,
and a semicolon inserter written here), on generated programs, valid and broken; masks are
checked token by token against `accept_token` (a token is in the mask iff it is accepted).
"""
from __future__ import annotations

import random

import lark
import numpy as np
import pytest
from lark.indenter import Indenter as LarkIndenter
from lark.lexer import Token

import syncode
from syncode.bitmask import bitmask_to_ids
from syncode.grammar import GrammarError
from syncode.layout import Indenter, Keywords, Semicolons, parse_directives

from conftest import hf_tokenizer, tokenizer_info

INDENTED = r'''
//@syncode keywords NAME
//@syncode indenter
%declare _INDENT _DEDENT
start: (_NEWLINE | stmt)*
stmt: simple _NEWLINE | compound
simple: NAME "=" expr | "pass" | "return" expr?
compound: "if" expr ":" suite ("else" ":" suite)? | "def" NAME "(" [NAME ("," NAME)*] ")" ":" suite
suite: simple _NEWLINE | _NEWLINE _INDENT stmt+ _DEDENT
expr: atom (("+" | "-") atom)*
atom: NAME | NUMBER | "(" expr ")" | "[" [expr ("," expr)* [","]] "]" | NAME "(" [expr ("," expr)*] ")"
NAME: /[a-z_][a-z0-9_]*/
NUMBER: /[0-9]+/
COMMENT: /#[^\n]*/
_NEWLINE: (/\r?\n[\t ]*/ | COMMENT)+
%ignore /[\t \f]+/
%ignore /\\[\t \f]*\r?\n/
'''

SEMICOLONS = r'''
//@syncode keywords NAME
//@syncode semicolons insert=SEMI after=NAME,NUMBER,"return",")","}","++"
start: (stmt SEMI)*
stmt: NAME "=" expr | "return" expr? | NAME "++" | "if" expr block ("else" block)? | expr
block: "{" (stmt SEMI)* stmt? "}"
expr: atom ("+" atom)*
atom: NAME | NUMBER | NAME "(" [expr ("," expr)*] ")"
NAME: /[a-z_][a-z0-9_]*/
NUMBER: /[0-9]+/
SEMI: ";"
%ignore /[ \t\r\n]+/
%ignore /\/\/[^\n]*/
%ignore /\/\*([^*]|\*+[^*\/])*\*+\//
'''


@pytest.fixture(scope="module")
def indented():
    return syncode.compile_grammar(syncode.Grammar(INDENTED, name="indented"), tokenizer_info("qwen3"))


@pytest.fixture(scope="module")
def semicolons():
    return syncode.compile_grammar(syncode.Grammar(SEMICOLONS, name="semicolons"), tokenizer_info("qwen3"))


def sentence(compiled, text: str) -> bool:
    m = syncode.GrammarMatcher(compiled)
    return m.accept_bytes(text.encode()) and m.is_accepting()


# -- declarations ------------------------------------------------------------------------------

def test_directives_parse():
    layout = parse_directives('//@syncode keywords NAME except=MATCH,"case"\n'
                              "//@syncode indenter newline=_NL open=LPAR close=RPAR tab=4\n")
    assert layout.keywords == Keywords("NAME", ("MATCH", '"case"'))
    assert layout.indenter == Indenter(newline="_NL", open=("LPAR",), close=("RPAR",), tab=4)
    assert parse_directives('//@syncode semicolons insert=SEMI after=NAME,"++",")"').semicolons == \
        Semicolons("SEMI", ("NAME", '"++"', '")"'))


@pytest.mark.parametrize("text, message", [
    ("//@syncode indent\n", "unknown directive //@syncode indent"),
    ("//@syncode indenter width=4\n", "unknown option 'width=4'"),
    ("//@syncode semicolons after=NAME\n", "missing insert"),
    ("//@syncode keywords A\n//@syncode keywords B\n", "line 2: //@syncode keywords is declared twice"),
    ("//@syncode indenter tab=x\n", "tab must be an integer"),
])
def test_bad_directives_are_clear_errors(text, message):
    with pytest.raises(GrammarError, match=message):
        syncode.Grammar(text + 'start: "a"\n')


def test_bad_indenter_grammars_are_clear_errors():
    info = tokenizer_info("smollm2")
    no_indenter = INDENTED.replace("//@syncode indenter\n", "")
    with pytest.raises(GrammarError, match="_(IN|DE)DENT is %declare'd without a pattern"):
        syncode.Grammar(no_indenter)
    with pytest.raises(GrammarError, match="indenter is both given and declared"):
        syncode.Grammar(INDENTED, indenter=Indenter())
    split = INDENTED.replace('| "(" expr ")"', '| "(" expr close').replace("NAME: /", 'close: ")"\nNAME: /')
    with pytest.raises(GrammarError, match=r"brackets must open and close in the same rule.*atom: LPAR expr close"):
        syncode.compile_grammar(syncode.Grammar(split), info)
    no_leading = INDENTED.replace("start: (_NEWLINE | stmt)*", "start: stmt (_NEWLINE | stmt)*")
    with pytest.raises(GrammarError, match="must accept a leading _NEWLINE"):
        syncode.compile_grammar(syncode.Grammar(no_leading), info)
    single = INDENTED.replace(r"_NEWLINE: (/\r?\n[\t ]*/ | COMMENT)+", r"_NEWLINE: /\n[\t ]*/")
    with pytest.raises(GrammarError, match="must allow, from anywhere inside it, another newline"):
        syncode.compile_grammar(syncode.Grammar(single), info)
    with pytest.raises(GrammarError, match='semicolons after: no string terminal "--"'):
        syncode.compile_grammar(syncode.Grammar(SEMICOLONS.replace('"}","++"', '"}","--"')), info)


def test_lark_indenter_instance_is_accepted():
    class ToyIndenter(LarkIndenter):
        NL_type, INDENT_type, DEDENT_type = "_NEWLINE", "_INDENT", "_DEDENT"
        OPEN_PAREN_types, CLOSE_PAREN_types, tab_len = ["LPAR", "LSQB"], ["RPAR", "RSQB"], 8

    grammar = syncode.Grammar(INDENTED.replace("//@syncode indenter\n", ""), postlex=ToyIndenter())
    assert grammar.layout.indenter == Indenter("_NEWLINE", "_INDENT", "_DEDENT", ("LPAR", "LSQB"), ("RPAR", "RSQB"), 8)
    with pytest.raises(GrammarError, match="postlex= must be a lark.indenter.Indenter"):
        syncode.Grammar(INDENTED.replace("//@syncode indenter\n", ""), postlex=object())


# -- the indenter --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, valid", [
    ("x = 1\n", True),
    ("x = 1", True),  # an implicit final newline, as CPython
    ("", True),
    ("# only a comment", True),
    ("if x:\n    y = 1\n", True),
    ("if x:\n    y = 1\nz = 2\n", True),
    ("if x:\n  if y:\n    z = 1\nw = 2", True),  # two DEDENTs at once, and at the end of input
    ("if x:\n\n    # comment\n    y = 1\n  # a comment line at any width\n    z = 2\n", True),
    ("x = (1 +\n 2)\n", True),  # inside brackets newlines are ignored
    ("x = [1,\n   2,\n        ]\n", True),
    ("x = 1 + \\\n        2\n", True),  # a line continuation
    ("if x:\n\ty = 1\n\tz = 2\n", True),
    ("if x:\n    y = 1\n  z = 2\n", False),  # dedent to a width that is no enclosing level
    ("  x = 1\n", False),  # the first line is indented
    ("if x:\ny = 1\n", False),  # a block needs an INDENT
    ("x = 1\n    y = 2\n", False),  # an INDENT where none may be
    ("if x:\n    y = 1\n    ", True),
    ("if x:\n    ", False),  # an empty block at the end
    ("if x:\n\ty = 1\n        z = 2\n", False),  # tab vs eight spaces: CPython's TabError
    ("x = if\n", False),  # reserved keyword
    ("iffy = 1\n", True),
])
def test_indentation_cases(indented, text, valid):
    assert sentence(indented, text) == valid


class _ToyIndenter(LarkIndenter):
    NL_type, INDENT_type, DEDENT_type = "_NEWLINE", "_INDENT", "_DEDENT"
    OPEN_PAREN_types, CLOSE_PAREN_types, tab_len = ["LPAR", "LSQB"], ["RPAR", "RSQB"], 8


def _random_program(rng: random.Random) -> str:
    """Nested blocks with random widths (spaces only, Lark counts tabs differently), brackets
    across lines, comments and blank lines; often invalid."""
    lines, stack = [], [0]
    for _ in range(rng.randint(1, 10)):
        width = stack[-1]
        roll = rng.random()
        if roll < 0.15 and len(stack) > 1:
            stack.pop()
            width = rng.choice(stack + [stack[-1] + rng.choice([-1, 1])])
        elif roll < 0.2:
            width += rng.choice([1, 2])
        elif roll < 0.25:
            lines.append(" " * rng.randint(0, 6) + rng.choice(["", "# note"]))
            continue
        head = " " * max(width, 0)
        kind = rng.random()
        if kind < 0.35:
            lines.append(head + rng.choice(["if x:", "def f(a, b):", "else:"]))
            stack.append(width + rng.choice([2, 4, 4, 1]))
        elif kind < 0.5:
            lines.append(head + "y = [1,")
            lines.append(" " * rng.randint(0, 9) + "2]")
        else:
            lines.append(head + rng.choice(["x = 1", "pass", "return a + b", "z = f(a)"]))
    return "\n".join(lines) + "\n"


def test_indentation_agrees_with_lark_indenter(indented):
    parser = lark.Lark(INDENTED, parser="lalr", lexer="basic", postlex=_ToyIndenter())
    rng = random.Random(6)
    counts = {True: 0, False: 0}
    for _ in range(400):
        text = _random_program(rng)
        try:
            parser.parse("\n" + text)  # syncode's input starts as if after a newline, as CPython's
            expected = True
        except lark.exceptions.LarkError:
            expected = False
        assert sentence(indented, text) == expected, text
        counts[expected] += 1
    assert min(counts.values()) >= 60, counts  # both outcomes well represented


# -- automatic semicolons ------------------------------------------------------------------------

@pytest.mark.parametrize("text, valid", [
    ("x = 1\ny = 2\n", True),
    ("x = 1; y = 2", True),  # the end of input after a trigger inserts one
    ("x = f(a,\n b)\n", True),
    ("x = f(a\n)\n", False),  # a newline after `a` is a `;`
    ("if x {\n y = 1\n} else {\n z = 1\n}\n", True),
    ("if x {\n y = 1\n}\nelse {\n z = 1\n}\n", False),
    ("x = 1 /* spans\n lines */ y = 2\n", True),  # acts as a newline
    ("x = 1 /* one line */ y = 2\n", False),  # acts as a space
    ("x = 1 // comment\ny = 2", True),
    ("return\n", True),
    ("return 1 +\n 2\n", True),
    ("if x { y++ }\n", True),
    ("x = 1\n\n\n", True),
    ("x = if\n", False),
])
def test_semicolon_cases(semicolons, text, valid):
    assert sentence(semicolons, text) == valid


class _InsertSemicolons(lark.lark.PostLex):
    """The reference: newline-carrying ignored text after a trigger token becomes SEMI."""

    always_accept = ("NL",)
    TRIGGERS = {"NAME", "NUMBER", "RETURN", "RPAR", "RBRACE", "__ANON_0"}

    def process(self, stream):
        last = None
        for token in stream:
            if token.type == "NL":
                if last in self.TRIGGERS:
                    yield Token("SEMI", ";")
                    last = "SEMI"
                continue
            last = token.type
            yield token
        if last in self.TRIGGERS:
            yield Token("SEMI", ";")


def _reference_semicolons():
    """SEMICOLONS without the directive, with newline-carrying text as a visible NL token."""
    body = SEMICOLONS.split("start:", 1)[1].split("%ignore", 1)[0]
    text = "start:" + body + r"""
NL: (/\n/ | /\/\*([^*]|\*+[^*\/])*\n([^*]|\*+[^*\/])*\*+\//)+
%ignore /[ \t\r]+/
%ignore /\/\/[^\n]*/
%ignore /\/\*([^*\n]|\*+[^*\/\n])*\*+\//
"""
    return lark.Lark(text, parser="lalr", lexer="basic", postlex=_InsertSemicolons())


def test_semicolons_agree_with_a_reference_post_lexer(semicolons):
    parser = _reference_semicolons()
    rng = random.Random(9)
    pieces = ["x = 1", "y++", "return", "return a", "f(a,", "b)", "if x {", "}", "} else {", "z = a +", "2",
              "/* c */", "/* c\nd */", "// c", ";", "(", ")"]
    counts = {True: 0, False: 0}
    for _ in range(400):
        text = "".join(rng.choice(pieces) + rng.choice([" ", "\n", "\n\n", " "]) for _ in range(rng.randint(1, 8)))
        try:
            parser.parse(text)
            expected = True
        except lark.exceptions.LarkError:
            expected = False
        assert sentence(semicolons, text) == expected, repr(text)
        counts[expected] += 1
    assert min(counts.values()) >= 40, counts


# -- masks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("which, text", [
    ("indented", "if x:\n    y = 1\n  # c\n    z = 2\nw = f(1,\n  2)\n"),
    ("indented", "def f(a, b):\n    if a:\n        return a + b\n    else:\n        return [a,\n b]\nx = 1\n"),
    ("indented", "if x:\n\ty = 1\n\tif z:\n\t\tpass\nq = 3"),
    ("semicolons", "x = 1\nif x {\n  y++ /* a\n b */ z = f(a,\n b)\n}\nreturn"),
])
def test_masks_are_exactly_the_accepted_tokens(request, which, text):
    compiled = request.getfixturevalue(which)
    info = compiled.tokenizer_info
    ids = hf_tokenizer("qwen3").encode(text, add_special_tokens=False)
    rng = random.Random(3)
    m = syncode.GrammarMatcher(compiled)
    words = np.zeros((1, info.bitmask_words), dtype=np.int32)
    for step, token in enumerate(ids + [None]):
        m.fill_next_token_bitmask(words, 0)
        allowed = set(bitmask_to_ids(words[0], info.vocab_size).tolist())
        for candidate in rng.sample(range(info.n_tokens), 600) + rng.sample(sorted(allowed), min(300, len(allowed))):
            accepted = m.accept_token(candidate)
            if accepted:
                m.rollback(1)
            assert accepted == (candidate in allowed), (step, hf_tokenizer("qwen3").decode([candidate]))
        if token is None:
            assert int(info.stop_token_ids[0]) in allowed
        else:
            assert token in allowed and m.accept_token(token)


def test_rollback_restores_indentation(indented):
    m = syncode.GrammarMatcher(indented)
    for piece in ["if x:", "\n", "    ", "y = 1", "\n", "  "]:
        assert m.accept_bytes(piece.encode())
    assert not m.accept_bytes(b"z = 2\n")  # width 2 is no level
    m.rollback(1)  # back to "\n" after y = 1: width 0 now dedents
    assert m.accept_bytes(b"z = 2\n") and m.is_accepting()
    m.rollback(1)  # the same point: now four more columns are the block's level
    assert m.accept_bytes(b"    z = 2\n") and m.is_accepting()


CASE_INSENSITIVE = r'''
//@syncode keywords NAME
start: (stmt ";")*
stmt: "SELECT"i NAME | NAME "=" NAME
NAME: /[a-zA-Z_]+/
%ignore " "
'''


def test_case_insensitive_keywords_are_reserved_in_every_spelling():
    compiled = syncode.compile_grammar(syncode.Grammar(CASE_INSENSITIVE), tokenizer_info("smollm2"))
    assert sentence(compiled, "select x;") and sentence(compiled, "x = selects;")
    assert not sentence(compiled, "x = Select;")
    lower_only = CASE_INSENSITIVE.replace("/[a-zA-Z_]+/", "/[a-z_]+/")
    with pytest.raises(GrammarError, match="NAME matches some spellings of SELECT but not all"):
        syncode.compile_grammar(syncode.Grammar(lower_only), tokenizer_info("smollm2"))
