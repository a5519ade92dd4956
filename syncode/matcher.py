"""GrammarMatcher: the per-sequence state of constrained decoding.

Owns one generation's progress through a compiled grammar: which tokens are allowed next
(`fill_next_token_bitmask`), advancing (`accept_token`), and going back (`rollback`,
`validate_tokens`, `reset`). The state is a persistent parser-stack node plus a lexer
state, so every step is recorded in a history and rollback is restoring an earlier record.
For speculative decoding: the masks along a draft in one call
(`fill_next_token_bitmask_for_draft`) and what the grammar forces next (`forced_bytes`,
`forced_tokens`, jump-forward).
"""
from __future__ import annotations

import weakref
from typing import Sequence

import numpy as np
from numba import njit

from . import kernels
from .bitmask import bitmask_to_ids
from .compiler import CompiledGrammar
from .kernels import advance as _advance_kernel
from .tokenizer_info import TokenizerInfo
from .vocab_index import vocabulary_index

MAX_FORCED_BYTES = 256


class DraftMethods:
    """Draft checks shared by every matcher (needs accept_token, rollback and
    fill_next_token_bitmask, and a `_history` with one record per accepted token)."""

    def _check_rollback(self, num_tokens: int) -> None:
        """ValueError unless 0 <= num_tokens <= the number of tokens accepted."""
        if not 0 <= num_tokens <= len(self._history):
            raise ValueError(f"cannot roll back {num_tokens} tokens: {len(self._history)} accepted")

    def validate_tokens(self, token_ids: Sequence[int]) -> int:
        """Length of the longest prefix of `token_ids` that would be accepted; state unchanged."""
        accepted = 0
        for t in token_ids:
            if not self.accept_token(t):
                break
            accepted += 1
        self.rollback(accepted)
        return accepted

    def fill_next_token_bitmask_for_draft(self, draft: Sequence[int], bitmask, start_row: int = 0) -> int:
        """Masks along a draft: row `start_row + i` is the mask after `draft[:i]`, for i = 0..n
        where n is the number of leading draft tokens accepted (the walk stops at the first
        refused one; after a stop token only stops are allowed). Returns n; state unchanged."""
        accepted = 0
        self.fill_next_token_bitmask(bitmask, start_row)
        for t in draft:
            if not self.accept_token(t):
                break
            accepted += 1
            self.fill_next_token_bitmask(bitmask, start_row + accepted)
        self.rollback(accepted)
        return accepted


