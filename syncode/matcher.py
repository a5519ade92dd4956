"""GrammarMatcher: the per-sequence state of constrained decoding.

Owns one generation's progress through a compiled grammar: which tokens are allowed next
(`fill_next_token_bitmask`), advancing (`accept_token`), and going back (`rollback`,
`validate_tokens`, `reset`). The state is a persistent parser-stack node plus a lexer
state, so every step is recorded in a history and rollback is restoring an earlier record.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import kernels
from .bitmask import bitmask_to_ids
from .compiler import CompiledGrammar


class GrammarMatcher:
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
        self._q = int(self.compiled.contexts.context_start[self.compiled.contexts.lr_context[start]])
        self._terminated = False
        # One record per accepted token: (node, q, pool_len, terminated) before it.
        self._history: list[tuple[int, int, int, bool]] = []

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
                                        self._q, ws[1], ws[2]))

    # -- stepping --------------------------------------------------------------------------
    def accept_token(self, token_id: int) -> bool:
        """Advance by one token; False (state unchanged) when the token is not allowed."""
        token_id = int(token_id)
        if self._terminated:
            return False
        if token_id in self._stop_set:
            if not self.is_accepting():
                return False
            self._history.append((self._node, self._q, self._pool_len, False))
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

    def _advance(self, data: np.ndarray, lo: int, hi: int) -> bool:
        if self._pool_len + kernels.VSTACK_CAPACITY > len(self._node_state):
            self._node_state = np.resize(self._node_state, 2 * len(self._node_state))
            self._node_parent = np.resize(self._node_parent, 2 * len(self._node_parent))
        ws = self.compiled.workspace()
        ok, node, pool_len, q = kernels.advance(self._G, self._node_state, self._node_parent, self._pool_len,
                                                self._node, self._q, data, lo, hi, ws[0], ws[1])
        if not ok:
            return False
        self._history.append((self._node, self._q, self._pool_len, False))
        self._node, self._pool_len, self._q = int(node), int(pool_len), int(q)
        return True

    def rollback(self, num_tokens: int = 1) -> None:
        """Undo the last `num_tokens` accepted tokens."""
        if not 0 <= num_tokens <= len(self._history):
            raise ValueError(f"cannot roll back {num_tokens} tokens: {len(self._history)} accepted")
        if num_tokens == 0:
            return
        node, q, pool_len, terminated = self._history[-num_tokens]
        del self._history[-num_tokens:]
        self._node, self._q, self._pool_len, self._terminated = node, q, pool_len, terminated

    def validate_tokens(self, token_ids: Sequence[int]) -> int:
        """Length of the longest prefix of `token_ids` that would be accepted; state unchanged."""
        accepted = 0
        for t in token_ids:
            if not self.accept_token(t):
                break
            accepted += 1
        self.rollback(accepted)
        return accepted

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
                key = (self._q, self._stack_buf[:n].tobytes())
                cached = cache.get(key)
                if cached is not None:
                    row[:] = cached
                    return
        self._store.ensure_for_fill(self._q)
        ws = self.compiled.workspace()
        kernels.fill_mask(self._G, self._store.arrays(), ws, self._node_state, self._node_parent,
                          self._node, self._q, self._stops, row)
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
