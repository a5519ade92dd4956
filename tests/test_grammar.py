"""Grammar loading: built-ins, files, and clear errors."""
from __future__ import annotations

import pytest

import syncode


def test_builtins_listed_and_loadable():
    names = syncode.Grammar.builtin_names()
    assert {"json", "calc", "sql"} <= set(names)
    for name in names:
        assert syncode.Grammar.builtin(name).terminals


def test_from_file(tmp_path):
    path = tmp_path / "g.lark"
    path.write_text('start: "a"+\n')
    g = syncode.Grammar.from_file(path)
    assert g.name == str(path)


def test_unknown_builtin_and_missing_file():
    with pytest.raises(syncode.GrammarError, match="no built-in grammar 'nope'"):
        syncode.Grammar.builtin("nope")
    with pytest.raises(syncode.GrammarError, match="cannot read grammar file"):
        syncode.Grammar.from_file("/nonexistent/x.lark")


def test_malformed_grammar_says_where():
    with pytest.raises(syncode.GrammarError, match="cannot be loaded|grammar"):
        syncode.Grammar.from_lark("start: (\n")


def test_reduce_reduce_conflict_names_the_rules():
    text = "start: a | b\na: X\nb: X\nX: \"x\"\n"
    with pytest.raises(syncode.GrammarError) as err:
        syncode.Grammar.from_lark(text)
    message = str(err.value)
    assert "Reduce/Reduce" in message and "<a : X>" in message and "<b : X>" in message


def test_declared_terminal_without_pattern_is_rejected():
    with pytest.raises(syncode.GrammarError, match="%declare"):
        syncode.Grammar.from_lark("%declare _INDENT\nstart: _INDENT? \"a\"\n")


def test_lark_features_templates_priorities_imports():
    text = r'''
    start: pair{NAME, NUMBER} ("," pair{NAME, NUMBER})*
    pair{k, v}: k "=" v
    NAME.2: /[a-z]+/
    %import common.NUMBER
    %import common.WS
    %ignore WS
    '''
    info = syncode.TokenizerInfo([b"a", b"=", b"1", b",", b" ", b"ab", None], [6])
    c = syncode.compile_grammar(syncode.Grammar.from_lark(text), info, cache_dir=None)
    m = syncode.GrammarMatcher(c)
    for t in [5, 1, 2, 3, 4, 0, 1, 2]:
        assert m.accept_token(t)
    assert m.is_accepting()
