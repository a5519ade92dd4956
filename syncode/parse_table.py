"""LALR(1) parse tables as NumPy arrays.

Owns the translation of Lark's LALR table (dicts of actions per state) into dense integer
arrays that the Numba parser reads: `action[state, terminal]` (0 error, v > 0 shift to state
v - 1, v < 0 reduce by rule -v - 1), `goto[state, nonterminal]`, and per rule its length and
left-hand side. Terminal indices follow the grammar's terminal list, then the terminals an
indenter makes (INDENT, DEDENT), with `$END` last.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lark.parsers.lalr_analysis import Shift

from .grammar import Grammar

END = "$END"


@dataclass(frozen=True)
class ParseTables:
    action: np.ndarray  # int32 [n_states, n_terminals + 1]
    goto: np.ndarray  # int32 [n_states, n_nonterminals], -1 where undefined
    rule_len: np.ndarray  # int32 [n_rules]
    rule_lhs: np.ndarray  # int32 [n_rules]
    start_state: int
    end_state: int
    terminal_names: tuple[str, ...]  # grammar terminals, indenter terminals, then $END
    accessing_terminal: np.ndarray  # int32 [n_states]: the terminal shifted to enter the state, or -1

    @property
    def end_terminal(self) -> int:
        return len(self.terminal_names) - 1

    def expected(self, state: int) -> list[str]:
        """Terminal names the table accepts in `state` (for error messages)."""
        return [self.terminal_names[t] for t in np.nonzero(self.action[state])[0]]


def build_parse_tables(grammar: Grammar) -> ParseTables:
    table = grammar.parse_table
    terminal_names = tuple(t.name for t in grammar.terminals) + grammar.virtual_terminals + (END,)
    term_index = {name: i for i, name in enumerate(terminal_names)}
    states = sorted(table.states)
    if states != list(range(len(states))):
        raise AssertionError("Lark's integer parse table is expected to number states 0..n-1")

    nonterminals: dict[str, int] = {}
    rules: dict[object, int] = {}
    for actions in table.states.values():
        for symbol, (kind, arg) in actions.items():
            if symbol not in term_index:
                nonterminals.setdefault(symbol, len(nonterminals))
            if kind is not Shift:
                rules.setdefault(arg, len(rules))
    for rule in rules:
        nonterminals.setdefault(rule.origin.name, len(nonterminals))

    action = np.zeros((len(states), len(terminal_names)), dtype=np.int32)
    goto = np.full((len(states), max(1, len(nonterminals))), -1, dtype=np.int32)
    for state, actions in table.states.items():
        for symbol, (kind, arg) in actions.items():
            if symbol in term_index:
                action[state, term_index[symbol]] = arg + 1 if kind is Shift else -(rules[arg] + 1)
            else:
                goto[state, nonterminals[symbol]] = arg
    accessing = np.full(len(states), -1, dtype=np.int32)
    rows, cols = np.nonzero(action > 0)
    accessing[action[rows, cols] - 1] = cols
    rule_len = np.array([len(r.expansion) for r in rules], dtype=np.int32)
    rule_lhs = np.array([nonterminals[r.origin.name] for r in rules], dtype=np.int32)
    return ParseTables(
        action=action,
        goto=goto,
        rule_len=rule_len if len(rule_len) else np.zeros(1, np.int32),
        rule_lhs=rule_lhs if len(rule_lhs) else np.zeros(1, np.int32),
        start_state=int(table.start_states[grammar.start]),
        end_state=int(table.end_states[grammar.start]),
        terminal_names=terminal_names,
        accessing_terminal=accessing,
    )
