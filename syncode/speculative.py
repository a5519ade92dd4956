"""Speculative decoding under a grammar, and the token-by-token decode loop it extends.

Owns `decode`: one prompt through a causal LM with a KV cache, every step masked by a matcher
(a `GrammarMatcher`, or a `HealedMatcher` for token alignment). With a `Speculation`, each
step first drafts tokens (the grammar's forced bytes, jump-forward; prompt-lookup n-grams;
or a draft model sampling from its own masked distribution), computes the masks along the
draft in one matcher call, runs the target once over the draft, and keeps the draft's longest
prefix that the standard rejection rule accepts, plus one token from the residual (or the
bonus position). Target and draft distributions are both masked, so the output distribution
is exactly that of plain masked sampling; greedy output equals plain greedy output.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from .bitmask import apply_token_bitmask_inplace
from .tokenizer_info import TokenizerInfo
from .vocab_index import vocabulary_index


@dataclass
class Speculation:
    """Draft sources for `generate(..., speculative=...)` (True gives the defaults).

    `draft_tokens`: tokens drafted per step (prompt lookup or draft model); `ngram`: longest
    n-gram prompt lookup matches; `draft_model`: a causal LM with the target's tokenizer
    (replaces prompt lookup); `forced`: draft the grammar's forced bytes first (jump-forward,
    up to `max_forced_tokens` tokens, verified by the target like any draft)."""

    draft_tokens: int = 4
    ngram: int = 3
    draft_model: Any = None
    forced: bool = True
    max_forced_tokens: int = 16


@dataclass
class DecodeStats:
    """What a decode did: target forward passes, drafted and accepted draft tokens."""

    forward_passes: int = 0
    drafted: int = 0
    accepted: int = 0
    forced_drafted: int = 0
    forced_accepted: int = 0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0


def sampling_probs(logits: torch.Tensor, temperature: float, top_p: float, top_k: int | None) -> torch.Tensor:
    """Rows of (already masked) logits -> the sampling distribution: temperature, then top-k,
    then top-p (the order transformers applies them). Temperature 0: one-hot argmax."""
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(dim=-1), logits.shape[-1]).to(torch.float64)
    logits = logits.double() / temperature
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[..., -1, None]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        drop = sorted_probs.cumsum(-1) - sorted_probs > top_p
        sorted_probs[drop] = 0
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


def sample(weights: np.ndarray, rng: np.random.Generator) -> int:
    """One index drawn with probability proportional to `weights` (non-negative)."""
    cumulative = np.cumsum(weights)
    return min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")), len(weights) - 1)


def verify(p: np.ndarray, draft: Sequence[int], q: np.ndarray | None, rng: np.random.Generator) -> tuple[int, int]:
    """The rejection rule. `p[i]`: the target's (masked) distribution after draft[:i], i = 0..n;
    `q[i]`: the distribution draft[i] was sampled from (None: drafts are deterministic).
    Returns (draft tokens accepted, the next token), distributed exactly as sampling from p."""
    for i, d in enumerate(draft):
        qd = 1.0 if q is None else q[i, d]
        if rng.random() * qd < p[i, d]:  # accept with probability min(1, p/q)
            continue
        residual = p[i].copy()
        if q is None:
            residual[d] = 0.0
        else:
            residual = np.maximum(residual - q[i], 0.0)
        return i, sample(residual if residual.sum() > 0 else p[i], rng)
    return len(draft), sample(p[len(draft)], rng)


def prompt_lookup(ids: Sequence[int], ngram: int, k: int) -> list[int]:
    """Up to k tokens that followed the latest earlier occurrence of the longest (<= ngram)
    suffix of `ids`."""
    arr = np.asarray(ids, dtype=np.int64)
    for n in range(min(ngram, len(arr) - 1), 0, -1):
        tail = arr[len(arr) - n:]
        windows = np.lib.stride_tricks.sliding_window_view(arr[:-1], n)
        hits = np.flatnonzero((windows == tail).all(axis=1))
        if len(hits):
            start = int(hits[-1]) + n
            return arr[start: start + k].tolist()
    return []


class _CachedLM:
    """A causal LM with its KV cache over a token sequence it has seen a prefix of."""

    def __init__(self, model) -> None:
        self.model = model
        self.past = None
        self.length = 0

    def logits(self, tokens: list[int]) -> torch.Tensor:
        out = self.model(input_ids=torch.tensor([tokens]), past_key_values=self.past, use_cache=True)
        self.past = out.past_key_values
        self.length += len(tokens)
        return out.logits[0].float()

    def crop(self, length: int) -> None:
        if length < self.length:
            self.past.crop(length - self.length)  # transformers 5: a negative count removes that many
            self.length = length


def decode(
    model,
    prompt_ids: Sequence[int],
    matcher,
    info: TokenizerInfo,
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    speculation: Speculation | None = None,
) -> tuple[list[int], DecodeStats]:
    """Generate after `prompt_ids` under `matcher` until a stop token is accepted or
    `max_new_tokens`; returns the new tokens (a final stop token included) and the stats."""
    if temperature < 0:
        raise ValueError("temperature must be >= 0")
    rng = np.random.default_rng(seed)
    target = _CachedLM(model)
    drafter = _CachedLM(speculation.draft_model) if speculation and speculation.draft_model is not None else None
    ids = [int(t) for t in prompt_ids]
    start = len(ids)
    stats = DecodeStats()
    bitmask = torch.zeros((1, info.bitmask_words), dtype=torch.int32)
    with torch.inference_mode():
        while len(ids) - start < max_new_tokens and not matcher.is_terminated():
            budget = max_new_tokens - (len(ids) - start)
            draft, q, forced = _draft(speculation, drafter, ids, matcher, info, temperature, top_p, top_k, rng)
            draft = draft[: budget - 1]
            if bitmask.shape[0] < len(draft) + 1:
                bitmask = torch.zeros((len(draft) + 1, info.bitmask_words), dtype=torch.int32)
            n = matcher.fill_next_token_bitmask_for_draft(draft, bitmask)
            draft = draft[:n]  # drafts past a refused token: never accepted (q is masked, so only deterministic ones)
            logits = target.logits(ids[target.length:] + draft)[-(n + 1):]
            stats.forward_passes += 1
            logits = logits[:, : info.vocab_size] if logits.shape[1] > info.vocab_size else logits
            apply_token_bitmask_inplace(logits, bitmask[: n + 1])
            p = sampling_probs(logits, temperature, top_p, top_k).numpy()
            accepted, token = verify(p, draft, None if q is None else q[:n], rng)
            stats.drafted += n
            stats.accepted += accepted
            if forced:
                stats.forced_drafted += n
                stats.forced_accepted += accepted
            target.crop(len(ids) + accepted)
            if drafter is not None:
                drafter.crop(min(drafter.length, len(ids) + accepted))
            for t in draft[:accepted] + [token]:
                if not matcher.accept_token(t):
                    raise RuntimeError(f"the matcher refused token {t} its own mask allowed")
                ids.append(t)
                if matcher.is_terminated():
                    break
    return ids[start:], stats


def _draft(speculation, drafter, ids, matcher, info, temperature, top_p, top_k, rng):
    """(draft tokens, their masked draft distributions or None, whether they are forced)."""
    if speculation is None:
        return [], None, False
    if speculation.forced:
        forced = matcher.forced_bytes()
        if forced:
            return vocabulary_index(info).longest_match(forced)[: speculation.max_forced_tokens], None, True
    if drafter is None:
        return prompt_lookup(ids, speculation.ngram, speculation.draft_tokens), None, False
    return _model_draft(drafter, ids, matcher, info, speculation.draft_tokens, temperature, top_p, top_k, rng)


def _model_draft(drafter, ids, matcher, info, k, temperature, top_p, top_k, rng):
    """k tokens sampled from the draft model's masked distribution (greedy at temperature 0)."""
    draft: list[int] = []
    rows: list[np.ndarray] = []
    bitmask = torch.zeros((1, info.bitmask_words), dtype=torch.int32)
    sequence = list(ids)
    for _ in range(k):
        if matcher.is_terminated():
            break
        logits = drafter.logits(sequence[drafter.length:])[-1:, : info.vocab_size]
        matcher.fill_next_token_bitmask(bitmask, 0)
        apply_token_bitmask_inplace(logits, bitmask)
        q = sampling_probs(logits, temperature, top_p, top_k).numpy()[0]
        token = sample(q, rng)
        if not matcher.accept_token(token):
            raise RuntimeError(f"the matcher refused draft token {token} its own mask allowed")
        draft.append(token)
        rows.append(q)
        sequence.append(token)
    matcher.rollback(len(draft))
    return draft, (np.stack(rows) if rows else None), False
