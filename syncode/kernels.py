"""Numba kernels: the incremental lexer/parser and the per-step mask fill.

Owns the hot path. The parser stack is persistent: a pool of nodes (state, parent) where a
matcher state is one node id, so rollback is restoring an id. A step works on a *virtual
stack* (a base node plus a small array of states pushed on top of it), so trying a token
never writes to the pool; `advance` commits the virtual stack as new nodes at the end.

`G`, the grammar tuple, is (action, goto, rules, lex_trans, lex_accept, alive_ptr,
alive_terms, lr_info, context_start, term_info, params): `rules[r]` = (length, left-hand
side), `lr_info[s]` = (lexer context, layout role), `term_info[t]` = (kind, parser terminal)
per lexer terminal, and `params` = (end state, end terminal, newline, indent, dedent, insert
terminals or -1, tab size, state mask); see `lexer.LexerContexts`. Few arrays on purpose:
Numba passes the tuple's arrays as separate arguments to every kernel call (four more
arrays measured +16% per mask).

A lexeme that ends is *emitted* (`emit`): its lexer terminal is shifted as a parser terminal,
ignored, or is the indenter's newline, whose INDENT/DEDENTs depend on the width of the line's
indentation. That width is the *register*, the one piece of lexer state besides the DFA state
(`step_register`): the width of the leading whitespace since the lexeme's last newline. INDENT
nodes keep their width in the state's high bits (`layout.STATE_BITS`), so the indentation
levels and the bracket depth are read from the stack itself (`_indent_level`), and rollback
stays a matter of restoring ids.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .layout import (KIND_IGNORE, KIND_SHIFT, MAX_ALT_WIDTH, MAX_WIDTH, ROLE_CLOSE, ROLE_DEDENT, ROLE_INDENT,
                     ROLE_NEWLINE, ROLE_OPEN, ROLE_TRIGGER, STATE_BITS, WIDTH_BITS)

VSTACK_CAPACITY = 4096
CROSS_MIN_NODES = 64  # tries this large get cross entries (see cross.py)
MAX_CROSS_MISSES = 64  # (root, next start) pairs one fill reports for cross entries
REG_NONE = -1  # the register outside a line's leading whitespace
REG_DEEP = -2  # indentation wider than an INDENT node can record (allowed only inside brackets)


@njit(cache=True, inline="always")
def _top(node_state, base, vstack, vlen, mask):
    if vlen > 0:
        return vstack[vlen - 1] & mask
    return node_state[base] & mask


@njit(cache=True, inline="always")
def step_register(reg, b, tab):
    """The register after byte b: the width of the current line's leading whitespace, as
    (columns with tabs to the next multiple of `tab`) | (columns with tabs as 1) << WIDTH_BITS;
    REG_NONE past it, REG_DEEP when wider than recordable."""
    if b == 10:
        return 0
    if reg < 0:
        if reg == REG_DEEP:
            if b == 12:
                return 0
            if b == 32 or b == 9:
                return REG_DEEP
        return REG_NONE
    col = reg & MAX_WIDTH
    alt = reg >> WIDTH_BITS
    if b == 32:
        col += 1
        alt += 1
    elif b == 9:
        col = (col // tab + 1) * tab
        alt += 1
    elif b == 12:
        col = 0
        alt = 0
    else:
        return REG_NONE
    if col > MAX_WIDTH or alt > MAX_ALT_WIDTH:
        return REG_DEEP
    return col | (alt << WIDTH_BITS)


@njit(cache=True)
def _register_after(reg, data, lo, hi, tab):
    """The register after bytes data[lo:hi]."""
    for i in range(lo, hi):
        reg = step_register(reg, data[i], tab)
    return reg


@njit(cache=True)
def push_terminal(G, node_state, node_parent, base, vstack, vlen, term):
    """Reduce as needed, then shift `term`. Returns (base, vlen); vlen < 0 when rejected."""
    action, goto, rules, mask = G[0], G[1], G[2], G[10][7]
    while True:
        top = _top(node_state, base, vstack, vlen, mask)
        a = action[top, term]
        if a == 0:
            return base, -1
        if a > 0:
            if vlen >= vstack.shape[0]:
                return base, -1
            vstack[vlen] = a - 1
            return base, vlen + 1
        rule = -a - 1
        for _ in range(rules[rule, 0]):
            if vlen > 0:
                vlen -= 1
            else:
                base = node_parent[base]
        nxt = goto[_top(node_state, base, vstack, vlen, mask), rules[rule, 1]]
        if nxt < 0 or vlen >= vstack.shape[0]:
            return base, -1
        vstack[vlen] = nxt
        vlen += 1


@njit(cache=True)
def _indent_level(G, node_state, node_parent, base, vstack, vlen):
    """(bracket depth, the innermost open block's width register, 0 at top level), read from
    the stack: open minus close bracket nodes, INDENT nodes not closed by a DEDENT node."""
    lr_info, mask = G[7], G[10][7]
    depth = 0
    closed = 0
    i = vlen - 1
    node = base
    while True:
        if i >= 0:
            s = vstack[i]
            i -= 1
        elif node >= 0:
            s = node_state[node]
            node = node_parent[node]
        else:
            return depth, 0
        r = lr_info[s & mask, 1]
        if r == 0:
            continue
        if r & ROLE_OPEN:
            depth += 1
        if r & ROLE_CLOSE:
            depth -= 1
        if r & ROLE_DEDENT:
            closed += 1
        if r & ROLE_INDENT:
            if closed > 0:
                closed -= 1
            else:
                return depth, s >> STATE_BITS


@njit(cache=True)
def _dedent_to(G, node_state, node_parent, base, vstack, vlen, reg, level):
    """Shift one DEDENT per block deeper than `reg` (`level`: the innermost open block's),
    which must then be the level reached (both widths, as CPython checks tabs)."""
    dedent = G[10][4]
    while (reg & MAX_WIDTH) < (level & MAX_WIDTH):
        base, vlen = push_terminal(G, node_state, node_parent, base, vstack, vlen, dedent)
        if vlen < 0:
            return base, vlen
        _, level = _indent_level(G, node_state, node_parent, base, vstack, vlen)
    if reg != level:
        return base, -1
    return base, vlen


@njit(cache=True)
def emit_newline(G, node_state, node_parent, base, vstack, vlen, reg):
    """The indenter's newline whose next line is indented by `reg`: ignored inside brackets;
    otherwise the newline, then INDENT (deeper) or DEDENTs to an enclosing level."""
    params = G[10]
    depth, level = _indent_level(G, node_state, node_parent, base, vstack, vlen)
    if depth > 0:
        return base, vlen
    if reg < 0:
        return base, -1
    base, vlen = push_terminal(G, node_state, node_parent, base, vstack, vlen, params[2])
    if vlen < 0:
        return base, vlen
    if (reg & MAX_WIDTH) > (level & MAX_WIDTH):
        if (reg >> WIDTH_BITS) <= (level >> WIDTH_BITS):
            return base, -1  # deeper with tabs at 8 columns, not with tabs at 1: CPython's TabError
        base, vlen = push_terminal(G, node_state, node_parent, base, vstack, vlen, params[3])
        if vlen > 0:
            vstack[vlen - 1] |= reg << STATE_BITS
        return base, vlen
    return _dedent_to(G, node_state, node_parent, base, vstack, vlen, reg, level)


@njit(cache=True, inline="always")
def emit(G, node_state, node_parent, base, vstack, vlen, term, reg):
    """A lexeme of lexer terminal `term` ends (with register `reg`): shift, ignore, or the
    indenter's newline. Returns (base, vlen); vlen < 0 when rejected."""
    kind = G[9][term, 0]
    if kind == KIND_SHIFT:
        return push_terminal(G, node_state, node_parent, base, vstack, vlen, G[9][term, 1])
    if kind == KIND_IGNORE:
        return base, vlen
    return emit_newline(G, node_state, node_parent, base, vstack, vlen, reg)


@njit(cache=True, inline="always")
def may_end(G, node_state, node_parent, base, vstack, vlen, term, scratch):
    """Whether a lexeme of `term` may end acceptably here (for the indenter's newline: at some
    width; the current level needs nothing beyond the newline itself)."""
    kind = G[9][term, 0]
    if kind == KIND_IGNORE:
        return True
    if kind == KIND_SHIFT:
        return can_shift(G, node_state, node_parent, base, vstack, vlen, G[9][term, 1], scratch)
    depth, _ = _indent_level(G, node_state, node_parent, base, vstack, vlen)
    return depth > 0 or can_shift(G, node_state, node_parent, base, vstack, vlen, G[10][2], scratch)


@njit(cache=True)
def end_of_input(G, node_state, node_parent, base, vstack, vlen):
    """What the layout adds at the end of input: the inserted terminal after a trigger; for an
    indenter, a final newline unless one was just shifted, and DEDENTs to the top level."""
    params, lr_info = G[10], G[7]
    if params[5] >= 0 and lr_info[_top(node_state, base, vstack, vlen, params[7]), 1] & ROLE_TRIGGER:
        base, vlen = push_terminal(G, node_state, node_parent, base, vstack, vlen, params[5])
    if params[2] >= 0 and vlen >= 0:
        if lr_info[_top(node_state, base, vstack, vlen, params[7]), 1] & (ROLE_NEWLINE | ROLE_DEDENT):
            _, level = _indent_level(G, node_state, node_parent, base, vstack, vlen)
            return _dedent_to(G, node_state, node_parent, base, vstack, vlen, 0, level)
        return emit_newline(G, node_state, node_parent, base, vstack, vlen, 0)
    return base, vlen


@njit(cache=True)
def can_shift(G, node_state, node_parent, base, vstack, vlen, term, scratch):
    """Whether `term` can be shifted now (after reductions); leaves the stack untouched."""
    scratch[:vlen] = vstack[:vlen]
    _, n = push_terminal(G, node_state, node_parent, base, scratch, vlen, term)
    return n >= 0


@njit(cache=True)
def accepts_end(G, node_state, node_parent, base, vstack, vlen, scratch):
    """Whether the input may end here: `$END` reduces the stack to the end state.

    The reduce step is written out here and in `push_terminal` on purpose: a shared helper
    measured 15% slower per mask (json x qwen3, fill p50 72 -> 83 us)."""
    action, goto, rules, params = G[0], G[1], G[2], G[10]
    end_state, end_term, mask = params[0], params[1], params[7]
    scratch[:vlen] = vstack[:vlen]
    while True:
        top = _top(node_state, base, scratch, vlen, mask)
        a = action[top, end_term]
        if a >= 0:
            return False
        rule = -a - 1
        for _ in range(rules[rule, 0]):
            if vlen > 0:
                vlen -= 1
            else:
                base = node_parent[base]
        nxt = goto[_top(node_state, base, scratch, vlen, mask), rules[rule, 1]]
        if nxt < 0 or vlen >= scratch.shape[0]:
            return False
        if nxt == end_state:
            return True
        scratch[vlen] = nxt
        vlen += 1


@njit(cache=True)
def lex(G, node_state, node_parent, base, vstack, vlen, q, reg, data, lo, hi):
    """Feed bytes data[lo:hi] from lexer state q with register reg. Returns (ok, base, vlen, q, reg).

    The register is brought up to date only where it is read (a lexeme ends, or the call
    returns), from the bytes of the current lexeme read since (`since`)."""
    lex_trans, lex_accept, lr_info, context_start, params = G[3], G[4], G[7], G[8], G[10]
    counting = params[2] >= 0
    since = lo
    for i in range(lo, hi):
        b = data[i]
        nq = lex_trans[q, b]
        if nq >= 0:
            q = nq
            continue
        term = lex_accept[q]
        if term < 0:
            return False, base, vlen, q, reg
        if counting:
            reg = _register_after(reg, data, since, i, params[6])
        base, vlen = emit(G, node_state, node_parent, base, vstack, vlen, term, reg)
        if vlen < 0:
            return False, base, vlen, q, reg
        start = context_start[lr_info[_top(node_state, base, vstack, vlen, params[7]), 0]]
        q = lex_trans[start, b]
        if q < 0:
            return False, base, vlen, start, reg
        reg = REG_NONE
        since = i
    if counting:
        reg = _register_after(reg, data, since, hi, params[6])
    return True, base, vlen, q, reg


@njit(cache=True)
def is_lexeme_start(G, node_state, base, vstack, vlen, q):
    return q == G[8][G[7][_top(node_state, base, vstack, vlen, G[10][7]), 0]]


@njit(cache=True)
def alive_ok(G, node_state, node_parent, base, vstack, vlen, q, scratch):
    """Whether the partial lexeme in state q can still become a terminal the parser takes."""
    alive_ptr, alive_terms = G[5], G[6]
    if is_lexeme_start(G, node_state, base, vstack, vlen, q):
        return True
    for k in range(alive_ptr[q], alive_ptr[q + 1]):
        if may_end(G, node_state, node_parent, base, vstack, vlen, alive_terms[k], scratch):
            return True
    return False


@njit(cache=True)
def accepts_eos(G, node_state, node_parent, base, vstack, vlen, q, reg, scratch, scratch2):
    """Whether the output may end here: the partial lexeme completes, the layout's end of
    input (`end_of_input`) goes through, and `$END` is accepted."""
    scratch2[:vlen] = vstack[:vlen]
    if not is_lexeme_start(G, node_state, base, vstack, vlen, q):
        term = G[4][q]
        if term < 0:
            return False
        # A newline lexeme open at the end of input ends it at width 0: its last line, blank or
        # a comment, has nothing after it (CPython ignores a last line of whitespace).
        base, vlen = emit(G, node_state, node_parent, base, scratch2, vlen, term, 0)
        if vlen < 0:
            return False
    base, vlen = end_of_input(G, node_state, node_parent, base, scratch2, vlen)
    if vlen < 0:
        return False
    return accepts_end(G, node_state, node_parent, base, scratch2, vlen, scratch)


@njit(cache=True)
def advance(G, node_state, node_parent, pool_len, node, q, reg, data, lo, hi, vstack, scratch):
    """Consume data[lo:hi]. Returns (ok, node, pool_len, q, reg); on success new nodes are committed."""
    ok, base, vlen, q2, reg2 = lex(G, node_state, node_parent, node, vstack, 0, q, reg, data, lo, hi)
    if not ok or not alive_ok(G, node_state, node_parent, base, vstack, vlen, q2, scratch):
        return False, node, pool_len, q, reg
    for i in range(vlen):
        node_state[pool_len] = vstack[i]
        node_parent[pool_len] = base
        base = pool_len
        pool_len += 1
    return True, base, pool_len, q2, reg2


@njit(cache=True, inline="always")
def _set_tokens(out, toks, lo, hi):
    for k in range(lo, hi):
        t = toks[k]
        out[t >> 5] |= np.uint32(1) << np.uint32(t & 31)


@njit(cache=True)
def _or_alive_groups(out, rows, grp_state, grp_row, lo, hi, alive_ptr, alive_terms, ok):
    """OR into `out` the row of each group g in [lo, hi) after which some alive terminal t
    (of the group's representative lexer state) has ok[t]."""
    for g in range(lo, hi):
        s = grp_state[g]
        for k in range(alive_ptr[s], alive_ptr[s + 1]):
            if ok[alive_terms[k]]:
                row = rows[grp_row[g]]
                for w in range(out.shape[0]):
                    out[w] |= row[w]
                break


@njit(cache=True)
def fill_level(G, ST, W, node_state, node_parent, base, vin, vlen, q, reg, out):
    """Write into `out` the tokens allowed from lexer state q (register reg) on the stack
    (base, vin[:vlen]), except those whose first byte ends the current lexeme (`fill_mask`
    adds those).

    `ST`, the grammar's mask store with global state ids (`store.GrammarStore.arrays`), is
    (rows, inside_row, die0_row, grp_lo, grp_state, grp_row, root_first, root_term, root_lo,
    root_hi, node_byte, node_depth, node_end, node_tok_ptr, node_toks, ctx_term_ptr,
    ctx_terms, state_context, cx_lo, cx_s0, cx_grp_ptr, cx_grp_state, cx_grp_row,
    cx_deep_ptr, cx_deep, grp_hi, root_last, cx_hi, root_rep, root_cut) (cross entries: see
    cross.py); a state's groups are [grp_lo, grp_hi), its trie roots [root_first, root_last),
    a root's cross entries [cx_lo, cx_hi); a newline root's tokens all consume the bytes that
    its representative token root_rep consumes first (root_cut of them), which decide the
    register where the lexeme ends. The entries of q must be built
    (`GrammarStore.ensure_for_fill`). A large trie walked for lack of a cross entry is
    reported in W[13] (root, next start pairs) and W[14][0] (their count), for the store to
    add the entry. `W` is the workspace (`new_workspace`). W.ok[t] is left set, for the
    context's terminals t, to "t may end the current lexeme".
    """
    alive_ptr, alive_terms, lr_info, context_start, params = G[5], G[6], G[7], G[8], G[10]
    rows, inside_row, grp_lo, grp_state, grp_row, grp_hi = ST[0], ST[1], ST[3], ST[4], ST[5], ST[25]
    root_first, root_term, root_lo, root_hi, root_last = ST[6], ST[7], ST[8], ST[9], ST[26]
    root_rep, root_cut = ST[28], ST[29]
    node_byte, node_depth, node_end, node_tok_ptr, node_toks = ST[10], ST[11], ST[12], ST[13], ST[14]
    ctx_term_ptr, ctx_terms, state_context = ST[15], ST[16], ST[17]
    vwork, scratch, ok, snap_base, snap_vlen, snap_q, snap_v, ok2 = W[0], W[1], W[3], W[6], W[7], W[8], W[9], W[10]
    offsets, flat, snap_reg = W[11], W[12], W[15]
    cx_lo, cx_s0, cx_grp_ptr, cx_grp_state, cx_grp_row, cx_deep_ptr, cx_deep, cx_hi = (
        ST[18], ST[19], ST[20], ST[21], ST[22], ST[23], ST[24], ST[27])
    ctx = state_context[q]
    all_ok = True
    for k in range(ctx_term_ptr[ctx], ctx_term_ptr[ctx + 1]):
        t = ctx_terms[k]
        ok[t] = may_end(G, node_state, node_parent, base, vin, vlen, t, scratch)
        all_ok = all_ok and ok[t]
    if all_ok:
        out[:] = rows[inside_row[q]]
    else:
        # Only inside tokens after which some still-alive terminal may end the lexeme.
        out[:] = 0
        _or_alive_groups(out, rows, grp_state, grp_row, grp_lo[q], grp_hi[q], alive_ptr, alive_terms, ok)
    for r in range(root_first[q], root_last[q]):
        t = root_term[r]
        if not ok[t]:
            continue
        vwork[:vlen] = vin[:vlen]
        end_reg = reg
        if root_cut[r] >= 0:
            lo = offsets[root_rep[r]]
            end_reg = _register_after(reg, flat, lo, lo + root_cut[r], params[6])
        base0, vlen0 = emit(G, node_state, node_parent, base, vwork, vlen, t, end_reg)
        if vlen0 < 0:
            continue
        s0 = context_start[lr_info[_top(node_state, base0, vwork, vlen0, params[7]), 0]]
        entry = -1
        for e in range(cx_lo[r], cx_hi[r]):
            if cx_s0[e] == s0:
                entry = e
                break
        if entry < 0 and root_hi[r] - root_lo[r] >= CROSS_MIN_NODES:
            # Walked below; reported so that the store builds this entry for the next fill.
            n_miss = W[14][0]
            if n_miss < MAX_CROSS_MISSES:
                W[13][2 * n_miss] = r
                W[13][2 * n_miss + 1] = s0
                W[14][0] = n_miss + 1
        if entry >= 0:
            # Remainders inside the next lexeme: bitset rows; the rest: run the parser on each.
            ctx2 = state_context[s0]
            for k in range(ctx_term_ptr[ctx2], ctx_term_ptr[ctx2 + 1]):
                t2 = ctx_terms[k]
                ok2[t2] = may_end(G, node_state, node_parent, base0, vwork, vlen0, t2, scratch)
            _or_alive_groups(out, rows, cx_grp_state, cx_grp_row, cx_grp_ptr[entry], cx_grp_ptr[entry + 1],
                             alive_ptr, alive_terms, ok2)
            saved_v = snap_v[0]
            saved_v[:vlen0] = vwork[:vlen0]
            for k in range(cx_deep_ptr[entry], cx_deep_ptr[entry + 1]):
                i = cx_deep[k]
                tok = node_toks[node_tok_ptr[i]]
                hi = offsets[tok + 1]
                vwork[:vlen0] = saved_v[:vlen0]
                good, b2, v2, q2, _ = lex(G, node_state, node_parent, base0, vwork, vlen0, s0, REG_NONE, flat,
                                          hi - node_depth[i], hi)
                if good and alive_ok(G, node_state, node_parent, b2, vwork, v2, q2, scratch):
                    _set_tokens(out, node_toks, node_tok_ptr[i], node_tok_ptr[i + 1])
            continue
        snap_base[0] = base0
        snap_vlen[0] = vlen0
        snap_q[0] = s0
        snap_reg[0] = REG_NONE
        snap_v[0, :vlen0] = vwork[:vlen0]
        i = root_lo[r]
        while i < root_hi[r]:
            d = node_depth[i]
            pv = snap_vlen[d - 1]
            vwork[:pv] = snap_v[d - 1, :pv]
            good, b2, v2, q2, reg2 = lex(G, node_state, node_parent, snap_base[d - 1], vwork, pv, snap_q[d - 1],
                                         snap_reg[d - 1], node_byte, i, i + 1)
            if not good:
                i = node_end[i]
                continue
            snap_base[d] = b2
            snap_vlen[d] = v2
            snap_q[d] = q2
            snap_reg[d] = reg2
            snap_v[d, :v2] = vwork[:v2]
            if node_tok_ptr[i + 1] > node_tok_ptr[i] and alive_ok(G, node_state, node_parent, b2, vwork, v2, q2, scratch):
                _set_tokens(out, node_toks, node_tok_ptr[i], node_tok_ptr[i + 1])
            i += 1


@njit(cache=True)
def fill_mask(G, ST, W, node_state, node_parent, node, q, reg, stops, out):
    """Write into `out` (uint32 words) every token allowed after the committed state (node, q, reg).

    Tokens whose first byte ends the current lexeme (as terminal T) are allowed exactly when
    they are allowed at the start of the next lexeme: that mask is computed on the stack with
    T emitted and ANDed with the store's first-byte-ender bitset of q.
    """
    lex_accept, lr_info, context_start = G[4], G[7], G[8]
    scratch, scratch2, ok, vnext, tmp = W[1], W[2], W[3], W[4], W[5]
    fill_level(G, ST, W, node_state, node_parent, node, vnext, 0, q, reg, out)
    term = lex_accept[q]
    if term >= 0 and ok[term]:
        base, vlen = emit(G, node_state, node_parent, node, vnext, 0, term, reg)
        if vlen >= 0:
            start = context_start[lr_info[_top(node_state, base, vnext, vlen, G[10][7]), 0]]
            fill_level(G, ST, W, node_state, node_parent, base, vnext, vlen, start, REG_NONE, tmp)
            die0 = ST[0][ST[2][q]]
            for w in range(out.shape[0]):
                out[w] |= tmp[w] & die0[w]
    if accepts_eos(G, node_state, node_parent, node, vnext, 0, q, reg, scratch, scratch2):
        _set_tokens(out, stops, 0, stops.shape[0])


def new_workspace(n_terminals: int, n_words: int, max_token_len: int, offsets: np.ndarray, flat: np.ndarray) -> tuple:
    """Scratch buffers for one thread's fills and advances: (vwork, scratch, scratch2, ok,
    vnext, tmp, snap_base, snap_vlen, snap_q, snap_v, ok2), the vocabulary (offsets, flat), the
    cross misses of the last fills (pairs, count), then snap_reg. `n_terminals`: lexer terminals."""
    depth = max_token_len + 2
    return (
        np.zeros(VSTACK_CAPACITY, np.int32), np.zeros(VSTACK_CAPACITY, np.int32), np.zeros(VSTACK_CAPACITY, np.int32),
        np.zeros(n_terminals, np.bool_), np.zeros(VSTACK_CAPACITY, np.int32), np.zeros(n_words, np.uint32),
        np.zeros(depth, np.int32), np.zeros(depth, np.int32), np.zeros(depth, np.int32),
        np.zeros((depth, VSTACK_CAPACITY), np.int32), np.zeros(n_terminals, np.bool_), offsets, flat,
        np.zeros(2 * MAX_CROSS_MISSES, np.int32), np.zeros(1, np.int32), np.zeros(depth, np.int32),
    )


@njit(cache=True)
def classify_tokens(trans, q, flat, offsets, die_pos, last_state):
    """For each token read from local state q: where the lexeme dies (-1 never, -2 no bytes)
    and the state just before that (or the final state)."""
    for t in range(offsets.shape[0] - 1):
        lo, hi = offsets[t], offsets[t + 1]
        if lo == hi:
            die_pos[t] = -2
            last_state[t] = q
            continue
        s = q
        d = -1
        for i in range(lo, hi):
            ns = trans[s, flat[i]]
            if ns < 0:
                d = i - lo
                break
            s = ns
        die_pos[t] = d
        last_state[t] = s


@njit(cache=True)
def build_remainder_tries(flat, offsets, tokens, rem_lo, terms, node_byte, node_depth, node_end, node_tok_end,
                          root_term, root_lo, root_hi):
    """The boundary tries of one state. `tokens` are sorted by (terminal, remainder), the
    remainder of tokens[k] being flat[rem_lo[k]:offsets[tokens[k] + 1]]. Writes nodes in
    preorder (byte, depth, index past the subtree, end of its tokens in `tokens`) and one root
    (terminal, node range) per terminal; returns (nodes, roots) written."""
    n_nodes = 0
    n_roots = 0
    open_nodes = np.empty(node_byte.shape[0] + 1, dtype=np.int64)
    n = tokens.shape[0]
    k = 0
    while k < n:
        term = terms[k]
        root_term[n_roots] = term
        root_lo[n_roots] = n_nodes
        n_open = 0
        prev_lo = -1
        prev_len = 0
        while k < n and terms[k] == term:
            lo = rem_lo[k]
            length = offsets[tokens[k] + 1] - lo
            common = 0
            if prev_lo >= 0:
                limit = min(prev_len, length)
                while common < limit and flat[prev_lo + common] == flat[lo + common]:
                    common += 1
            if prev_lo >= 0 and common == length and common == prev_len:
                node_tok_end[n_nodes - 1] = k + 1  # same remainder: same node
                k += 1
                continue
            for j in range(common, n_open):
                node_end[open_nodes[j]] = n_nodes
            n_open = common
            for d in range(common, length):
                open_nodes[n_open] = n_nodes
                n_open += 1
                node_byte[n_nodes] = flat[lo + d]
                node_depth[n_nodes] = d + 1
                node_end[n_nodes] = -1
                node_tok_end[n_nodes] = k
                n_nodes += 1
            node_tok_end[n_nodes - 1] = k + 1
            prev_lo = lo
            prev_len = length
            k += 1
        for j in range(n_open):
            node_end[open_nodes[j]] = n_nodes
        root_hi[n_roots] = n_nodes
        n_roots += 1
    return n_nodes, n_roots


@njit(cache=True)
def classify_ranges(trans, q, flat, lo, hi, die_pos, last_state):
    """`classify_tokens` for arbitrary byte ranges flat[lo[i]:hi[i]] (token remainders)."""
    for k in range(lo.shape[0]):
        s = q
        d = -1
        for i in range(lo[k], hi[k]):
            ns = trans[s, flat[i]]
            if ns < 0:
                d = i - lo[k]
                break
            s = ns
        die_pos[k] = d
        last_state[k] = s


@njit(cache=True)
def stack_states(node_state, node_parent, node, out):
    """Write the parser stack's states, top first, into `out`; return how many (the stack's
    full contents: with the lexer state, what a mask depends on)."""
    n = 0
    while node >= 0 and n < out.shape[0]:
        out[n] = node_state[node]
        node = node_parent[node]
        n += 1
    return n if node < 0 else -1


@njit(cache=True)
def bfs_order(trans, q, order, canon):
    """Number the states reachable from q breadth-first, successors in order of the first byte
    that reaches them: `order[:n]` the states, `canon[s]` the number of s (others untouched,
    expected -1). Returns n."""
    canon[q] = 0
    order[0] = q
    n = 1
    i = 0
    while i < n:
        s = order[i]
        for b in range(256):
            t = trans[s, b]
            if t >= 0 and canon[t] < 0:
                canon[t] = n
                order[n] = t
                n += 1
        i += 1
    return n
