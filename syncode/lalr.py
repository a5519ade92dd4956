"""LALR(1) parse tables built over integers, for grammars given as a list of rules.

Owns the LR(0) automaton of a rule list and its LALR(1) lookaheads, computed as Lark's
analyser computes them (DeRemer and Pennello's reads / includes / lookback relations, Lark's
reading of them included), and Lark's conflict policy: a shift/reduce conflict resolves as
shift; a reduce/reduce conflict goes to the rule of higher priority, or else is an error.
The result is Lark's integer parse table (`states`, `start_states`, `end_states`), the same
table as Lark's up to the numbering of states, built with symbols, items and terminal sets
as integers: generated grammars (JSON Schema) build theirs here, in a fraction of the time.
"""
from __future__ import annotations

from typing import Sequence

from lark.grammar import Rule
from lark.parsers.lalr_analysis import IntParseTable, Reduce, Shift

END = "$END"


class TableError(ValueError):
    """The rules use an undefined symbol, or have a reduce/reduce conflict (not LALR(1))."""


def lalr_table(rules: Sequence[Rule], start: str) -> IntParseTable:
    """The LALR(1) table of `rules` (Lark `Rule`s) for the start symbol `start`."""
    return _Builder(rules, start).table()


class _Builder:
    """Symbols are ints: nonterminals 0..n_nt-1 (the root rule's `$root_start` last), then
    terminals (`$END` first); an item is `base[rule] + dot`; a set of terminals is an int
    whose bit t - n_nt stands for terminal t."""

    def __init__(self, rules: Sequence[Rule], start: str) -> None:
        names = list(dict.fromkeys(rule.origin.name for rule in rules))
        if start not in names:
            raise TableError(f"no rule for the start symbol {start}")
        names.append("$root_" + start)
        self.n_nt = len(names)
        terminals = [END] + list(dict.fromkeys(s.name for rule in rules for s in rule.expansion if s.is_term))
        self.names = names + terminals
        ids = {name: i for i, name in enumerate(names)}
        ids.update((name, self.n_nt + i) for i, name in enumerate(terminals))
        self.start = ids[start]
        self.rules: list[Rule | None] = list(rules) + [None]  # the root rule has no Lark object
        self.lhs = [ids[rule.origin.name] for rule in rules] + [self.n_nt - 1]
        self.rhs: list[tuple[int, ...]] = []
        for rule in rules:
            rhs = tuple(ids.get(symbol.name, -1) for symbol in rule.expansion)
            for symbol, i in zip(rule.expansion, rhs):
                if i < 0 or symbol.is_term != (i >= self.n_nt):
                    raise TableError(f"rule {rule.origin.name} uses the undefined symbol {symbol.name}")
            self.rhs.append(rhs)
        self.rhs.append((self.start,))
        self.rules_of: list[list[int]] = [[] for _ in range(self.n_nt)]
        self.base: list[int] = []
        self.item_rule: list[int] = []
        self.item_next: list[int] = []  # the symbol after the dot, -1 when the item is complete
        for r, (lhs, rhs) in enumerate(zip(self.lhs, self.rhs)):
            self.rules_of[lhs].append(r)
            self.base.append(len(self.item_rule))
            self.item_rule += [r] * (len(rhs) + 1)
            self.item_next += list(rhs) + [-1]
        self.nullable = self._nullable()
        self.expansions = self._expansions()

    def _nullable(self) -> list[bool]:
        nullable = [False] * len(self.names)
        changed = True
        while changed:
            changed = False
            for lhs, rhs in zip(self.lhs, self.rhs):
                if not nullable[lhs] and all(nullable[s] for s in rhs):
                    nullable[lhs] = changed = True
        return nullable

    def _expansions(self) -> list[frozenset[int]]:
        """Per nonterminal, the dot-0 items of every rule a derivation from it can start with."""
        starts_with: list[list[int]] = [[] for _ in range(self.n_nt)]
        items: list[list[int]] = [[] for _ in range(self.n_nt)]
        for r, (lhs, rhs) in enumerate(zip(self.lhs, self.rhs)):
            items[lhs].append(self.base[r])
            if rhs and rhs[0] < self.n_nt:
                starts_with[lhs].append(rhs[0])
        return _digraph(starts_with, [frozenset(own) for own in items])

    def _lr0(self) -> None:
        """States (their kernels) and their transitions, state 0 the root's. A closure is its
        kernel plus the expansions of the nonterminals after the kernel's dots; the moves out
        of those expansions are computed once per set of such nonterminals."""
        n_nt, item_next = self.n_nt, self.item_next
        numbers: dict[frozenset[int], int] = {}
        self.kernels = [frozenset([self.base[-1]])]
        self.transitions: list[dict[int, int]] = []
        shared: dict[frozenset[int], dict[int, frozenset[int]]] = {}
        while len(self.transitions) < len(self.kernels):
            kernel = self.kernels[len(self.transitions)]
            own: dict[int, list[int]] = {}
            for item in kernel:
                symbol = item_next[item]
                if symbol >= 0:
                    own.setdefault(symbol, []).append(item + 1)
            expanded = frozenset(symbol for symbol in own if symbol < n_nt)
            moves_of_expansions = shared.get(expanded)
            if moves_of_expansions is None:
                moves_of_expansions = shared[expanded] = self._moves(expanded)
            targets = {symbol: frozenset(items) for symbol, items in own.items()}
            for symbol, items in moves_of_expansions.items():
                mine = targets.get(symbol)
                targets[symbol] = items if mine is None else mine | items
            moves = {}
            for symbol, key in targets.items():
                target = numbers.get(key)
                if target is None:
                    target = numbers[key] = len(self.kernels)
                    self.kernels.append(key)
                moves[symbol] = target
            self.transitions.append(moves)

    def _moves(self, nonterminals: frozenset[int]) -> dict[int, frozenset[int]]:
        """Symbol -> the items advanced over it, from the expansions of `nonterminals`."""
        items: frozenset[int] = frozenset().union(*(self.expansions[n] for n in nonterminals))
        advanced: dict[int, list[int]] = {}
        for item in items:
            symbol = self.item_next[item]
            if symbol >= 0:
                advanced.setdefault(symbol, []).append(item + 1)
        return {symbol: frozenset(items) for symbol, items in advanced.items()}

    def _follow_sets(self) -> tuple[list[int], dict[tuple[int, int], list[int]]]:
        """(the follow set of each nonterminal transition, lookback: (state, rule) -> transitions)."""
        n_nt, transitions, nullable = self.n_nt, self.transitions, self.nullable
        edges = [(p, s) for p, moves in enumerate(transitions) for s in moves if s < n_nt]
        index = {edge: x for x, edge in enumerate(edges)}
        directly_reads = [0] * len(edges)
        reads: list[list[int]] = [[] for _ in edges]
        for x, (p, s) in enumerate(edges):
            target = transitions[p][s]
            bits = 1 if (p, s) == (0, self.start) else 0  # $END after the start symbol
            for symbol in transitions[target]:
                if symbol >= n_nt:
                    bits |= 1 << (symbol - n_nt)
                elif nullable[symbol]:
                    reads[x].append(index[(target, symbol)])
            directly_reads[x] = bits
        nullable_tail = []  # per rule: where the suffix of nullable symbols starts
        for rhs in self.rhs:
            tail = len(rhs)
            while tail and nullable[rhs[tail - 1]]:
                tail -= 1
            nullable_tail.append(tail)
        includes: list[list[int]] = [[] for _ in edges]
        lookback: dict[tuple[int, int], list[int]] = {}
        for x, (p, nonterminal) in enumerate(edges):
            # the closure's items of `nonterminal`: those of the kernel, and (the transition
            # exists, so the closure expanded it) the start of each of its rules
            kernel_items = [item for item in self.kernels[p] if self.lhs[self.item_rule[item]] == nonterminal]
            for item in kernel_items + [self.base[r] for r in self.rules_of[nonterminal]]:
                r = self.item_rule[item]
                rhs, dot = self.rhs[r], item - self.base[r]
                state = p
                for i in range(dot, len(rhs)):
                    y = index.get((state, rhs[i]))
                    state = transitions[state][rhs[i]]
                    if y is not None and i + 1 >= nullable_tail[r]:
                        includes[y].append(x)
                if dot == 0:
                    lookback.setdefault((state, r), []).append(x)
        return _digraph(includes, _digraph(reads, directly_reads)), lookback

    def table(self) -> IntParseTable:
        self._lr0()
        follow, lookback = self._follow_sets()
        n_nt, names = self.n_nt, self.names
        lookaheads: list[dict[int, int]] = [{} for _ in self.kernels]  # state -> rule -> terminal set
        for (state, r), xs in lookback.items():
            bits = 0
            for x in xs:
                bits |= follow[x]
            lookaheads[state][r] = lookaheads[state].get(r, 0) | bits
        states: dict[int, dict[str, tuple]] = {}
        collisions: list[str] = []
        for state, moves in enumerate(self.transitions):
            actions = {names[s]: (Shift, target) for s, target in moves.items()}
            by_terminal: dict[int, list[int]] = {}
            for r, bits in lookaheads[state].items():
                while bits:
                    low = bits & -bits
                    by_terminal.setdefault(low.bit_length() - 1 + n_nt, []).append(r)
                    bits ^= low
            for terminal, rs in by_terminal.items():
                rule = self._resolve(rs, names[terminal], collisions)
                if rule is not None and names[terminal] not in actions:  # shift wins
                    actions[names[terminal]] = (Reduce, rule)
            states[state] = actions
        if collisions:
            raise TableError("\n\n".join(collisions))
        start_name = names[self.start]
        return IntParseTable(states, {start_name: 0}, {start_name: self.transitions[0][self.start]})

    def _resolve(self, rs: list[int], terminal: str, collisions: list[str]) -> Rule | None:
        """The one rule to reduce by on `terminal`, or None after noting a collision."""
        if len(rs) == 1:
            return self.rules[rs[0]]
        ranked = sorted((self.rules[r] for r in rs), key=lambda rule: rule.options.priority or 0, reverse=True)
        if (ranked[0].options.priority or 0) > (ranked[1].options.priority or 0):
            return ranked[0]
        collisions.append(f"Reduce/Reduce collision in {terminal} between the following rules: "
                          + "".join(f"\n\t- {rule}" for rule in ranked))
        return None


