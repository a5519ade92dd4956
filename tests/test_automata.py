"""Character automata: regexes compiled with exactly `re`'s semantics, and the set algebra."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncode import automata

PATTERNS = [
    "(?:b*c)?", "a*", "(?:ab|a)*b", "x{2,4}", "(?:a|bc){0,3}d", "[^a-c]+", r"\d{1,3}(?:\.\d+)?",
    "(?i)abc", "(?:a*)*", "(?:a?b?)+c", "[a-z]*(?:-[a-z]+)*", "a{3}", "(?:ab){2,}", r"\w+@\w+",
    "é|ß", "(?:(?:a|b)*c)?d",
]
ALPHABET = "abcdx-@.é1ß9"


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=8))
def test_fullmatch_agrees_with_re(pattern, text):
    assert automata.from_regex(pattern).accepts(text) == (re.fullmatch(pattern, text) is not None)


@pytest.mark.parametrize("pattern", PATTERNS + ["^ab", "ab$", "^a$", "b\\Z", "^$"])
@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=ALPHABET + "\n", max_size=8))
def test_search_agrees_with_re(pattern, text):
    assert automata.from_regex(pattern, search=True).accepts(text) == (re.search(pattern, text) is not None)


def test_star_inside_optional_does_not_exit_mid_loop():
    # Regression: the loop of `b*` used to share its state with the surrounding `?`.
    dfa = automata.from_regex("(?:b*c)?")
    assert not dfa.accepts("b") and dfa.accepts("bbc") and dfa.accepts("")


@given(a=st.text(alphabet="ab", max_size=6))
def test_set_algebra(a):
    x, y = automata.from_regex("a*b*"), automata.from_regex("(?:ab)*")
    in_x, in_y = x.accepts(a), y.accepts(a)
    assert x.intersect(y).accepts(a) == (in_x and in_y)
    assert x.union(y).accepts(a) == (in_x or in_y)
    assert x.difference(y).accepts(a) == (in_x and not in_y)


def test_minimize_is_canonical():
    assert automata.from_regex("(?:a|b)*").minimize().key() == automata.from_regex("[ab]*").minimize().key()
    assert automata.from_regex("a+").intersect(automata.from_regex("b+")).is_empty()


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)", "(?<!a)b", r"\bword", "a*+"])
def test_non_regular_features_are_clear_errors(pattern):
    with pytest.raises(automata.UnsupportedPatternError):
        automata.from_regex(pattern)