class GrammarMatcher(DraftMethods):
    """Tracks one output against a compiled grammar, token by token."""

    def __init__(self, compiled: CompiledGrammar) -> None:
        self.compiled = compiled
        info = compiled.tokenizer_info
        self._flat, self._offsets = info.flat, info.offsets
        self._stops = info.stop_token_ids
        self._stop_set = frozenset(info.stop_token_ids.tolist())
        self._n_tokens = info.n_tokens
        self._G = compiled.kernel_tables
        self._store = compiled.store
        self._stack_buf = np.zeros(1024, dtype=np.int32)
        self._node_state = np.zeros(4 * kernels.VSTACK_CAPACITY, dtype=np.int32)
        self._node_parent = np.zeros(4 * kernels.VSTACK_CAPACITY, dtype=np.int32)
        self.reset()

    # -- state -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the start of the grammar."""
        start = self.compiled.tables.start_state
        self._node_state[0] = start
        self._node_parent[0] = -1
        self._pool_len = 1
        self._node = 0
        self._q = self.compiled.contexts.initial_state
        self._reg = 0 if self.compiled.grammar.layout.indenter is not None else kernels.REG_NONE
        self._terminated = False
        # One record per accepted token: (node, q, register, pool_len, terminated) before it.
        self._history: list[tuple[int, int, int, int, bool]] = []

    @property
    def num_accepted_tokens(self) -> int:
        return len(self._history)

    def is_terminated(self) -> bool:
        """Whether a stop token has been accepted."""
        return self._terminated

    def is_accepting(self) -> bool:
        """Whether the output so far is a complete sentence of the grammar (EOS allowed)."""
        if self._terminated:
            return True
        ws = self.compiled.workspace()
        return bool(kernels.accepts_eos(self._G, self._node_state, self._node_parent, self._node, ws[0], 0,
                                        self._q, self._reg, ws[1], ws[2]))

    # -- stepping --------------------------------------------------------------------------
    def accept_token(self, token_id: int) -> bool:
        """Advance by one token; False (state unchanged) when the token is not allowed."""
        token_id = int(token_id)
        if self._terminated:
            return False
        if token_id in self._stop_set:
            if not self.is_accepting():
                return False
            self._history.append((self._node, self._q, self._reg, self._pool_len, False))
            self._terminated = True
            return True
        if not 0 <= token_id < self._n_tokens:
            return False
        lo, hi = self._offsets[token_id], self._offsets[token_id + 1]
        if lo == hi:
            return False
        return self._advance(self._flat, int(lo), int(hi))

    def accept_bytes(self, data: bytes) -> bool:
        """Advance by raw bytes (not a token); False (state unchanged) when not allowed.

        Counts as one step for `rollback`. Empty data is accepted and changes nothing."""
        if self._terminated:
            return False
        if not data:
            return True
        return self._advance(np.frombuffer(data, dtype=np.uint8), 0, len(data))

    def _reserve(self) -> None:
        """Room in the node pool for one step's new nodes."""
        if self._pool_len + kernels.VSTACK_CAPACITY > len(self._node_state):
            self._node_state = np.resize(self._node_state, 2 * len(self._node_state))
            self._node_parent = np.resize(self._node_parent, 2 * len(self._node_parent))

    def _advance(self, data: np.ndarray, lo: int, hi: int) -> bool:
        self._reserve()
        ws = self.compiled.workspace()
        ok, node, pool_len, q, reg = kernels.advance(self._G, self._node_state, self._node_parent, self._pool_len,
                                                     self._node, self._q, self._reg, data, lo, hi, ws[0], ws[1])
        if not ok:
            return False
        self._history.append((self._node, self._q, self._reg, self._pool_len, False))
        self._node, self._pool_len, self._q, self._reg = int(node), int(pool_len), int(q), int(reg)
        return True

    def rollback(self, num_tokens: int = 1) -> None:
        """Undo the last `num_tokens` accepted tokens."""
        self._check_rollback(num_tokens)
        if num_tokens == 0:
            return
        node, q, reg, pool_len, terminated = self._history[-num_tokens]
        del self._history[-num_tokens:]
        self._node, self._q, self._reg, self._pool_len, self._terminated = node, q, reg, pool_len, terminated

    def accepts_continuations(self, token_ids: Sequence[int], skip: int = 0, prefix: bytes = b"") -> np.ndarray:
        """For each token: whether `prefix` followed by its bytes from offset `skip` on would
        be accepted (an empty remainder counts as accepted). State unchanged."""
        tokens = np.asarray(token_ids, dtype=np.int64)
        out = np.zeros(len(tokens), dtype=np.bool_)
        if self._terminated or not self.accept_bytes(prefix):
            return out
        self._reserve()
        ws = self.compiled.workspace()
        _continuations(self._G, self._node_state, self._node_parent, self._pool_len, self._node, self._q, self._reg,
                       self._flat, self._offsets, tokens, skip, ws[0], ws[1], out)
        if prefix:
            self.rollback(1)
        return out

    def forced_bytes(self, limit: int = MAX_FORCED_BYTES) -> bytes:
        """The bytes every continuation starts with (at most `limit`): the grammar allows
        exactly one next byte and no stop token, repeatedly. Empty when nothing is forced."""
        info = self.compiled.tokenizer_info
        first = _first_bytes(info)
        words = np.zeros((1, info.bitmask_words), dtype=np.int32)
        forced = bytearray()
        while len(forced) < limit and not self._terminated:
            self.fill_next_token_bitmask(words, 0)
            allowed = np.unpackbits(words.view(np.uint8)[0], bitorder="little")[: info.n_tokens].astype(bool)
            if allowed[self._stops[self._stops < info.n_tokens]].any():
                break
            options = np.unique(first[allowed])
            if len(options) != 1 or options[0] < 0:
                break
            byte = bytes([int(options[0])])
            if not self.accept_bytes(byte):
                raise AssertionError(f"the mask allows byte {byte!r} but the grammar refuses it")
            forced += byte
        self.rollback(len(forced))
        return bytes(forced)

    def forced_tokens(self) -> list[int]:
        """Tokens that spell a prefix of `forced_bytes()` and that every tokenization of every
        continuation shares: each token lies between two positions no vocabulary token can
        straddle (given the forced bytes), so committing them never splits what the tokenizer
        would have merged (`order` is not committed when `orderId` may follow)."""
        forced = self.forced_bytes()
        index = vocabulary_index(self.compiled.tokenizer_info)
        tokens: list[int] = []
        reach = 0  # the furthest any token starting in [0, p) can end
        last = 0
        for p in range(1, len(forced) + 1):
            reach = max(reach, _reach(index, forced, p - 1))
            if reach > p:
                continue
            token = index.token_of(forced[last:p])
            if token is None:
                break
            tokens.append(token)
            last = p
        return tokens

    # -- masks -----------------------------------------------------------------------------
    def fill_next_token_bitmask(self, bitmask, index: int = 0) -> None:
        """Write the allowed next tokens into row `index` of an int32 bitmask (torch or NumPy)."""
        row = _row_words(bitmask, index)
        if self._terminated:
            row[:] = 0
            kernels._set_tokens(row, self._stops, 0, len(self._stops))
            return
        cache = self.compiled.mask_cache
        key = None
        if cache.capacity > 0:
            n = kernels.stack_states(self._node_state, self._node_parent, self._node, self._stack_buf)
            if n >= 0:
                key = (self._q, self._reg, self._stack_buf[:n].tobytes())
                cached = cache.get(key)
                if cached is not None:
                    row[:] = cached
                    return
        self._store.ensure_for_fill(self._q)
        ws = self.compiled.workspace()
        kernels.fill_mask(self._G, self._store.arrays(), ws, self._node_state, self._node_parent,
                          self._node, self._q, self._reg, self._stops, row)
        if ws[14][0]:
            self._store.add_cross_misses(ws[13], int(ws[14][0]))
            ws[14][0] = 0
        if key is not None:
            cache.put(key, row)

    def allowed_token_ids(self) -> np.ndarray:
        """The allowed next token ids as an array (convenience; slower than the bitmask)."""
        info = self.compiled.tokenizer_info
        words = np.zeros((1, info.bitmask_words), dtype=np.int32)
        self.fill_next_token_bitmask(words, 0)
        return bitmask_to_ids(words[0], info.vocab_size)


