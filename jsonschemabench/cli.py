"""The command line: `python -m jsonschemabench {testsuite,masks} ...`.

Owns argument parsing and wiring: which data, which tokenizer, where reports go. The work is
done by `testsuite`, `masks` and `report`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from . import data, known, masks, report
from .engine import BYTES, load_tokenizer
from .testsuite import DEFAULT_TIMEOUT, CaseResult, run_suite, write_json


def _emit(text: str, out: Path | None) -> None:
    print(text, end="")
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
        print(f"written to {out}", file=sys.stderr)


def cmd_testsuite(args: argparse.Namespace) -> int:
    cases = data.suite_cases(args.data, args.draft, args.optional)
    if args.category:
        wanted = set(args.category)
        cases = [c for c in cases if c.category in wanted]
    tokenizer = load_tokenizer(args.tokenizer)
    current = [""]

    def progress(result: CaseResult) -> None:
        if result.category != current[0]:
            current[0] = result.category
            print(f"  {result.category}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    results = run_suite(cases, tokenizer, args.timeout, progress if not args.quiet else None)
    seconds = time.perf_counter() - start
    title = f"JSON-Schema-Test-Suite draft {args.draft}, tokenizer {tokenizer.name}"
    _emit(report.suite_report(results, title, seconds), args.out)
    if args.json is not None:
        write_json(results, args.json)
    if args.update_known is not None:
        entries, must_fail = known.updated(known.load(args.update_known), results)
        known.save(entries, args.update_known)
        print(f"{args.update_known}: {len(entries)} known failures", file=sys.stderr)
        if must_fail:
            print(f"not listed, they must fail: {', '.join(must_fail)}", file=sys.stderr)
    return 0


def cmd_masks(args: argparse.Namespace) -> int:
    subsets = args.subset or data.bench_subsets(args.data)
    tokenizer = load_tokenizer(args.tokenizer)
    start = time.perf_counter()
    results = masks.run_bench(subsets, tokenizer, args.data, args.limit, args.split, args.timeout,
                              progress=not args.quiet)
    _emit(report.bench_report(results, tokenizer.name, time.perf_counter() - start), args.out)
    if args.json is not None:
        write_json(results, args.json)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jsonschemabench", description="Score syncode's JSON Schema support.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", type=Path, default=data.DEFAULT_DATA,
                        help=f"the shared data folder (default {data.DEFAULT_DATA})")
    common.add_argument("--out", type=Path, help="also write the markdown report here")
    common.add_argument("--json", type=Path, help="write the raw per-case records here")
    common.add_argument("--quiet", action="store_true", help="no progress on stderr")
    sub = p.add_subparsers(dest="mode", required=True)

    t = sub.add_parser("testsuite", parents=[common], help="run the JSON-Schema-Test-Suite")
    t.add_argument("--draft", choices=sorted(data.DRAFT_FOLDERS), default="2020-12")
    t.add_argument("--tokenizer", default=BYTES, help="'bytes' (default: one token per byte) or a HF tokenizer folder")
    t.add_argument("--optional", action="store_true", help="also run the files under optional/")
    t.add_argument("--category", action="append", help="only this category (file name without .json); repeatable")
    t.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per case (default %(default)s)")
    t.add_argument("--update-known", type=Path, metavar="FILE",
                   help="rewrite this known-failures file from the results, keeping the entries of cases that "
                        "still fail the same way (the test's file: tests/json_schema_test_suite_known.json, "
                        "for the default draft and tokenizer)")
    t.set_defaults(run=cmd_testsuite)

    m = sub.add_parser("masks", parents=[common], help="MaskBench over JSONSchemaBench: compile and force instances")
    m.add_argument("--tokenizer", required=True, help="a HF tokenizer folder (or 'bytes')")
    m.add_argument("--subset", action="append", choices=data.BENCH_SUBSETS, help="only this subset; repeatable")
    m.add_argument("--limit", type=int, help="at most N schemas per subset")
    m.add_argument("--split", choices=("train", "val", "test"), help="only schemas of this split")
    m.add_argument("--timeout", type=float, default=10.0, help="compile limit in seconds (default %(default)s)")
    m.set_defaults(run=cmd_masks)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except data.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
