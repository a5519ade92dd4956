"""Objects as one deterministic automaton over their members.

Owns the grammar rules for objects that one ordered chain of properties cannot describe:
properties in several chains that interleave (`ObjectShape.chains`), and unions of shapes
(`ObjectCases`: dependencies split into cases, `oneOf` branches that may overlap). Each
shape is a deterministic automaton over members (key, value): its state is the position
reached in each chain and the member count. The union is determinised by subsets; at each
state the keys are split into disjoint pieces (a declared name, or a class of additional
keys) and, where the branches ask different things of one key's value, the value is split
into disjoint pieces too (each combination of "satisfies / does not satisfy" the branches'
value schemas), so the parser never has to choose a branch before the text decides. A
state accepts when at least one branch (with `exactly_one`: exactly one) accepts.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from itertools import product
from typing import Protocol

from ..automata import CharDFA, literal
from .language import Node, ObjectCases, ObjectShape, UnsupportedSchemaError, all_of, not_of, string_set
from .strings import json_string

MAX_STATES = 2_000  # automaton states for one object rule
MAX_KEY_PIECES = 64  # disjoint key classes at one state
MAX_VALUE_GROUPS = 3  # distinct value schemas for one key at one state (2**3 - 1 value pieces)


class ObjectAutomatonError(UnsupportedSchemaError):
    """The automaton itself cannot be built (too large, or a value split not expressible);
    errors of the value schemas it uses propagate as they are."""


class RuleHost(Protocol):
    """What the emitter needs from the compiler: value rules, key terminals, new rules."""

    rules: dict[str, list[str]]

    def symbol(self, nodes: tuple[Node, ...]) -> str | None: ...

    def terminal(self, dfa: CharDFA) -> str: ...

    def new_rule(self, prefix: str) -> str: ...


@dataclass(frozen=True)
class _Plan:
    """One shape ready to run: props per chain in order as (name, nodes, required)."""

    branch: int
    chains: tuple[tuple[tuple[str, tuple[Node, ...], bool], ...], ...]
    extras: tuple[tuple[CharDFA, tuple[Node, ...]], ...]
    lo: int
    hi: int | None

    def step(self, c: int) -> int:
        return c + 1 if self.hi is not None else min(c + 1, max(self.lo, 1))

    def moves(self, positions: tuple[int, ...], c: int):
        """(key: a name or a key class, nodes, next positions, next count) from a state."""
        if self.hi is not None and c >= self.hi:
            return
        for k, chain in enumerate(self.chains):
            for j in range(positions[k], len(chain)):
                name, nodes, required = chain[j]
                yield name, nodes, positions[:k] + (j + 1,) + positions[k + 1:], self.step(c)
                if required:
                    break
        for keys, nodes in self.extras:
            yield keys, nodes, positions, self.step(c)

    def accepts(self, positions: tuple[int, ...], c: int) -> bool:
        return c >= self.lo and all(not req for k, chain in enumerate(self.chains) for _, _, req in chain[positions[k]:])


def _plan(shape: ObjectShape, branch: int) -> _Plan:
    shape = shape.bounded()
    ids = shape.chain_ids()
    order = list(dict.fromkeys(ids))
    chains = tuple(tuple((name, nodes, name in shape.required) for (name, nodes), c in zip(shape.props, ids) if c == k)
                   for k in order)
    extras = tuple((keys, nodes) for keys, nodes in shape.extras if not keys.is_empty())
    return _Plan(branch, chains, extras, shape.min_props, shape.max_props)


def member_automaton_rule(host: RuleHost, shape: ObjectShape | ObjectCases) -> str | None:
    """A rule for exactly the objects of `shape`, or None when it has none."""
    if isinstance(shape, ObjectCases):
        branches, exactly_one, site = shape.branches, shape.exactly_one, shape.site
    else:
        branches, exactly_one, site = ((shape,),), False, ("properties", "#")
    shapes = [(s, b) for b, branch in enumerate(branches) for s in branch]
    plans = [_plan(s, b) for s, b in shapes]
    if exactly_one and len({_order_of(p) for p in plans}) > 1:
        plans = _free_order_plans(shapes, site)
    return _Emitter(host, plans, exactly_one, site).top()


def _order_of(plan: _Plan) -> tuple:
    """The property orders a plan admits: its chains of names."""
    return tuple(tuple(name for name, _, _ in chain) for chain in plan.chains)


def _free_order_plans(shapes: list[tuple[ObjectShape, int]], site: tuple[str, str]) -> list[_Plan]:
    """Plans for `oneOf` cases whose declared properties all come in any order. "Exactly one
    branch matches" is only decided right when every branch admits the same property orders:
    a branch whose order restriction (its chains) rejected a text it matches would not be
    counted. Each declared name becomes a chain of its own, in one order shared by all."""
    order = list(dict.fromkeys(name for shape, _ in shapes for name, _ in shape.props))
    rank = {name: i for i, name in enumerate(order)}
    plans = []
    for shape, branch in shapes:
        props = tuple(sorted(shape.props, key=lambda prop: rank[prop[0]]))
        free = replace(shape, props=props, chains=tuple(range(len(props))) if len(props) > 1 else ())
        plan = _plan(free, branch)
        if len(plan.chains) < len(props):  # bounded() concatenated chains: orders restricted again
            raise ObjectAutomatonError(*site, f"`oneOf` over objects whose branches declare {len(order)} properties "
                                       "in different orders (each branch would need every order tracked)")
        plans.append(plan)
    return plans


class _Emitter:
    def __init__(self, host: RuleHost, plans: list[_Plan], exactly_one: bool, site: tuple[str, str]) -> None:
        self.host, self.plans, self.exactly_one, self.site = host, plans, exactly_one, site
        self.made: dict[frozenset, str] = {}
        self.start = frozenset((i, (0,) * len(p.chains), 0) for i, p in enumerate(plans))

    def error(self, reason: str) -> ObjectAutomatonError:
        return ObjectAutomatonError(*self.site, reason)

    def accepting(self, state: frozenset) -> bool:
        branches = {self.plans[i].branch for i, pos, c in state if self.plans[i].accepts(pos, c)}
        return len(branches) == 1 if self.exactly_one else bool(branches)

    def top(self) -> str | None:
        out = self.host.new_rule("obj")
        alts = [f"LBRACE {self.rule(self.start)} RBRACE"]
        if self.accepting(self.start):
            alts.append("LBRACE EMPTY_RBRACE")
        self.host.rules[out] = alts
        return out

    def rule(self, state: frozenset) -> str:
        name = self.made.get(state)
        if name is not None:
            return name
        if len(self.made) >= MAX_STATES:
            raise self.error(f"an object automaton over {MAX_STATES} states (too many property orders or cases)")
        name = self.made[state] = self.host.new_rule("m")
        sep = "" if state == self.start else "COMMA "
        alts = [f"{sep}{key} COLON {value} {self.rule(target)}" for key, value, target in self.edges(state)]
        if state != self.start and self.accepting(state):
            alts.append("")
        self.host.rules[name] = alts or ["NEVER"]
        return name

    def edges(self, state: frozenset):
        """(key terminal, value symbol, next state) for every member allowed at `state`."""
        named: dict[str, list] = {}
        classes: list[tuple[CharDFA, tuple[Node, ...], tuple]] = []
        for i, pos, c in sorted(state):
            for key, nodes, pos2, c2 in self.plans[i].moves(pos, c):
                if isinstance(key, str):
                    named.setdefault(key, []).append((nodes, (i, pos2, c2)))
                else:
                    classes.append((key, nodes, (i, pos2, c2)))
        pieces: list[tuple[CharDFA, list]] = []
        for name, moves in named.items():
            moves = moves + [(nodes, t) for keys, nodes, t in classes if keys.accepts(name)]
            pieces.append((literal(name), moves))
        for keys, members in self.key_classes(classes):
            keys = _without_names(keys, tuple(named))
            if keys is not None:
                pieces.append((keys, members))
        for keys, moves in pieces:
            key = self.host.terminal(json_string(keys))
            pieces_of_value = self.value_pieces(moves)
            for nodes, targets in pieces_of_value:
                try:
                    value = self.host.symbol(nodes)
                except UnsupportedSchemaError as exc:
                    if len(pieces_of_value) == 1:
                        raise
                    raise self.error("the cases ask different things of one property's value, and their "
                                     f"difference is not expressible ({exc.reason})") from exc
                if value is not None:
                    yield key, value, frozenset(targets)

    def key_classes(self, classes):
        """The key classes split into disjoint pieces, each with the moves it allows."""
        atoms = _key_atoms(tuple(keys.key() for keys, _, _ in classes))
        if atoms is None:
            raise self.error(f"over {MAX_KEY_PIECES} distinct classes of additional keys in one object")
        return [(dfa, [classes[i][1:] for i in members]) for dfa, members in atoms]

    def value_pieces(self, moves):
        """Disjoint value schemas for one key piece, each with the states it leads to."""
        groups: dict[tuple, tuple[Node, list]] = {}
        for nodes, target in moves:
            node = all_of(nodes)
            groups.setdefault(node.key, (node, []))[1].append(target)
        if len(groups) == 1:
            (node, targets), = groups.values()
            return [((node,), targets)]
        if len(groups) > MAX_VALUE_GROUPS:
            raise self.error(f"over {MAX_VALUE_GROUPS} different schemas for one property's value across the cases")
        out = []
        items = list(groups.values())
        for choice in product((True, False), repeat=len(items)):
            if not any(choice):
                continue
            nodes = tuple(node if inside else not_of(node) for inside, (node, _) in zip(choice, items))
            targets = [t for inside, (_, ts) in zip(choice, items) if inside for t in ts]
            out.append((nodes, targets))
        return out


@functools.lru_cache(maxsize=4096)
def _key_atoms(class_keys: tuple[tuple, ...]) -> tuple[tuple[CharDFA, tuple[int, ...]], ...] | None:
    """Key classes (automaton keys) split into disjoint non-empty pieces, each with the indices
    of the classes that contain it; None over MAX_KEY_PIECES pieces. The same classes recur
    at every state of an object automaton."""
    atoms: list[tuple[CharDFA, tuple[int, ...]]] = []
    for i, key in enumerate(class_keys):
        keys = CharDFA.from_key(key)
        split = []
        rest = keys
        for dfa, members in atoms:
            both = dfa.intersect(keys)
            if not both.is_empty():
                split.append((both, members + (i,)))
                rest = rest.difference(dfa)
            only = dfa.difference(keys)
            if not only.is_empty():
                split.append((only, members))
        if not rest.is_empty():
            split.append((rest, (i,)))
        atoms = split
        if len(atoms) > MAX_KEY_PIECES:
            return None
    return tuple(atoms)


def _without_names(keys: CharDFA, names: tuple[str, ...]) -> CharDFA | None:
    """The key class `keys` less the declared names, or None when nothing is left."""
    return _without_names_in_class(keys.key(), tuple(name for name in names if keys.accepts(name)))


@functools.lru_cache(maxsize=4096)
def _without_names_in_class(keys: tuple, names: tuple[str, ...]) -> CharDFA | None:
    """`_without_names` once `names` are those the class contains (often none: the class of
    additional keys already leaves out the declared properties)."""
    dfa = CharDFA.from_key(keys)
    rest = dfa.difference(string_set(names)) if names else dfa
    return None if rest.is_empty() else rest
