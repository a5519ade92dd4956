"""Terminal regexes to byte DFAs agree with Python's `re` on many strings."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import syncode
from syncode.terminals import UnsupportedRegexError, regex_to_dfa

REGEXES = [
    r'"(?:[^"\\\x00-\x1f]|\\(?:["\\\/bfnrt]|u[0-9a-fA-F]{4}))*"',
    r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?",
    r"[a-zA-Z_][a-zA-Z0-9_]*",
    r"(?i:select)",
    r"[^\n]*\n",
    r"[é漢😀]+x?",
    r"a{2,4}b|c+",
    r".",
]
ALPHABET = st.sampled_from(list('"\\/abcxyzABSELECTselect0123456789.-+eE_ \n\tu{}[]é漢😀\x00\x1f') + ["\u07ff", "\uffff", "\U0010ffff"])


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(REGEXES) - 1), text=st.text(alphabet=ALPHABET, max_size=12))
def test_dfa_agrees_with_re(index, text):
    regex = REGEXES[index]
    dfa = regex_to_dfa(regex)
    assert dfa.matches(text.encode("utf-8")) == (re.fullmatch(regex, text, re.DOTALL if False else 0) is not None)


def test_dfa_rejects_invalid_utf8_and_surrogates():
    dfa = regex_to_dfa(r"[^a]+")
    assert dfa.matches("é漢😀".encode())
    assert not dfa.matches(b"\xff")
    assert not dfa.matches(b"\xed\xa0\x80")  # a UTF-8-encoded surrogate
    assert not dfa.matches(b"\xc0\x80")  # an overlong encoding


def test_multibyte_character_is_a_byte_path():
    dfa = regex_to_dfa(r"x😀")
    state = 0
    for b in "x😀".encode():
        state = int(dfa.trans[state, b])
        assert state >= 0
    assert dfa.accepting[state]


@pytest.mark.parametrize("regex", [r"(?<!a)b", r"a(?=b)", r"(a)\1", r"^a", r"a\b", r"(?x:a b)", r"(?m:a)", r"(?i:ß)"])
def test_unsupported_features_name_the_terminal(regex):
    with pytest.raises(UnsupportedRegexError, match="terminal NAMED"):
        regex_to_dfa(regex, "NAMED")


def test_grammar_with_lookbehind_terminal_is_a_clear_error():
    text = 'start: S\n%import common.ESCAPED_STRING -> S\n'
    with pytest.raises(syncode.GrammarError, match="terminal S"):
        syncode.compile_grammar(syncode.Grammar.from_lark(text), syncode.TokenizerInfo([b"a", None], [1]), cache_dir=None)
