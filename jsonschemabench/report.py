"""Reports: markdown tables and percentiles for the benchmark modes.

Owns presentation only: with several engines a side-by-side table (a row per category or
subset, a column block per engine), then per engine the test-suite table (one row per
category, then the overall line) or the MaskBench table with timings, and the list of cases
that did not pass. Nothing here runs an engine.
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


def by_key(results: Iterable[CaseResult], key: str) -> dict[str, list[CaseResult]]:
    """Results grouped by an attribute (`engine`, `category`), in first-seen order."""
    out: dict[str, list[CaseResult]] = {}
    for r in results:
        out.setdefault(getattr(r, key), []).append(r)
    return out


def fmt(x: float) -> str:
    """A timing for a table: '-' for none, one decimal below 100, none above."""
    return "-" if math.isnan(x) else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def _details(results: Sequence[CaseResult], limit: int | None) -> list[str]:
    failing = [r for r in results if r.outcome != PASS]
    shown = failing if limit is None else failing[:limit]
    lines = [f"- `{r.case_id}` ({escape(r.description)[:80]}): **{r.outcome}**: {escape(r.message)[:300]}"
             for r in shown]
    if len(shown) < len(failing):
        lines.append(f"- ... {len(failing) - len(shown)} more (all records are in the run file)")
    return lines or ["none"]


SUITE_HEADER = ("category", "cases", "passed", "fraction", "unsupported", "invalid schema", "timeout", "crash",
                "validation errors", "invalidation errors")


def _suite_row(name: str, results: Sequence[CaseResult]) -> list[object]:
    c = counts(results)
    fraction = c[PASS] / len(results) if results else math.nan
    return [name, len(results), c[PASS], f"{fraction:.2f}", c[UNSUPPORTED], c[INVALID_SCHEMA], c[TIMEOUT],
            c[CRASH], c[VALIDATION], c[INVALIDATION]]


def _overall_line(results: Sequence[CaseResult]) -> str:
    c = counts(results)
    return (f"{c[PASS]}/{len(results)} passed ({c[PASS] / max(len(results), 1):.1%}); "
            f"{c[UNSUPPORTED]} unsupported, {c[INVALID_SCHEMA]} invalid schema, {c[TIMEOUT]} timeout, "
            f"{c[CRASH]} crash, {c[VALIDATION]} validation errors, {c[INVALIDATION]} invalidation errors")


def _side_by_side(engines: dict[str, list[CaseResult]], row_name: str,
                  block: Sequence[str], cells) -> str:
    """One table: a row per category (then overall), a column block per engine."""
    header = [row_name] + [f"{engine} {column}" for engine in engines for column in block]
    names: list[str] = []
    for results in engines.values():
        names += [n for n in by_key(results, "category") if n not in names]
    rows = []
    for name in names + ["**overall**"]:
        row: list[object] = [name]
        for results in engines.values():
            part = results if name == "**overall**" else [r for r in results if r.category == name]
            row += cells(part) if part else ["-"] * len(block)
        rows.append(row)
    return table(header, rows)


def suite_report(results: Sequence[CaseResult], title: str, notes: str = "", details: int | None = None) -> str:
    """The test-suite report: with several engines first a side-by-side table (fraction of
    cases passed per category, as the paper's coverage figure); then per engine its table
    (every outcome per category), overall line and the cases that did not pass."""
    engines = by_key(results, "engine")
    parts = [f"# {title}", ""]
    if notes:
        parts += [notes, ""]
    if len(engines) > 1:
        def cells(part: Sequence[CaseResult]) -> list[object]:
            return [f"{counts(part)[PASS]}/{len(part)}", f"{counts(part)[PASS] / len(part):.2f}"]
        parts += [_side_by_side(engines, "category", ("passed", "fraction"), cells), ""]
        parts += [f"- {engine}: {_overall_line(rs)}" for engine, rs in engines.items()] + [""]
    parts += _engine_sections(engines, SUITE_HEADER, _suite_row, "cases", details)
    return "\n".join(parts)


def _engine_sections(engines: dict, header: Sequence[str], row, what: str, details: int | None) -> list[str]:
    """Per engine: its table (a `row(name, results)` per category, then overall), its overall
    line and the `what` (cases, schemas) that did not pass."""
    parts: list[str] = []
    for engine, rs in engines.items():
        rows = [row(name, part) for name, part in by_key(rs, "category").items()]
        rows.append(row("**overall**", rs))
        parts += [f"## {engine}", "", table(header, rows), "", f"Overall: {_overall_line(rs)}.", "",
                  f"### {engine}: {what} that did not pass", ""] + _details(rs, details) + [""]
    return parts


BENCH_HEADER = ("subset", "schemas", "passing", "unsupported", "invalid schema", "timeout", "crash",
                "validation errors", "invalidation errors", "TTFM p50 ms", "TTFM p99 ms", "TBM p50 µs",
                "TBM p99 µs", "TBM max µs", "masks")
BENCH_BLOCK = ("pass", "compile errors u/i/t/c", "val err", "inval err", "TTFM p50/p99 ms", "TBM p50/p99/max µs")


def _timings(results: Sequence[CaseResult]) -> tuple[list[float], list[float]]:
    """(TTFM in ms over the schemas that compiled, every TBM in µs)."""
    return ([r.ttfm * 1e3 for r in results if r.ttfm is not None],
            [s * 1e6 for r in results for s in r.mask_seconds])


def _bench_row(name: str, results: Sequence[CaseResult]) -> list[object]:
    c = counts(results)
    ttfm, tbm = _timings(results)
    return [name, len(results), c[PASS], c[UNSUPPORTED], c[INVALID_SCHEMA], c[TIMEOUT], c[CRASH], c[VALIDATION],
            c[INVALIDATION], fmt(percentile(ttfm, 50)), fmt(percentile(ttfm, 99)), fmt(percentile(tbm, 50)),
            fmt(percentile(tbm, 99)), fmt(max(tbm, default=math.nan)), len(tbm)]


def _bench_cells(results: Sequence[CaseResult]) -> list[object]:
    c = counts(results)
    ttfm, tbm = _timings(results)
    return [f"{c[PASS]}/{len(results)}", f"{c[UNSUPPORTED]}/{c[INVALID_SCHEMA]}/{c[TIMEOUT]}/{c[CRASH]}",
            c[VALIDATION], c[INVALIDATION], f"{fmt(percentile(ttfm, 50))} / {fmt(percentile(ttfm, 99))}",
            f"{fmt(percentile(tbm, 50))} / {fmt(percentile(tbm, 99))} / {fmt(max(tbm, default=math.nan))}"]


BENCH_NOTES = ("TTFM: schema in -> first mask filled, over the schemas that compiled (for syncode: schema to "
               "grammar, compile with the on-disk mask-store cache, first fill). TBM: each mask fill while forcing "
               "an instance. Compile errors u/i/t/c: unsupported / invalid schema / timeout / crash (a crash may "
               "also happen while forcing, e.g. a mask that disagrees with accept_token, or the worker dying).")


def bench_report(results: Sequence[CaseResult], title: str, notes: str = "", details: int | None = None) -> str:
    """The MaskBench report: with several engines first a side-by-side table (a column block
    per engine); then per engine its per-subset table with timings and the schemas that did
    not pass."""
    engines = by_key(results, "engine")
    parts = [f"# {title}", ""]
    if len(engines) > 1:
        parts += [_side_by_side(engines, "subset", BENCH_BLOCK, _bench_cells), ""]
    parts += [BENCH_NOTES + (" " + notes if notes else ""), ""]
    parts += _engine_sections(engines, BENCH_HEADER, _bench_row, "schemas", details)
    return "\n".join(parts)
