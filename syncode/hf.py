"""Hugging Face `generate` integration: `GrammarLogitsProcessor`.

Owns driving one GrammarMatcher per batch row from inside `model.generate(...,
logits_processor=[processor])`: it reads the tokens generate appended since its last call,
advances the matchers, and masks every row's logits to the tokens its grammar allows, with
the same helpers as the core (`allocate_token_bitmask`, `GrammarMatcher.fill_next_token_bitmask`,
`apply_token_bitmask_inplace`).

A logits processor sees only `(input_ids, scores)`, so the processor infers everything else:

- A call whose `input_ids` are exactly the previous call's plus one token per row continues
  the same generation; any other call (first call, other batch size, other prompt) starts a
  new one: the whole `input_ids` is the prompt (left padding included, never fed to the
  grammar) and the matchers are reset. One processor can therefore serve many `generate`
  calls without a manual `reset()`. The one ambiguous case is a `generate` call whose prompt is
  exactly the previous call's last `input_ids` plus one token (that is, generate's previous
  output when `update`/`is_complete(sequences=...)` was not called): it continues the previous
  output; call `reset()` first to start over instead.
- EOS: the TokenizerInfo's `stop_token_ids` are the grammar's EOS. Every id in `eos_token_ids`
  (give `model.generation_config.eos_token_id`, an int or a list) is treated the same way:
  allowed exactly when the row's output is a complete sentence of its grammar.
- Finished rows: once a row has produced an EOS id, generate pads it; the processor ignores its
  later tokens and allows only EOS ids (and `pad_token_id`) there (or leaves the row's scores
  as they are, if another processor already set all of those to -inf). A row that receives an EOS id or `pad_token_id` while its grammar is not complete was stopped
  by generate itself (stop strings, custom stopping criteria): it is treated as finished, and
  `is_complete` reports False for it.
- Padded vocabularies: logits may be wider than the tokenizer; ids the tokenizer does not
  define (at or past `TokenizerInfo.n_tokens`, other than EOS ids) are always masked, including
  columns past the TokenizerInfo's `vocab_size`.

Greedy decoding and sampling (temperature, top-k, top-p, ...) are exact: generate applies the
user's logits processors before its sampling warpers, so the warpers only ever see masked
logits. Beam search (`num_beams > 1`), assisted/speculative decoding and other modes that
reorder or rewind rows are not supported: the processor raises a ValueError when it sees rows
reordered between calls (beam search: with one shared grammar this shows at the first reorder,
and the steps before it were masked exactly) or, with one grammar per row, a row count that is
not the number of grammars; a token its grammar does not allow (masking bypassed) raises a
RuntimeError. An unfinished row left with no allowed token of finite score (another processor,
such as min_new_tokens, removed them all) raises a ValueError instead of decoding garbage.
The scores passed in are not modified (generate's `output_logits` stay raw).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from transformers import LogitsProcessor

from .bitmask import allocate_token_bitmask, apply_token_bitmask_inplace
from .compiler import CompiledGrammar
from .matcher import GrammarMatcher


class GrammarLogitsProcessor(LogitsProcessor):
    """Constrains `model.generate` so every row's output is a sentence of its grammar.

    `compiled`: one CompiledGrammar shared by all rows (any batch size, including
    `num_return_sequences > 1` with sampling), or a sequence with one per row (the batch size
    must then be its length). All grammars must be compiled for the same tokenizer vocabulary.
    `eos_token_ids`: extra EOS ids beyond the TokenizerInfo's stop ids, typically
    `model.generation_config.eos_token_id`; allowed only where the grammar is complete.
    `pad_token_id`: the id generate pads finished rows with, when it is not an EOS id.

        proc = GrammarLogitsProcessor(compiled, eos_token_ids=model.generation_config.eos_token_id)
        out = model.generate(**inputs, logits_processor=[proc], max_new_tokens=64)
        done = [proc.is_complete(i, out) for i in range(len(out))]
    """

    def __init__(
        self,
        compiled: CompiledGrammar | Sequence[CompiledGrammar],
        eos_token_ids: int | Sequence[int] | None = None,
        pad_token_id: int | None = None,
    ) -> None:
        if isinstance(compiled, CompiledGrammar):
            self._shared: CompiledGrammar | None = compiled
            self._per_row: list[CompiledGrammar] | None = None
            grammars = [compiled]
        else:
            self._shared = None
            self._per_row = list(compiled)
            grammars = self._per_row
            if not grammars:
                raise ValueError("GrammarLogitsProcessor needs a CompiledGrammar or a non-empty list of them")
            for g in grammars:
                if not isinstance(g, CompiledGrammar):
                    raise TypeError(f"expected CompiledGrammar, got {type(g).__name__}")
        info = grammars[0].tokenizer_info
        for g in grammars[1:]:
            other = g.tokenizer_info
            if (other.vocab_size, other.fingerprint) != (info.vocab_size, info.fingerprint):
                raise ValueError("all grammars must be compiled for the same tokenizer vocabulary and vocab_size")
        self.vocab_size = info.vocab_size
        self.n_tokens = info.n_tokens
        self.pad_token_id = None if pad_token_id is None else int(pad_token_id)

        extra = [] if eos_token_ids is None else [int(t) for t in torch.as_tensor(eos_token_ids).flatten().tolist()]
        for t in extra + ([] if self.pad_token_id is None else [self.pad_token_id]):
            if not 0 <= t < self.vocab_size:
                raise ValueError(f"token id {t} (EOS or pad) is outside the vocabulary 0..{self.vocab_size - 1}")

        pads = set() if self.pad_token_id is None else {self.pad_token_id}
        self._columns = {id(g): _TokenColumns.build(g, extra, pads) for g in grammars}

        self._matchers: list[GrammarMatcher] = []
        self._grammars: list[CompiledGrammar] = []
        self._row_columns: list[_TokenColumns] = []
        self._finished: list[bool] = []
        self._last_ids: torch.Tensor | None = None
        self._bitmask: torch.Tensor | None = None
        self.prompt_length = 0

    # -- state -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the current generation: the next call starts a new one."""
        self._last_ids = None

    @property
    def matchers(self) -> list[GrammarMatcher]:
        """The current generation's matchers, one per row (read them, do not advance them)."""
        return list(self._matchers)

    def is_finished(self, row: int) -> bool:
        """Whether the row has produced an EOS id (or was stopped and padded by generate)."""
        return self._finished[row]

    def is_complete(self, row: int, sequences: torch.Tensor | None = None) -> bool:
        """Whether the row's output is a complete sentence of its grammar.

        A logits processor never sees the last token generate appends, so pass generate's
        output as `sequences` to count it (see `update`)."""
        if sequences is not None:
            self.update(sequences)
        if not 0 <= row < len(self._matchers):
            raise IndexError(f"row {row} out of range: the current generation has {len(self._matchers)} rows")
        m = self._matchers[row]
        return m.is_terminated() or m.is_accepting()

    def update(self, sequences: torch.Tensor) -> None:
        """Advance the matchers with generate's output: `sequences` must extend the last
        `input_ids` this processor saw (by any number of tokens per row, 0 included)."""
        if self._last_ids is None:
            raise ValueError("no generation in progress: the processor has not been called yet (or was reset)")
        rows, seen = self._last_ids.shape
        if sequences.dim() != 2 or sequences.shape[0] != rows or sequences.shape[1] < seen or not torch.equal(
            sequences[:, :seen], self._last_ids.to(sequences.device)
        ):
            raise ValueError("sequences do not continue the generation this processor tracks")
        new = sequences[:, seen:].tolist()
        for row, tokens in enumerate(new):
            for token in tokens:
                self._feed(row, token)
        self._last_ids = sequences.detach().clone()

    # -- the processor ---------------------------------------------------------------------
    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows, width = scores.shape
        if input_ids.dim() != 2 or input_ids.shape[0] != rows:
            raise ValueError(f"input_ids {tuple(input_ids.shape)} and scores {tuple(scores.shape)} disagree on rows")
        if width < self.n_tokens:
            raise ValueError(
                f"logits have {width} columns but the tokenizer has {self.n_tokens} tokens: build the TokenizerInfo "
                "with the model's tokenizer and vocab_size=model.config.vocab_size"
            )
        if self._continues(input_ids):
            for row, token in enumerate(input_ids[:, -1].tolist()):
                self._feed(row, token)
        else:
            self._start(input_ids)
        self._last_ids = input_ids.detach().clone()

        bitmask = self._bitmask
        words = bitmask.numpy().view(np.uint32)
        for row, (m, cols) in enumerate(zip(self._matchers, self._row_columns)):
            if self._finished[row]:
                words[row] = cols.finished
                continue
            m.fill_next_token_bitmask(bitmask, row)
            words[row] &= cols.live
            if cols.has_extra_eos and m.is_accepting():
                words[row] |= cols.extra_eos
        masked = scores.clone()  # generate's output_logits must keep the model's raw logits
        apply_token_bitmask_inplace(masked, bitmask)

        for row in torch.isneginf(masked).all(dim=-1).nonzero().flatten().tolist():
            if self._finished[row]:  # generate pads this row whatever it picks: keep it samplable
                masked[row] = scores[row]
                continue
            if not words[row].any():
                raise ValueError(f"row {row}: its grammar allows no token at all: its language is empty (e.g. a schema "
                                 "that no value satisfies, which compiles with an EmptySchemaWarning)")
            raise ValueError(
                f"row {row}: every token its grammar allows already had score -inf before this processor; another "
                "logits processor removed them all (e.g. min_new_tokens or min_length blocking EOS once the grammar is "
                "complete, or bad_words_ids / suppress_tokens)"
            )
        return masked

    # -- internals -------------------------------------------------------------------------
    def _start(self, input_ids: torch.Tensor) -> None:
        rows = input_ids.shape[0]
        if self._per_row is not None:
            if rows != len(self._per_row):
                hint = (
                    f" ({rows // len(self._per_row)} rows per grammar: beam search (num_beams > 1) is not supported; "
                    "for num_return_sequences > 1 with sampling repeat each grammar that many times)"
                    if rows % len(self._per_row) == 0
                    else ""
                )
                raise ValueError(f"got {rows} rows for {len(self._per_row)} grammars{hint}")
            grammars = self._per_row
        else:
            grammars = [self._shared] * rows
        if [id(g) for g in grammars] != [id(g) for g in self._grammars]:
            self._matchers = [GrammarMatcher(g) for g in grammars]
            self._grammars = list(grammars)
            self._row_columns = [self._columns[id(g)] for g in grammars]
        else:
            for m in self._matchers:
                m.reset()
        self._finished = [False] * rows
        if self._bitmask is None or self._bitmask.shape[0] != rows:
            self._bitmask = allocate_token_bitmask(rows, self.vocab_size)
        self.prompt_length = input_ids.shape[1]

    def _continues(self, input_ids: torch.Tensor) -> bool:
        """Whether input_ids are the previous call's plus one token per row. Raises when rows
        were reordered (beam search), which no matcher state can follow."""
        last = self._last_ids
        if last is None or input_ids.shape[0] != last.shape[0] or input_ids.shape[1] != last.shape[1] + 1:
            return False
        prefix = input_ids[:, :-1]
        last = last.to(input_ids.device)
        if torch.equal(prefix, last):
            return True
        same = (prefix[:, None, :] == last[None, :, :]).all(dim=-1)  # same[i, j]: row i continues old row j
        if bool(same.any(dim=1).all()):
            raise ValueError(
                "the rows of input_ids were reordered between calls, as beam search does: GrammarLogitsProcessor "
                "supports greedy decoding and sampling only (num_beams=1)"
            )
        return False

    def _feed(self, row: int, token: int) -> None:
        """Advance row's matcher by one generated token."""
        if self._finished[row]:
            return
        m = self._matchers[row]
        cols = self._row_columns[row]
        if token in cols.eos:
            if token in cols.stops:
                m.accept_token(token)  # terminates the matcher when the grammar is complete
            self._finished[row] = True
            return
        if m.accept_token(token):
            return
        if token == self.pad_token_id:
            self._finished[row] = True
            return
        info = m.compiled.tokenizer_info
        text = info.token_bytes[token] if 0 <= token < info.n_tokens else None
        raise RuntimeError(
            f"row {row}: token {token} ({text!r}) was generated but its grammar does not allow it, so the mask was "
            "bypassed (beam search, assisted decoding, a processor placed after this one, or generate stopping the row "
            "and padding it with a pad_token_id this processor was not given)"
        )


