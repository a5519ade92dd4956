"""Token alignment (healing) for prompts that end inside what would be one token.

Owns backing off the last prompt tokens (`heal_prompt`: up to 4 tokens, their bytes H) and
the constraint that the output then starts with H (`HealedMatcher`): while bytes of H are
pending, the allowed tokens are those that are a prefix of the pending bytes (when the rest
can still be spelled) and those that start with them, combined with the grammar; no stop
token; rollback restores the pending bytes. Everything works on bytes, so H may end inside a
UTF-8 character or be a SentencePiece space. `Unconstrained` is the matcher of the free
language, for healing without a grammar.

Two ways H relates to a grammar: by default H is prompt text and the grammar starts after it
(what `generate` does); with `grammar_text=True`, H is part of the grammar's text (a user who
forced a prefix of the output), so H itself is fed to the grammar.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .matcher import DraftMethods, _row_words
from .tokenizer_info import TokenizerInfo
from .vocab_index import vocabulary_index

MAX_HEALED_TOKENS = 4


class Unconstrained(DraftMethods):
    """The matcher of the free language: every text token, then stop tokens end it."""

    def __init__(self, info: TokenizerInfo) -> None:
        self.tokenizer_info = info
        self._stops = frozenset(info.stop_token_ids.tolist())
        index = vocabulary_index(info)
        self._free, self._stop_row = index.free_row, index.stop_row
        self._history: list[bool] = []

    @property
    def num_accepted_tokens(self) -> int:
        return len(self._history)

    def is_terminated(self) -> bool:
        return bool(self._history) and self._history[-1]

    def is_accepting(self) -> bool:
        return True

    def accept_token(self, token_id: int) -> bool:
        token_id = int(token_id)
        info = self.tokenizer_info
        if self.is_terminated():
            return False
        stop = token_id in self._stops
        if not stop and not (0 <= token_id < info.n_tokens and info.token_bytes[token_id]):
            return False
        self._history.append(stop)
        return True

    def accept_bytes(self, data: bytes) -> bool:
        if data and not self.is_terminated():
            self._history.append(False)
        return not self.is_terminated()

    def rollback(self, num_tokens: int = 1) -> None:
        self._check_rollback(num_tokens)
        del self._history[len(self._history) - num_tokens:]

    def accepts_continuations(self, token_ids: Sequence[int], skip: int = 0, prefix: bytes = b"") -> np.ndarray:
        return np.full(len(token_ids), not self.is_terminated(), dtype=bool)

    def forced_bytes(self) -> bytes:
        return b""

    def fill_next_token_bitmask(self, bitmask, index: int = 0) -> None:
        _row_words(bitmask, index)[:] = self._stop_row if self.is_terminated() else self._free


@dataclass(frozen=True)
class Healing:
    """The result of backing off: feed `kept` to the model, and the output must start with
    `healed` (the bytes of the `removed` last prompt tokens)."""

    kept: list[int]
    healed: bytes
    removed: int


def heal_prompt(
    info: TokenizerInfo,
    prompt_ids: Sequence[int],
    matcher=None,
    grammar_text: bool = False,
    max_tokens: int = MAX_HEALED_TOKENS,
) -> Healing:
    """Choose how many prompt tokens to back off: the longest suffix s of the bytes of the last
    `max_tokens` text tokens (shorter than the longest token) that some token strictly extends,
    the extension allowed by `matcher` (from its current state, after H when `grammar_text`);
    then the fewest whole tokens covering s. No such suffix: nothing is removed.

    With `grammar_text`, `matcher` must have accepted the prompt's last tokens as grammar text;
    it is left rolled back by `removed` tokens (ready for `HealedMatcher(..., grammar_text=True)`)."""
    index = vocabulary_index(info)
    prompt_ids = [int(t) for t in prompt_ids]
    pieces: list[bytes] = []
    for t in reversed(prompt_ids[len(prompt_ids) - max_tokens:]):
        piece = info.token_bytes[t] if 0 <= t < info.n_tokens else None
        if not piece:
            break
        pieces.insert(0, piece)
    tail = b"".join(pieces)
    covered = np.cumsum([len(p) for p in reversed(pieces)]).tolist()  # bytes of the last j + 1 tokens
    for length in range(min(len(tail), index.max_len - 1), 0, -1):
        suffix = tail[len(tail) - length:]
        extensions = index.extensions(suffix, strict=True)
        if not len(extensions):
            continue
        removed = next(j + 1 for j, c in enumerate(covered) if c >= length)
        healed = tail[len(tail) - covered[removed - 1]:]
        if _extension_allowed(matcher, grammar_text, prompt_ids[len(prompt_ids) - removed:], healed, suffix,
                              extensions):
            return Healing(prompt_ids[: len(prompt_ids) - removed], healed, removed)
    return Healing(prompt_ids, b"", 0)


def _extension_allowed(matcher, grammar_text: bool, removed_ids: list[int], healed: bytes, suffix: bytes,
                       extensions: np.ndarray) -> bool:
    """Whether some token in `extensions` (all strictly extend `suffix`) may follow the healed
    prefix; with grammar_text, leaves `matcher` rolled back over `removed_ids` when it may."""
    if matcher is None:
        return True
    if not grammar_text:
        return bool(matcher.accepts_continuations(extensions, skip=len(suffix)).any())
    matcher.rollback(len(removed_ids))
    if matcher.accepts_continuations(extensions, prefix=healed[: len(healed) - len(suffix)]).any():
        return True
    for t in removed_ids:
        if not matcher.accept_token(t):
            raise ValueError(f"the matcher refuses prompt token {t} it accepted before backing off")
    return False


class HealedMatcher(DraftMethods):
    """A matcher whose output must start with `healed` bytes, then follow `matcher` (or
    anything, when None). The same interface as `GrammarMatcher`."""

    def __init__(self, info: TokenizerInfo, healed: bytes, matcher=None, grammar_text: bool = False) -> None:
        if grammar_text and matcher is None:
            raise ValueError("grammar_text=True needs the grammar's matcher")
        self.tokenizer_info = info
        self.inner = matcher if matcher is not None else Unconstrained(info)
        self.grammar_text = grammar_text
        self._index = vocabulary_index(info)
        self._pending = bytes(healed)
        self._history: list[tuple[bytes, int]] = []  # per token: pending before it, inner steps it took
        self._rows: dict[bytes, np.ndarray] = {}

    @property
    def pending(self) -> bytes:
        """The healed bytes the output has yet to produce."""
        return self._pending

    @property
    def num_accepted_tokens(self) -> int:
        return len(self._history)

    def is_terminated(self) -> bool:
        return self.inner.is_terminated()

    def is_accepting(self) -> bool:
        return not self._pending and self.inner.is_accepting()

    def accept_token(self, token_id: int) -> bool:
        if not self._pending:
            if not self.inner.accept_token(token_id):
                return False
            self._history.append((b"", 1))
            return True
        token_id = int(token_id)
        info = self.tokenizer_info
        data = info.token_bytes[token_id] if 0 <= token_id < info.n_tokens else None
        if not data or not self._allowed_while_pending(token_id):
            return False
        if self.grammar_text:
            ok, steps = self.inner.accept_token(token_id), 1
        else:
            rest = data[len(self._pending):]
            ok, steps = self.inner.accept_bytes(rest), int(bool(rest))
        if not ok:
            return False
        self._history.append((self._pending, steps))
        self._pending = self._pending[len(data):]
        return True

    def rollback(self, num_tokens: int = 1) -> None:
        self._check_rollback(num_tokens)
        if num_tokens == 0:
            return
        undone = self._history[len(self._history) - num_tokens:]
        del self._history[len(self._history) - num_tokens:]
        self.inner.rollback(sum(steps for _, steps in undone))
        self._pending = undone[0][0]

    def forced_bytes(self) -> bytes:
        """Nothing while healed bytes are pending (the model chooses how to spell them)."""
        return b"" if self._pending else self.inner.forced_bytes()

    def fill_next_token_bitmask(self, bitmask, index: int = 0) -> None:
        if not self._pending:
            self.inner.fill_next_token_bitmask(bitmask, index)
            return
        row = _row_words(bitmask, index)
        if self.grammar_text:
            self.inner.fill_next_token_bitmask(bitmask, index)
            row &= self._pending_row()
        else:
            row[:] = self._pending_row()

    # -- internals -------------------------------------------------------------------------
    def _allowed_while_pending(self, token_id: int) -> bool:
        row = self._pending_row()
        return bool((row[token_id >> 5] >> np.uint32(token_id & 31)) & 1)

    def _pending_row(self) -> np.ndarray:
        """The tokens allowed while `pending` is, as bitmask words (grammar mask excluded in
        grammar_text mode, where it is ANDed in)."""
        pending = self._pending
        row = self._rows.get(pending)
        if row is None:
            ok_ext = self._extensions_ok(pending)
            prefixes = [t for t in self._index.prefix_tokens(pending)
                        if self._completable(pending[len(self.tokenizer_info.token_bytes[t]):], {})]
            row = self._rows[pending] = self._index.ids_to_row(np.concatenate([ok_ext, prefixes]).astype(np.int64),
                                                               self.tokenizer_info.vocab_size)
        return row

    def _extensions_ok(self, rest: bytes) -> np.ndarray:
        """Tokens starting with `rest` (a suffix of pending) whose whole path is allowed."""
        ext = self._index.extensions(rest)
        if not len(ext):
            return ext
        if self.grammar_text:
            before = self._pending[: len(self._pending) - len(rest)]
            return ext[self.inner.accepts_continuations(ext, prefix=before)]
        return ext[self.inner.accepts_continuations(ext, skip=len(rest))]

    def _completable(self, rest: bytes, memo: dict) -> bool:
        """Whether `rest`, a suffix of the pending bytes, can still be produced by tokens."""
        if not rest:
            return True
        if rest not in memo:
            memo[rest] = False  # guards the recursion; tokens are never empty, so it terminates
            memo[rest] = bool(len(self._extensions_ok(rest))) or any(
                self._completable(rest[len(self.tokenizer_info.token_bytes[t]):], memo)
                for t in self._index.prefix_tokens(rest))
        return memo[rest]
