"""Cross-context tables: boundary tokens decided by bitsets instead of parser walks.

Owns a shortcut for the boundary tries of the mask store. A trie root (lexer state q,
terminal T ending the lexeme) is followed, once T is shifted, by a new lexeme that starts in
some context start state s0 (the contexts of the LR states that shift T, or q's own context
when T is ignored). For a root with a large trie (`kernels.CROSS_MIN_NODES`) and an s0 that
decoding actually reached (the mask kernel reports the pairs it had to walk;
`store.GrammarStore` adds their entries), the remainders are run from s0 once:
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
from .layout import KIND_IGNORE, KIND_NEWLINE, KIND_SHIFT
from .lexer import LexerContexts
from .mask_store import token_row
from .parse_table import ParseTables
from .tokenizer_info import TokenizerInfo



def next_starts(term: int, q: int, tables: ParseTables, contexts: LexerContexts) -> list[int]:
    """Context start states a lexeme can begin in right after `term` ends at lexer state q."""
    own = int(contexts.context_start[contexts.state_context[q]])
    kind = contexts.term_kind[term]
    if kind == KIND_IGNORE:
        return [own]
    if kind == KIND_SHIFT:
        shifted = [int(contexts.term_arg[term])]
    else:  # the indenter's newline: ignored inside brackets, else newline, INDENT or DEDENTs
        shifted = [int(t) for t in contexts.layout_params[:3]]
    column = tables.action[:, shifted]
    targets = column[column > 0] - 1
    starts = {int(contexts.context_start[contexts.lr_context[s]]) for s in targets}
    if kind == KIND_NEWLINE:
        starts.add(own)
    return sorted(starts)


def _tokens_of(nodes: np.ndarray, node_tok_ptr: np.ndarray, node_toks: np.ndarray) -> np.ndarray:
    """The tokens that end at any of `nodes` (concatenated CSR slices)."""
    starts, ends = node_tok_ptr[nodes], node_tok_ptr[nodes + 1]
    lengths = ends - starts
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return node_toks[np.repeat(starts, lengths) + within]


def cross_groups(s0: int, nodes: np.ndarray, node_depth: np.ndarray, node_tok_ptr: np.ndarray,
                 node_toks: np.ndarray, contexts: LexerContexts, info: TokenizerInfo,
                 alive_id: np.ndarray) -> dict[str, np.ndarray]:
    """The cross entry of one trie (`nodes`) for next start state s0: the inside remainders as
    groups (`grp_state`: a representative lexer state per set of alive terminals, `grp_rows`:
    their tokens as packed bitsets) and the `deep` nodes. `alive_id` numbers the lexer states'
    alive-terminal sets."""
    nodes = nodes[node_tok_ptr[nodes + 1] > node_tok_ptr[nodes]]
    rep = node_toks[node_tok_ptr[nodes]]
    rem_hi = info.offsets[rep + 1]
    rem_lo = rem_hi - node_depth[nodes]
    die = np.empty(len(nodes), np.int64)
    last = np.empty(len(nodes), np.int32)
    classify_ranges(contexts.trans, s0, info.flat, rem_lo, rem_hi, die, last)
    inside = die < 0
    inside_nodes, inside_states = nodes[inside], last[inside]
    # One group per set of alive terminals, in order of first appearance.
    _, first, which = np.unique(alive_id[inside_states], return_index=True, return_inverse=True)
    grp_state, grp_rows = [], []
    for g in np.argsort(first):
        members = inside_nodes[which.reshape(-1) == g]
        grp_state.append(int(inside_states[first[g]]))
        grp_rows.append(token_row(_tokens_of(members, node_tok_ptr, node_toks), info.bitmask_words))
    # A remainder that dies where no terminal accepts can never be allowed.
    ends_lexeme = ~inside & (contexts.accept[last] >= 0) & (die > 0)
    return {"grp_state": np.array(grp_state, dtype=np.int32),
            "grp_rows": np.array(grp_rows, dtype=np.uint32).reshape(len(grp_rows), info.bitmask_words),
            "deep": nodes[ends_lexeme].astype(np.int32)}
