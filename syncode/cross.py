"""Cross-context tables: boundary tokens decided by bitsets instead of parser walks.

Owns a compile-time shortcut for the boundary tries of the mask store. A trie root (lexer
state q, terminal T ending the lexeme) is followed, once T is shifted, by a new lexeme that
starts in some context start state s0. For each root with a large trie and each s0 that can
follow T (the contexts of the LR states that shift T, or q's own context when T is ignored),
the remainders are run from s0 once, offline:
- a remainder that stays inside that one lexeme is allowed iff some terminal still alive
  after it may end there: such tokens become bitset rows, grouped by alive terminals;
- a remainder that ends that lexeme too, where a terminal accepts ("deep"), is listed, and
  the matcher runs the parser on it at decode time;
- any other remainder dies where no terminal accepts and is never allowed.
At decode time the matcher picks the entry for the s0 it actually reaches; when there is
none it walks the trie, so the result is the same either way, only faster.
"""
from __future__ import annotations

import numpy as np

from .kernels import classify_ranges
from .lexer import LexerContexts
from .mask_store import RowTable
from .parse_table import ParseTables
from .tokenizer_info import TokenizerInfo

MIN_TRIE_NODES = 64


def next_starts(term: int, q: int, tables: ParseTables, contexts: LexerContexts) -> list[int]:
    """Context start states a lexeme can begin in right after `term` ends at lexer state q."""
    if contexts.is_ignored[term]:
        return [int(contexts.context_start[contexts.state_context[q]])]
    column = tables.action[:, term]
    targets = column[column > 0] - 1
    return sorted({int(contexts.context_start[contexts.lr_context[s]]) for s in targets})


def _tokens_of(nodes: np.ndarray, node_tok_ptr: np.ndarray, node_toks: np.ndarray) -> np.ndarray:
    """The tokens that end at any of `nodes` (concatenated CSR slices)."""
    starts, ends = node_tok_ptr[nodes], node_tok_ptr[nodes + 1]
    lengths = ends - starts
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return node_toks[np.repeat(starts, lengths) + within]


def build_cross(store: tuple, tables: ParseTables, contexts: LexerContexts, info: TokenizerInfo, table: RowTable) -> tuple:
    """(cx_ptr, cx_s0, cx_grp_ptr, cx_grp_state, cx_grp_row, cx_deep_ptr, cx_deep) for the
    joined store; rows are added to `table`."""
    # `store` is the joined store without its rows array, so indices are one below ST's.
    root_ptr, root_term, root_lo, root_hi = store[5], store[6], store[7], store[8]
    node_depth, node_tok_ptr, node_toks = store[10], store[12], store[13]
    n_roots = len(root_term)
    root_state = np.repeat(np.arange(len(root_ptr) - 1), np.diff(root_ptr))
    cx_ptr, cx_s0 = [0], []
    cx_grp_ptr, cx_grp_state, cx_grp_row = [0], [], []
    cx_deep_ptr, cx_deep = [0], []
    alive_sets: dict[bytes, int] = {}
    alive_id = np.array([alive_sets.setdefault(contexts.alive_terms[contexts.alive_ptr[s]:contexts.alive_ptr[s + 1]].tobytes(),
                                               len(alive_sets)) for s in range(len(contexts.accept))], dtype=np.int64)
    for r in range(n_roots):
        lo, hi = int(root_lo[r]), int(root_hi[r])
        if hi - lo >= MIN_TRIE_NODES:
            nodes = np.arange(lo, hi)
            nodes = nodes[node_tok_ptr[nodes + 1] > node_tok_ptr[nodes]]
            rep = node_toks[node_tok_ptr[nodes]]
            rem_hi = info.offsets[rep + 1]
            rem_lo = rem_hi - node_depth[nodes]
            die = np.empty(len(nodes), np.int64)
            last = np.empty(len(nodes), np.int32)
            for s0 in next_starts(int(root_term[r]), int(root_state[r]), tables, contexts):
                classify_ranges(contexts.trans, s0, info.flat, rem_lo, rem_hi, die, last)
                cx_s0.append(s0)
                inside = die < 0
                inside_nodes, inside_states = nodes[inside], last[inside]
                # One group per set of alive terminals, in order of first appearance.
                _, first, which = np.unique(alive_id[inside_states], return_index=True, return_inverse=True)
                for g in np.argsort(first):
                    members = inside_nodes[which.reshape(-1) == g]
                    cx_grp_state.append(int(inside_states[first[g]]))
                    cx_grp_row.append(table.add_tokens(_tokens_of(members, node_tok_ptr, node_toks)))
                cx_grp_ptr.append(len(cx_grp_state))
                # A remainder that dies where no terminal accepts can never be allowed.
                ends_lexeme = ~inside & (contexts.accept[last] >= 0) & (die > 0)
                cx_deep.extend(nodes[ends_lexeme].tolist())
                cx_deep_ptr.append(len(cx_deep))
        cx_ptr.append(len(cx_s0))
    i32 = lambda x: np.array(x, dtype=np.int32)  # noqa: E731
    return (i32(cx_ptr), i32(cx_s0), i32(cx_grp_ptr), i32(cx_grp_state), i32(cx_grp_row), i32(cx_deep_ptr), i32(cx_deep))
