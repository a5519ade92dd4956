"""syncode.lalr builds the same LALR(1) table as Lark's analyser, up to state numbering.

Compared on the built-in grammars, on generated JSON Schema grammars, and on random small
grammars (where reduce/reduce collisions must be reported by both or neither)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark.common import ParserConf
from lark.exceptions import GrammarError as LarkGrammarError
from lark.grammar import NonTerminal, Rule, Terminal
from lark.parsers.lalr_analysis import LALR_Analyzer, Shift

import syncode
from syncode.lalr import TableError, lalr_table


def lark_table(rules, start):
    analysis = LALR_Analyzer(ParserConf(list(rules), None, [start]))
    analysis.compute_lalr()
    return analysis.parse_table


def difference(ours, theirs, start: str) -> str | None:
    """Where two integer parse tables differ once their states are paired by walking both
    from the start state; None when they are the same table."""
    pair = {ours.start_states[start]: theirs.start_states[start]}
    todo = list(pair)
    while todo:
        state = todo.pop()
        mine, other = ours.states[state], theirs.states[pair[state]]
        if mine.keys() != other.keys():
            return f"state {state}: actions on {sorted(mine)} vs {sorted(other)}"
        for symbol, (kind, arg) in mine.items():
            other_kind, other_arg = other[symbol]
            if kind is not other_kind:
                return f"state {state} on {symbol}: {kind} vs {other_kind}"
            if kind is not Shift:
                if arg != other_arg:
                    return f"state {state} on {symbol}: reduce by {arg} vs {other_arg}"
            elif arg not in pair:
                pair[arg] = other_arg
                todo.append(arg)
            elif pair[arg] != other_arg:
                return f"state {state} on {symbol}: shifts to states that do not pair"
    if len(set(pair.values())) != len(pair):
        return "two states pair with one"
    if len(pair) != len(ours.states) or len(ours.states) != len(theirs.states):
        return f"{len(ours.states)} states vs {len(theirs.states)}"
    if pair[ours.end_states[start]] != theirs.end_states[start]:
        return "end states do not pair"
    return None


@pytest.mark.parametrize("name", syncode.Grammar.builtin_names())
def test_builtin_grammars_get_lark_s_table(name):
    grammar = syncode.Grammar.builtin(name)
    assert difference(lalr_table(grammar.rules, grammar.start), lark_table(grammar.rules, grammar.start),
                      grammar.start) is None


SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"$ref": "#"}}},
     "required": ["a"], "additionalProperties": False},
    {"type": "array", "prefixItems": [{"type": "string"}], "minItems": 1, "maxItems": 4},
    {"anyOf": [{"type": "object"}, {"type": "array", "items": {"enum": [1, "x", None]}}]},
    {"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "number"}},
     "patternProperties": {"^z": {"type": "boolean"}}, "minProperties": 1, "maxProperties": 3},
    True,
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_schema_grammars_get_lark_s_table(schema):
    grammar = syncode.Grammar.from_json_schema(schema)
    table = grammar.parse_table  # from_rules builds it with syncode.lalr
    assert difference(table, lark_table(grammar.rules, grammar.start), grammar.start) is None


NONTERMINALS = ["s", "a", "b", "c"]
SYMBOLS = NONTERMINALS + ["X", "Y", "Z"]


def _rules(alternatives: list[list[list[str]]]) -> list[Rule]:
    rules = []
    for origin, alts in zip(NONTERMINALS, alternatives):
        for order, alt in enumerate(dict.fromkeys(tuple(a) for a in alts)):
            expansion = [Terminal(s, filter_out=False) if s.isupper() else NonTerminal(s) for s in alt]
            rules.append(Rule(NonTerminal(origin), expansion, order))
    return rules


GRAMMARS = st.lists(st.lists(st.lists(st.sampled_from(SYMBOLS), max_size=3), min_size=1, max_size=3),
                    min_size=len(NONTERMINALS), max_size=len(NONTERMINALS))


@settings(max_examples=400)
@given(GRAMMARS)
def test_random_grammars_get_lark_s_table_or_both_report_a_collision(alternatives):
    rules = _rules(alternatives)
    try:
        theirs = lark_table(rules, "s")
    except LarkGrammarError as exc:
        assert "Reduce/Reduce" in str(exc)
        with pytest.raises(TableError, match="Reduce/Reduce collision"):
            lalr_table(rules, "s")
        return
    assert difference(lalr_table(rules, "s"), theirs, "s") is None


def test_undefined_symbols_and_collisions_are_errors():
    with pytest.raises(TableError, match="undefined symbol b"):
        lalr_table(_rules([[["b"]], [], [], []]), "s")
    with pytest.raises(TableError, match="no rule for the start symbol t"):
        lalr_table(_rules([[["X"]], [], [], []]), "t")
    with pytest.raises(syncode.GrammarError, match=r"Reduce/Reduce collision in \$END[^$]*<a : X>"):
        syncode.Grammar.from_rules({"s": ["a", "b"], "a": ["X"], "b": ["X"]}, {"X": "x"}, start="s")
