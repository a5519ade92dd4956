"""Reports: markdown tables and percentiles for the benchmark modes.

Owns presentation only: the test-suite table (one row per category, then the overall line),
the detail list of cases that did not pass, and the MaskBench table. Nothing here runs the
engine.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

from .testsuite import (
    CRASH, INVALID_SCHEMA, INVALIDATION, OUTCOMES, PASS, TIMEOUT, UNSUPPORTED, VALIDATION, CaseResult,
)


def table(header: Sequence[str], rows: Iterable[Sequence[object]], align_left: int = 1) -> str:
    """A markdown table; the first `align_left` columns are left-aligned, the rest right."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < align_left else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def escape(text: str) -> str:
    """Text safe inside a markdown table cell or list item."""
    return text.replace("|", "\\|").replace("\n", " ")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def counts(results: Sequence[CaseResult]) -> dict[str, int]:
    """How many results have each outcome."""
    found = {outcome: 0 for outcome in OUTCOMES}
    for r in results:
        found[r.outcome] += 1
    return found


SUITE_HEADER = ("category", "cases", "passed", "fraction", "unsupported", "invalid schema", "timeout", "crash",
                "validation errors", "invalidation errors")


def _suite_row(name: str, results: Sequence[CaseResult]) -> list[object]:
    c = counts(results)
    fraction = c[PASS] / len(results) if results else math.nan
    return [name, len(results), c[PASS], f"{fraction:.2f}", c[UNSUPPORTED], c[INVALID_SCHEMA], c[TIMEOUT],
            c[CRASH], c[VALIDATION], c[INVALIDATION]]


def suite_report(results: Sequence[CaseResult], title: str, seconds: float | None = None) -> str:
    """The test-suite report: per-category table, overall line, detail of non-passing cases."""
    by_category: dict[str, list[CaseResult]] = {}
    for r in results:
        by_category.setdefault(r.category, []).append(r)
    rows = [_suite_row(name, rs) for name, rs in by_category.items()]
    rows.append(_suite_row("**overall**", results))
    c = counts(results)
    overall = (f"Overall: {c[PASS]}/{len(results)} cases passed ({c[PASS] / max(len(results), 1):.1%}); "
               f"{c[UNSUPPORTED]} unsupported, {c[INVALID_SCHEMA]} invalid schema, {c[TIMEOUT]} timeout, "
               f"{c[CRASH]} crash, {c[VALIDATION]} validation errors, {c[INVALIDATION]} invalidation errors")
    if seconds is not None:
        overall += f"; {seconds:.1f} s"
    failing = [r for r in results if r.outcome != PASS]
    details = [f"- `{r.case_id}` ({escape(r.description)}): **{r.outcome}**: {escape(r.message)}" for r in failing]
    parts = [f"# {title}", "", table(SUITE_HEADER, rows), "", overall + ".", "",
             f"## Cases that did not pass ({len(failing)})", ""] + (details or ["none"])
    return "\n".join(parts) + "\n"


BENCH_HEADER = ("subset", "schemas", "passing", "unsupported", "invalid schema", "timeout", "crash",
                "validation errors", "invalidation errors", "TTFM p50 ms", "TTFM p99 ms", "TBM p50 µs",
                "TBM p99 µs", "TBM max µs", "masks")


def _bench_row(name: str, results: Sequence[CaseResult]) -> list[object]:
    c = counts(results)
    ttfm = [r.ttfm * 1e3 for r in results if r.ttfm is not None]
    tbm = [s * 1e6 for r in results for s in r.mask_seconds]
    fmt = lambda x: "-" if math.isnan(x) else f"{x:.1f}" if x < 100 else f"{x:.0f}"  # noqa: E731
    return [name, len(results), c[PASS], c[UNSUPPORTED], c[INVALID_SCHEMA], c[TIMEOUT], c[CRASH], c[VALIDATION],
            c[INVALIDATION], fmt(percentile(ttfm, 50)), fmt(percentile(ttfm, 99)), fmt(percentile(tbm, 50)),
            fmt(percentile(tbm, 99)), fmt(max(tbm, default=math.nan)), len(tbm)]


def bench_report(results: Sequence[CaseResult], tokenizer: str, seconds: float | None = None) -> str:
    """The MaskBench report: per-subset table with timings, overall line, non-passing cases."""
    by_subset: dict[str, list[CaseResult]] = {}
    for r in results:
        by_subset.setdefault(r.category, []).append(r)
    rows = [_bench_row(name, rs) for name, rs in by_subset.items()] + [_bench_row("**overall**", results)]
    failing = [r for r in results if r.outcome != PASS]
    details = [f"- `{r.case_id}`: **{r.outcome}**: {escape(r.message)[:300]}" for r in failing]
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    notes = ("TTFM: schema in -> first mask filled (schema to grammar, compile with the on-disk mask-store cache, "
             "first fill), over the schemas that compiled; TBM: each fill_next_token_bitmask while forcing (the in-memory mask cache is on, as by "
             f"default). {len(results)} schemas{took}.")
    parts = [f"# MaskBench over JSONSchemaBench, tokenizer {tokenizer}", "", table(BENCH_HEADER, rows), "", notes, "",
             f"## Schemas that did not pass ({len(failing)})", ""] + (details or ["none"])
    return "\n".join(parts) + "\n"
