"""MaskBench over JSONSchemaBench: compile every schema, force every instance, time the masks.

Owns the protocol: for each schema with instances (`<Subset>/tests.jsonl`), compile with
`compile_grammar` and its default on-disk mask-store cache, timing schema in -> first mask
filled (TTFM; a compile past the limit, 10 s by default, is a timeout), then force each
instance `json.dumps(data)` tokenized, timing every `fill_next_token_bitmask` (TBM). Valid
instances must be accepted with EOS allowed at the end, invalid ones must not be; the
outcomes are those of `testsuite.run_case`.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Sequence

from .data import bench_cases
from .engine import Tokenizer, warm_up
from .testsuite import CaseResult, run_case

CASE_TIMEOUT = 300.0  # a guard for forcing too; the compile has its own limit


def run_bench(subsets: Sequence[str], tokenizer: Tokenizer, data: Path, limit: int | None = None,
              split: str | None = None, compile_timeout: float = 10.0, progress: bool = True) -> list[CaseResult]:
    """Every schema with instances of each subset (at most `limit` per subset)."""
    warm_up(tokenizer)
    results: list[CaseResult] = []
    for subset in subsets:
        start, before = time.perf_counter(), len(results)
        for case in bench_cases(subset, data, limit, split):
            results.append(run_case(case, tokenizer, CASE_TIMEOUT, compile_timeout, time_masks=True))
        if progress:
            done = results[before:]
            passed = sum(r.outcome == "pass" for r in done)
            print(f"  {subset}: {passed}/{len(done)} passed, {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return results