def _digraph(relation: list[list[int]], given: list) -> list:
    """F(x) = given(x) | F(y) for every y that x relates to (sets as ints or frozensets): the
    least solution, by Tarjan's strongly connected components as DeRemer and Pennello's
    Digraph (without recursion)."""
    result = list(given)
    depth = [0] * len(given)  # 0 unvisited, > 0 on the stack, -1 done
    stack: list[int] = []
    for root in range(len(given)):
        if depth[root]:
            continue
        stack.append(root)
        depth[root] = len(stack)
        work = [[root, len(stack), 0]]
        while work:
            frame = work[-1]
            x, entry, k = frame
            if k < len(relation[x]):
                frame[2] = k + 1
                y = relation[x][k]
                if depth[y] == 0:
                    stack.append(y)
                    depth[y] = len(stack)
                    work.append([y, len(stack), 0])
                    continue
                if 0 < depth[y] < depth[x]:
                    depth[x] = depth[y]
                result[x] |= result[y]
                continue
            work.pop()
            if depth[x] == entry:
                while True:
                    z = stack.pop()
                    depth[z] = -1
                    result[z] = result[x]
                    if z == x:
                        break
            if work:
                parent = work[-1][0]
                if 0 < depth[x] < depth[parent]:
                    depth[parent] = depth[x]
                result[parent] |= result[x]
    return result
