"""Token bitmasks: allocating them, filling many matchers, applying them to logits.

Owns the layout shared with vLLM and XGrammar: int32, shape (batch, ceil(vocab_size / 32)),
token t allowed when bit (t & 31) of word (t >> 5) is set.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def allocate_token_bitmask(batch_size: int, vocab_size: int):
    """A torch int32 bitmask of shape (batch_size, ceil(vocab_size / 32)), all tokens allowed."""
    import torch

    return torch.full((batch_size, (vocab_size + 31) // 32), -1, dtype=torch.int32)


def fill_next_token_bitmasks(matchers: Sequence, bitmask, indices: Sequence[int] | None = None) -> None:
    """Fill one row per matcher (row i for matcher i, or the rows in `indices`)."""
    rows = range(len(matchers)) if indices is None else indices
    for matcher, row in zip(matchers, rows):
        matcher.fill_next_token_bitmask(bitmask, row)


def unpack_bitmask(bitmask, vocab_size: int, invert: bool = False):
    """Boolean allowed-matrix (batch, vocab_size) from an int32 bitmask (torch in, torch out);
    the disallowed-matrix with `invert`."""
    import torch

    if bitmask.device.type == "cpu":  # NumPy's unpackbits: one pass, no (batch, words, 32) temporary
        words = np.ascontiguousarray(bitmask.numpy()).view(np.uint8)
        bits = np.unpackbits(~words if invert else words, axis=-1, count=vocab_size, bitorder="little")
        return torch.from_numpy(bits).view(torch.bool)
    shifts = torch.arange(32, dtype=torch.int32, device=bitmask.device)
    bits = (bitmask.unsqueeze(-1) >> shifts) & 1
    allowed = bits.reshape(bitmask.shape[0], -1)[:, :vocab_size].bool()
    return ~allowed if invert else allowed


def apply_token_bitmask_inplace(logits, bitmask, indices: Sequence[int] | None = None) -> None:
    """Set disallowed logits to -inf in place. `logits` (batch, width) float; ids past the
    bitmask's coverage are disallowed. `indices` picks which logits rows the bitmask rows
    apply to (default: row i to row i)."""
    import torch

    if logits.dim() == 1:
        logits = logits.unsqueeze(0)
    width = logits.shape[-1]
    disallowed = unpack_bitmask(bitmask.to(logits.device), min(width, bitmask.shape[-1] * 32), invert=True)
    if disallowed.shape[1] < width:
        pad = torch.ones(disallowed.shape[0], width - disallowed.shape[1], dtype=torch.bool, device=logits.device)
        disallowed = torch.cat([disallowed, pad], dim=1)
    if indices is None:
        logits.masked_fill_(disallowed[: logits.shape[0]], float("-inf"))
    else:
        idx = torch.as_tensor(list(indices), dtype=torch.long, device=logits.device)
        logits[idx] = logits[idx].masked_fill(disallowed[: len(idx)], float("-inf"))


def bitmask_to_ids(row: np.ndarray, vocab_size: int) -> np.ndarray:
    """Allowed ids of one NumPy int32 bitmask row."""
    bits = np.unpackbits(np.ascontiguousarray(row).view(np.uint8), bitorder="little")
    return np.nonzero(bits[:vocab_size])[0]
