"""The command line: `python -m jsonschemabench {testsuite,masks,generate,report} ...`.

Owns argument parsing and wiring: which data, tokenizer and engines, the run file
(`--out RUN.jsonl`, `--resume`), progress bars, and where reports and plots go. The work is
done by `workers` (cases in processes), `generate`, `report` and `plots`.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from tqdm import tqdm

from . import data, known, masks, report, runlog
from .engine import BYTES
from .peers import ENGINES, engine_class, missing
from .testsuite import DEFAULT_TIMEOUT, PASS, CaseResult
from .workers import EngineStartError, WorkerConfig, run_cases

MODES_WITH_CASES = ("testsuite", "masks")


def _emit(text: str, out: Path | None) -> None:
    print(text, end="")
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
        print(f"report written to {out}", file=sys.stderr)


def _versions(engines: Sequence[str]) -> dict[str, str]:
    return {e: engine_class(e).version() for e in engines if missing(e) is None}


def run_engines(args: argparse.Namespace, mode: str, cases: list, case_timeout: float,
                compile_timeout: float | None, time_masks: bool) -> list[CaseResult]:
    """Every case on every engine of `args.engine`, one engine after another, each in its
    own worker processes; records go to the run file as they arrive. Returns the results of
    this run and, when resuming, those already in the file."""
    header = {"mode": mode, "tokenizer": args.tokenizer, "engines": args.engine, "versions": _versions(args.engine)}
    runfile = runlog.RunFile(args.out, header, args.resume) if args.out is not None else None
    done = runfile.done if runfile is not None else set()
    results: list[CaseResult] = []
    try:
        for engine in args.engine:
            reason = missing(engine)
            if reason is not None:
                print(f"skipping {engine}: {reason}", file=sys.stderr)
                continue
            todo = [c for c in cases if (engine, c.case_id) not in done]
            if len(todo) < len(cases):
                print(f"{engine}: {len(cases) - len(todo)} cases already in {args.out}, {len(todo)} to run",
                      file=sys.stderr)
            if not todo:
                continue
            bar = tqdm(total=len(todo), desc=engine, unit="schema", file=sys.stderr, disable=args.quiet,
                       dynamic_ncols=True)
            passed = [0]

            def on_result(result: CaseResult) -> None:
                results.append(result)
                if runfile is not None:
                    runfile.add({"mode": mode, **result.record()})
                passed[0] += result.outcome == PASS
                bar.set_postfix(passed=passed[0], refresh=False)
                bar.update()

            config = WorkerConfig(engine, args.tokenizer, case_timeout, compile_timeout, time_masks, args.memory_gb)
            try:
                run_cases(todo, config, args.workers, on_result)
            except EngineStartError as exc:
                print(f"\nerror: {exc}", file=sys.stderr)
            finally:
                bar.close()
    finally:
        if runfile is not None:
            runfile.close()
    if runfile is not None and args.resume:
        _, records = next(runlog.records_of([args.out]))
        return [CaseResult.from_record(r) for r in records]
    return results


def _tokenizer_name(spec: str) -> str:
    return BYTES if spec == BYTES else Path(spec).name


def cmd_testsuite(args: argparse.Namespace) -> int:
    cases = data.suite_cases(args.data, args.draft, args.optional)
    if args.category:
        wanted = set(args.category)
        cases = [c for c in cases if c.category in wanted]
    start = time.perf_counter()
    results = run_engines(args, "testsuite", cases, args.timeout, None, False)
    title = f"JSON-Schema-Test-Suite draft {args.draft}, tokenizer {_tokenizer_name(args.tokenizer)}"
    notes = f"{len(cases)} cases per engine; this run took {time.perf_counter() - start:.0f} s."
    _emit(report.suite_report(results, title, notes, args.details), args.report)
    if args.update_known is not None:
        syncode_results = [r for r in results if r.engine == "syncode"]
        entries, must_fail = known.updated(known.load(args.update_known), syncode_results)
        known.save(entries, args.update_known)
        print(f"{args.update_known}: {len(entries)} known failures", file=sys.stderr)
        if must_fail:
            print(f"not listed, they must fail: {', '.join(must_fail)}", file=sys.stderr)
    return 0


def cmd_masks(args: argparse.Namespace) -> int:
    subsets = args.subset or data.bench_subsets(args.data)
    cases = masks.bench_schemas(subsets, args.data, args.limit, args.split)
    start = time.perf_counter()
    results = run_engines(args, "masks", cases, args.timeout, args.compile_timeout, True)
    title = f"MaskBench over JSONSchemaBench, tokenizer {_tokenizer_name(args.tokenizer)}"
    notes = f"{len(cases)} schemas per engine; this run took {time.perf_counter() - start:.0f} s."
    _emit(report.bench_report(results, title, notes, args.details), args.report)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .generate import run_generate

    return run_generate(args)


def render(paths: Sequence[Path], details: int | None = None, plots: Path | None = None) -> str:
    """The Markdown report of run files, with plots when asked. Mask and test-suite runs of
    one tokenizer are merged into one report (engines run separately, e.g. a slow peer on a
    sample, still come side by side); generation runs get a section each."""
    parts = []
    merged: dict[tuple, tuple[list[CaseResult], list[str]]] = {}
    generated: dict[tuple, tuple[list[dict], list[str]]] = {}
    for path, (header, records) in zip(paths, runlog.records_of(paths)):
        mode = header.get("mode")
        versions = ", ".join(f"{e} {v}" for e, v in header.get("versions", {}).items())
        note = f"Run file `{path}`, started {header.get('started', '?')}; versions: {versions or '-'}."
        if mode == "generate":
            rows, notes = generated.setdefault((header.get("model", "?"), header.get("split", "?")), ([], []))
            rows += records
            notes.append(note)
            continue
        results, notes = merged.setdefault((mode, _tokenizer_name(header.get("tokenizer", "?"))), ([], []))
        results += [CaseResult.from_record(r) for r in records]
        notes.append(note)
    for (mode, tokenizer), (results, notes) in merged.items():
        stem = "-".join(dict.fromkeys(r.engine for r in results))
        if mode == "testsuite":
            parts.append(report.suite_report(results, f"JSON-Schema-Test-Suite, tokenizer {tokenizer}", " ".join(notes),
                                             details))
        else:
            parts.append(report.bench_report(results, f"MaskBench over JSONSchemaBench, tokenizer {tokenizer}",
                                             " ".join(notes), details))
        if plots is not None:
            from .plots import PlotsSkipped, plot

            try:
                files = plot(results, plots, f"{mode}-{tokenizer}-{stem}", "category" if mode == "testsuite" else "subset")
                parts.append("Plots: " + ", ".join(f"![{f.stem}]({f})" for f in files) + "\n")
            except PlotsSkipped as exc:
                parts.append(f"Plots: {exc}.\n")
    for (model, split), (rows, notes) in generated.items():
        from .generate import generate_report

        parts.append(generate_report(rows, f"Generation over JSONSchemaBench ({split} split), model {model}",
                                     " ".join(notes)))
    return "\n".join(parts)


def cmd_report(args: argparse.Namespace) -> int:
    _emit(render(args.runs, args.details, args.plots), args.out)
    return 0


def _engine_choice(value: str) -> str:
    if value not in ENGINES and ":" not in value:
        raise argparse.ArgumentTypeError(f"unknown engine {value!r} (choose from {', '.join(ENGINES)})")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jsonschemabench",
                                description="Score constrained-decoding engines on JSON Schema.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", type=Path, default=data.DEFAULT_DATA,
                        help=f"the shared data folder (default {data.DEFAULT_DATA})")
    common.add_argument("--out", type=Path, metavar="RUN.jsonl", help="write every per-schema record here (JSONL)")
    common.add_argument("--resume", action="store_true", help="continue the run in --out: skip what it has")
    common.add_argument("--report", type=Path, metavar="FILE.md", help="also write the markdown report here")
    common.add_argument("--details", type=int, default=50, metavar="N",
                        help="list at most N failing cases per engine in the report (default %(default)s)")
    common.add_argument("--quiet", action="store_true", help="no progress bars on stderr")
    engines = argparse.ArgumentParser(add_help=False)
    engines.add_argument("--engine", nargs="+", type=_engine_choice, default=["syncode"],
                         help=f"engines to run, one after another ({', '.join(ENGINES)}, or module:Class; "
                              "default syncode)")
    engines.add_argument("--workers", type=int, default=1, help="worker processes per engine (default 1)")
    engines.add_argument("--memory-gb", type=float, default=16.0,
                         help="address-space limit per worker in GiB (default %(default)s; 0: none)")
    sub = p.add_subparsers(dest="mode", required=True)

    t = sub.add_parser("testsuite", parents=[common, engines], help="run the JSON-Schema-Test-Suite")
    t.add_argument("--draft", choices=sorted(data.DRAFT_FOLDERS), default="2020-12")
    t.add_argument("--tokenizer", default=BYTES, help="'bytes' (default: one token per byte) or a HF tokenizer folder")
    t.add_argument("--optional", action="store_true", help="also run the files under optional/")
    t.add_argument("--category", action="append", help="only this category (file name without .json); repeatable")
    t.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per case (default %(default)s)")
    t.add_argument("--update-known", type=Path, metavar="FILE",
                   help="rewrite this known-failures file from syncode's results, keeping the entries of cases "
                        "that still fail the same way (the test's file: tests/json_schema_test_suite_known.json, "
                        "for the default draft and tokenizer)")
    t.set_defaults(run=cmd_testsuite)

    m = sub.add_parser("masks", parents=[common, engines],
                       help="MaskBench over JSONSchemaBench: compile and force instances")
    m.add_argument("--tokenizer", required=True, help="a HF tokenizer folder (or 'bytes')")
    m.add_argument("--subset", action="append", choices=data.BENCH_SUBSETS, help="only this subset; repeatable")
    m.add_argument("--limit", type=int, help="at most N schemas per subset")
    m.add_argument("--split", choices=("train", "val", "test"), help="only schemas of this split")
    m.add_argument("--compile-timeout", type=float, default=masks.COMPILE_TIMEOUT,
                   help="seconds to the first mask (default %(default)s)")
    m.add_argument("--timeout", type=float, default=masks.CASE_TIMEOUT,
                   help="seconds per schema, forcing included (default %(default)s); the worker is killed 30 s later")
    m.set_defaults(run=cmd_masks)

    g = sub.add_parser("generate", parents=[common],
                       help="the paper's generation metrics (coverage, compliance, GCT, TTFT, TPOT) with a model")
    g.add_argument("--model", default="default", help="a local model folder, or 'default' (the embedded model)")
    g.add_argument("--subset", action="append", choices=data.BENCH_SUBSETS,
                   help="only this subset; repeatable (default: Glaiveai2K, Github_easy, Snowplow)")
    g.add_argument("--split", default="test", choices=("train", "val", "test"), help="(default %(default)s)")
    g.add_argument("--limit", type=int, help="at most N schemas per subset")
    g.add_argument("--no-constraint", action="store_true", help="generate without syncode (the baseline)")
    g.add_argument("--max-new-tokens", type=int, default=2048, help="(default %(default)s, as the paper)")
    g.add_argument("--time-limit", type=float, default=60.0, help="seconds per generation (default %(default)s)")
    g.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    g.set_defaults(run=cmd_generate)

    r = sub.add_parser("report", help="render run files as a markdown report (and plots)")
    r.add_argument("runs", nargs="+", type=Path, metavar="RUN.jsonl")
    r.add_argument("--out", type=Path, metavar="FILE.md", help="also write the report here")
    r.add_argument("--plots", type=Path, metavar="DIR", help="write PNG plots here (needs matplotlib)")
    r.add_argument("--details", type=int, default=50, metavar="N",
                   help="list at most N failing cases per engine (default %(default)s)")
    r.set_defaults(run=cmd_report)
    return p


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds, so that worker processes are stopped


def main(argv: Sequence[str] | None = None) -> int:
    args: Any = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if getattr(args, "resume", False) and args.out is None:
        print("error: --resume needs --out RUN.jsonl", file=sys.stderr)
        return 2
    if getattr(args, "memory_gb", None) == 0:
        args.memory_gb = None
    try:
        return args.run(args)
    except (data.DataError, runlog.RunFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
