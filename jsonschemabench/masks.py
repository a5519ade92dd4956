"""MaskBench over JSONSchemaBench: which schemas, and the limits they run under.

For every schema with instances (of the chosen subsets, at most `limit` per subset, of a
split when given), each engine compiles it, timing schema in -> first mask filled (TTFM; a
compile past the limit, 10 s by default, is a timeout), then forces each instance
`json.dumps(data)` tokenized, timing every mask fill (TBM). Valid instances must be
accepted with EOS allowed at the end, invalid ones must not be; the outcomes are those of
`testsuite.run_case`, run in worker processes by `workers`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .data import SchemaCase, bench_cases

COMPILE_TIMEOUT = 10.0  # seconds to the first mask, as the paper's declared coverage
CASE_TIMEOUT = 300.0  # seconds per schema, forcing included (the worker is killed 30 s later)


def bench_schemas(subsets: Sequence[str], data: Path, limit: int | None = None,
                  split: str | None = None) -> list[SchemaCase]:
    """The schemas with instances of each subset, in file order (at most `limit` per subset)."""
    return [case for subset in subsets for case in bench_cases(subset, data, limit, split)]