@dataclass(frozen=True)
class _TokenColumns:
    """Which columns a grammar's rows may allow, as bitmask words (uint32 views)."""

    stops: frozenset[int]  # the TokenizerInfo's stop ids: the matcher's own EOS
    eos: frozenset[int]  # stops plus the extra EOS ids
    extra_eos: np.ndarray  # EOS ids the matcher does not know: allowed when the grammar is complete
    has_extra_eos: bool
    live: np.ndarray  # what an unfinished row may ever allow: tokenizer ids, minus extra EOS, plus stops
    finished: np.ndarray  # what a finished row allows: every EOS id and the pad id

    @classmethod
    def build(cls, compiled: CompiledGrammar, extra_eos: Sequence[int], pads: set[int]) -> "_TokenColumns":
        info = compiled.tokenizer_info
        stops = set(info.stop_token_ids.tolist())
        extras = sorted(set(extra_eos) - stops)
        live = np.zeros(info.vocab_size, dtype=bool)
        live[: info.n_tokens] = True
        live[extras] = False
        live[sorted(stops)] = True
        return cls(
            stops=frozenset(stops),
            eos=frozenset(stops | set(extras)),
            extra_eos=_words(extras, info.vocab_size),
            has_extra_eos=bool(extras),
            live=_pack(live),
            finished=_words(sorted(stops | set(extras) | pads), info.vocab_size),
        )


def _pack(allowed: np.ndarray) -> np.ndarray:
    """Boolean per-token array -> uint32 bitmask words (the bitmask layout)."""
    words = (len(allowed) + 31) // 32
    padded = np.zeros(words * 32, dtype=bool)
    padded[: len(allowed)] = allowed
    return np.packbits(padded, bitorder="little").view(np.uint32)


def _words(ids: Sequence[int], vocab_size: int) -> np.ndarray:
    """The uint32 bitmask words with exactly `ids` set."""
    allowed = np.zeros(vocab_size, dtype=bool)
    allowed[list(ids)] = True
    return _pack(allowed)