def _row_words(bitmask, index: int) -> np.ndarray:
    """Row `index` of an int32 bitmask as a writable uint32 NumPy view (no copy)."""
    if isinstance(bitmask, np.ndarray):
        arr = bitmask
    else:
        if bitmask.device.type != "cpu":
            raise ValueError("fill_next_token_bitmask needs a CPU bitmask; fill on CPU and copy to the device")
        arr = bitmask.numpy()
    if arr.dtype != np.int32 or arr.ndim != 2:
        raise ValueError(f"bitmask must be an int32 array of shape (batch, words), got {arr.dtype} {arr.shape}")
    return arr[index].view(np.uint32)


def _reach(index, forced: bytes, start: int) -> float:
    """Where the longest token that can start at `start` ends: inf when some token extends
    past the forced bytes."""
    rest = forced[start:]
    if len(index.extensions(rest, strict=True)):
        return float("inf")
    for k in range(min(len(rest), index.max_len), 0, -1):
        if rest[:k] in index.by_bytes:
            return start + k
    return start + 1


_FIRST_BYTES: "weakref.WeakKeyDictionary[TokenizerInfo, np.ndarray]" = weakref.WeakKeyDictionary()


def _first_bytes(info: TokenizerInfo) -> np.ndarray:
    """Each token's first byte (-1 for tokens without bytes), cached per vocabulary."""
    first = _FIRST_BYTES.get(info)
    if first is None:
        starts, ends = info.offsets[:-1], info.offsets[1:]
        first = np.full(info.n_tokens, -1, dtype=np.int16)
        has = ends > starts
        first[has] = info.flat[starts[has]]
        _FIRST_BYTES[info] = first
    return first


@njit(cache=True)
def _continuations(G, node_state, node_parent, pool_len, node, q, reg, flat, offsets, tokens, skip, vstack, scratch, out):
    """out[i]: whether token i's bytes from `skip` on are accepted from (node, q); nodes
    written past pool_len are scratch. Accepted texts are prefix-closed, so a token whose
    first byte is refused is refused without parsing the rest (first bytes are memoised)."""
    first_ok = np.full(256, -1, dtype=np.int8)
    for i in range(len(tokens)):
        t = tokens[i]
        lo = offsets[t] + skip
        hi = offsets[t + 1]
        if lo >= hi:
            out[i] = True
            continue
        b = flat[lo]
        if first_ok[b] < 0:
            ok1, _, _, _, _ = _advance_kernel(G, node_state, node_parent, pool_len, node, q, reg, flat, lo, lo + 1,
                                              vstack, scratch)
            first_ok[b] = 1 if ok1 else 0
        if first_ok[b] == 0:
            continue
        ok, _, _, _, _ = _advance_kernel(G, node_state, node_parent, pool_len, node, q, reg, flat, lo, hi, vstack,
                                         scratch)
        out[i] = ok
