"""The vocabulary sorted by bytes: which tokens start with given bytes, which are a prefix of them.

Owns the byte-prefix queries token alignment (healing) and forced-token commits need. Tokens
that start with bytes H are one contiguous range of the byte-sorted vocabulary, found by two
binary searches; tokens that are a prefix of H are at most `len(H)` dictionary look-ups. Built
once per `TokenizerInfo` (`vocabulary_index`).
"""
from __future__ import annotations

import bisect
import weakref

import numpy as np

from .tokenizer_info import TokenizerInfo


class VocabularyIndex:
    """Text tokens of a vocabulary in byte order, with prefix and extension queries."""

    def __init__(self, info: TokenizerInfo) -> None:
        self.info = info
        ids = sorted((t for t, b in enumerate(info.token_bytes) if b), key=lambda t: info.token_bytes[t])
        self.order = np.array(ids, dtype=np.int64)
        self.sorted_bytes = [info.token_bytes[t] for t in ids]
        self.lengths = np.array([len(b) for b in self.sorted_bytes], dtype=np.int64)
        self.by_bytes: dict[bytes, list[int]] = {}
        for t in ids:
            self.by_bytes.setdefault(info.token_bytes[t], []).append(t)
        self.max_len = info.max_token_len
        # bitmask words of the stop tokens, and of the free language (every text token and the stops)
        stops = np.asarray(sorted(info.stop_token_ids.tolist()), dtype=np.int64)
        self.stop_row = self.ids_to_row(stops, info.vocab_size)
        self.free_row = self.ids_to_row(np.concatenate([self.order, stops]), info.vocab_size)

    def extension_range(self, prefix: bytes) -> tuple[int, int]:
        """Positions [lo, hi) in `order` of the tokens whose bytes start with `prefix`."""
        lo = bisect.bisect_left(self.sorted_bytes, prefix)
        stem = prefix.rstrip(b"\xff")
        if not stem:
            return lo, len(self.sorted_bytes)
        successor = stem[:-1] + bytes([stem[-1] + 1])
        return lo, bisect.bisect_left(self.sorted_bytes, successor, lo)

    def extensions(self, prefix: bytes, strict: bool = False) -> np.ndarray:
        """Ids of the tokens that start with `prefix` (longer than it, when `strict`)."""
        lo, hi = self.extension_range(prefix)
        ids = self.order[lo:hi]
        return ids[self.lengths[lo:hi] > len(prefix)] if strict else ids

    def prefix_tokens(self, data: bytes) -> list[int]:
        """Ids of the tokens whose bytes are a strict prefix of `data`."""
        found: list[int] = []
        for k in range(1, min(len(data), self.max_len + 1)):
            found += self.by_bytes.get(data[:k], [])
        return found

    def token_of(self, data: bytes) -> int | None:
        """The smallest id whose bytes are exactly `data`, or None."""
        ids = self.by_bytes.get(data)
        return ids[0] if ids else None

    def longest_match(self, data: bytes) -> list[int]:
        """`data` split greedily into the longest tokens (a tokenization, not the canonical one);
        stops before bytes no token spells."""
        out, i = [], 0
        while i < len(data):
            for j in range(min(len(data), i + self.max_len), i, -1):
                t = self.token_of(data[i:j])
                if t is not None:
                    out.append(t)
                    i = j
                    break
            else:
                break
        return out

    @staticmethod
    def ids_to_row(ids, vocab_size: int) -> np.ndarray:
        """The uint32 bitmask words with exactly `ids` set."""
        allowed = np.zeros(((vocab_size + 31) // 32) * 32, dtype=bool)
        allowed[np.asarray(ids, dtype=np.int64)] = True
        return np.packbits(allowed, bitorder="little").view(np.uint32)


_INDEXES: "weakref.WeakKeyDictionary[TokenizerInfo, VocabularyIndex]" = weakref.WeakKeyDictionary()


def vocabulary_index(info: TokenizerInfo) -> VocabularyIndex:
    """The (cached) index of `info`'s vocabulary."""
    index = _INDEXES.get(info)
    if index is None:
        index = _INDEXES[info] = VocabularyIndex(info)
    return index
