"""Grammar loading: built-ins, files, and clear errors."""
from __future__ import annotations

import pytest
from lark.parsers.lalr_analysis import Shift

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


def _table_shape(grammar: syncode.Grammar) -> list:
    """The parse table with states renumbered breadth-first from the start (Lark's own
    numbering depends on set iteration order)."""
    table = grammar.parse_table
    first = table.start_states[grammar.start]
    ids, queue, rows = {first: 0}, [first], []
    for state in queue:
        row = []
        for symbol, (kind, arg) in sorted(table.states[state].items()):
            if kind is Shift:
                if arg not in ids:
                    ids[arg] = len(ids)
                    queue.append(arg)
                row.append((symbol, ids[arg]))
            else:
                row.append((symbol, arg.origin.name, tuple(s.name for s in arg.expansion)))
        rows.append(row)
    return rows


SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "string"}}},
     "required": ["a"]},
    {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "array", "items": {"$ref": "#"}}]},
    {"type": "object", "additionalProperties": {"enum": [1, "x", None]}, "minProperties": 1},
]


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("whitespace", ["compact", "flexible"])
def test_from_rules_builds_what_lark_loads_from_the_text(schema, whitespace):
    built = syncode.Grammar.from_json_schema(schema, whitespace=whitespace)  # through from_rules
    loaded = syncode.Grammar(built.text, terminal_dfas=built.terminal_dfas)  # through Lark's loader
    assert built.terminals == loaded.terminals
    assert _table_shape(built) == _table_shape(loaded)


@pytest.mark.parametrize("rules, match", [
    ({"start": ["A b"]}, "undefined symbol b"),
    ({"start": ["A", "A"]}, "alternative 'A' twice"),
    ({"start": ["x", "y"], "x": ["A"], "y": ["A"]}, "Reduce/Reduce"),
    ({"begin": ["A"]}, "no start rule start"),
])
def test_from_rules_errors_say_what(rules, match):
    with pytest.raises(syncode.GrammarError, match=match):
        syncode.Grammar.from_rules(rules, {"A": "a"})
