"""The jsonschemabench CLI's machinery: worker processes (crash and timeout isolation), the
run file and `--resume`, the report renderer, and the peer adapters.

Runs are tiny (a few schemas, the byte tokenizer); peer tests skip, naming the package, when
the peer is not installed (`pip install '.[peers]'`).
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys

import pytest

from conftest import REPO, SHARED

sys.path.insert(0, str(REPO))  # jsonschemabench lives at the repository root

from jsonschemabench import cli, report, runlog  # noqa: E402
from jsonschemabench.data import Instance, SchemaCase  # noqa: E402
from jsonschemabench.engine import SyncodeEngine, byte_tokenizer  # noqa: E402
from jsonschemabench.peers import ENGINES, make_engine, missing  # noqa: E402
from jsonschemabench.testsuite import CRASH, INVALIDATION, PASS, TIMEOUT, UNSUPPORTED, CaseResult, run_case  # noqa: E402
from jsonschemabench.workers import WorkerConfig, run_cases  # noqa: E402

CASES = [
    SchemaCase("t/0", "t", "integer", {"type": "integer", "minimum": 2},
               (Instance("ok", 3, True), Instance("low", 1, False), Instance("string", "x", False))),
    SchemaCase("t/1", "t", "object", {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
               (Instance("ok", {"a": "x"}, True), Instance("missing", {}, False))),
    SchemaCase("u/0", "u", "enum", {"enum": ["a", 1, None]}, (Instance("ok", None, True), Instance("no", 2, False))),
]


class CrashingEngine(SyncodeEngine):
    """syncode, except that a schema with title "crash" kills the process and "hang" hangs
    in a way no signal interrupts."""

    name = "crashing"

    def compile(self, schema):
        if isinstance(schema, dict) and schema.get("title") == "crash":
            os.abort()
        if isinstance(schema, dict) and schema.get("title") == "hang":
            import signal

            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
        return super().compile(schema)


def test_worker_isolation_records_crash_and_timeout_and_keeps_going():
    cases = [SchemaCase("x/crash", "x", "", {"title": "crash"}, (Instance("i", 1, True),)),
             SchemaCase("x/hang", "x", "", {"title": "hang"}, (Instance("i", 1, True),)), CASES[0]]
    results: list[CaseResult] = []
    config = WorkerConfig(f"{__name__}:CrashingEngine", "bytes", case_timeout=1.0)
    import jsonschemabench.workers as workers

    grace = workers.GRACE
    workers.GRACE = 2.0
    try:
        run_cases(cases, config, workers=1, on_result=results.append)
    finally:
        workers.GRACE = grace
    outcomes = {r.case_id: r for r in results}
    assert outcomes["x/crash"].outcome == CRASH and "SIGABRT" in outcomes["x/crash"].message
    assert outcomes["x/hang"].outcome == TIMEOUT and "hard limit" in outcomes["x/hang"].message
    assert outcomes["t/0"].outcome == PASS


def _results():
    return [CaseResult("Glaiveai2K/a", "Glaiveai2K", "", PASS, ttfm=0.5, mask_seconds=[1e-6, 2e-6, 3e-6]),
            CaseResult("Glaiveai2K/b", "Glaiveai2K", "", UNSUPPORTED, "no such keyword"),
            CaseResult("Snowplow/c", "Snowplow", "", INVALIDATION, "invalid accepted: x", ttfm=1.0,
                       mask_seconds=[10e-6]),
            CaseResult("Glaiveai2K/a", "Glaiveai2K", "", PASS, ttfm=0.001, mask_seconds=[5e-6], engine="peer"),
            CaseResult("Snowplow/c", "Snowplow", "", TIMEOUT, "killed", engine="peer")]


def test_report_renders_a_synthetic_run_file(tmp_path):
    path = tmp_path / "run.jsonl"
    run = runlog.RunFile(path, {"mode": "masks", "tokenizer": "bytes", "engines": ["syncode", "peer"]})
    for r in _results():
        run.add({"mode": "masks", **r.record()})
    run.close()
    text = cli.render([path], plots=tmp_path / "plots")
    assert "| subset | syncode pass |" in text and "peer pass" in text
    overall = next(line for line in text.splitlines() if line.startswith("| **overall** | 1/3"))
    cells = [c.strip() for c in overall.strip("|").split("|")]
    # syncode block: pass, u/i/t/c, val, inval, TTFM p50/p99, TBM p50/p99/max; then peer's
    assert cells[1:7] == ["1/3", "1/0/0/0", "0", "1", "500 / 1000", "2.0 / 10.0 / 10.0"]
    assert cells[7:11] == ["1/2", "0/0/1/0", "0", "0"]
    assert "`Snowplow/c`" in text and "invalid accepted: x" in text
    if importlib.util.find_spec("matplotlib") is None:
        assert "plots skipped" in text
    else:
        plots = tmp_path / "plots"
        assert (plots / "masks-bytes-syncode-peer-tbm.png").is_file()
        assert (plots / "masks-bytes-syncode-peer-coverage.png").is_file()


def test_report_puts_engines_of_separate_run_files_side_by_side(tmp_path):
    """A slow peer run apart (on a sample, say) still lands in the same table."""
    paths = []
    for engine in ("syncode", "peer"):
        path = tmp_path / f"{engine}.jsonl"
        run = runlog.RunFile(path, {"mode": "masks", "tokenizer": "bytes", "engines": [engine]})
        for r in _results():
            if r.engine == engine:
                run.add({"mode": "masks", **r.record()})
        run.close()
        paths.append(path)
    text = cli.render(paths)
    assert text.count("# MaskBench") == 1 and "| subset | syncode pass |" in text and "peer pass" in text
    assert "syncode.jsonl" in text and "peer.jsonl" in text


def test_report_percentiles_and_records_round_trip():
    r = _results()[0]
    back = CaseResult.from_record(json.loads(json.dumps(r.record())))
    assert back == r
    assert report.percentile([5, 1, 3, 2, 4], 50) == 3 and report.percentile([5, 1, 3, 2, 4], 99) == 5


def test_resume_skips_recorded_cases_and_drops_a_cut_off_line(tmp_path):
    path = tmp_path / "run.jsonl"
    header = {"mode": "testsuite", "tokenizer": "bytes", "engines": ["syncode"]}
    run = runlog.RunFile(path, header)
    run.add({"mode": "testsuite", **_results()[0].record()})
    run.close()
    with path.open("a") as f:
        f.write('{"mode": "testsuite", "case_id": "cut')  # an interrupted write
    with pytest.raises(runlog.RunFileError, match="--resume"):
        runlog.RunFile(path, header)
    with pytest.raises(runlog.RunFileError, match="tokenizer"):
        runlog.RunFile(path, {**header, "tokenizer": "llama3"}, resume=True)
    resumed = runlog.RunFile(path, header, resume=True)
    assert resumed.done == {("syncode", "Glaiveai2K/a")}
    resumed.add({"mode": "testsuite", **_results()[1].record()})
    resumed.close()
    headers, records = runlog.read(path)
    assert len(headers) == 2 and [r["case_id"] for r in records] == ["Glaiveai2K/a", "Glaiveai2K/b"]


def test_cli_run_then_resume_runs_only_what_is_missing(tmp_path, monkeypatch, capsys):
    suite = SHARED / "json-schema-test-suite"
    if not suite.is_dir():
        pytest.skip(f"{suite} is absent: the shared data folder ../shared is needed beside the repo")
    out = tmp_path / "run.jsonl"
    args = ["testsuite", "--category", "enum", "--out", str(out), "--quiet", "--data", str(SHARED)]
    assert cli.main(args) == 0
    _, first = runlog.read(out)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-3]) + "\n")  # as if interrupted before the last three cases
    assert cli.main(args + ["--resume"]) == 0
    _, records = runlog.read(out)
    assert sorted(r["case_id"] for r in records) == sorted(r["case_id"] for r in first)
    assert "enum | 15 | 15 |" in capsys.readouterr().out


@pytest.mark.parametrize("name", [n for n in ENGINES if n != "syncode"])
def test_peer_adapter_judges_instances(name):
    reason = missing(name)
    if reason is not None:
        pytest.skip(reason)
    engine = make_engine(name, byte_tokenizer())
    result = run_case(CASES[2], engine, timeout=60)
    assert result.outcome == PASS, result.message
    result = run_case(CASES[1], engine, timeout=60)
    assert result.outcome == PASS, result.message
    # Whatever the peer supports, the verdict is one of the outcomes and masks were checked.
    assert run_case(CASES[0], engine, timeout=60, time_masks=True).outcome in (PASS, UNSUPPORTED, INVALIDATION)


def test_peer_adapter_with_a_real_tokenizer():
    reason = missing("xgrammar")
    if reason is not None:
        pytest.skip(reason)
    path = SHARED / "tokenizers" / "smollm2"
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the shared data folder ../shared is needed beside the repo")
    from jsonschemabench.engine import hf_tokenizer

    engine = make_engine("xgrammar", hf_tokenizer(path))
    result = run_case(CASES[1], engine, timeout=60, time_masks=True)
    assert result.outcome == PASS and result.mask_seconds and result.ttfm is not None


def test_an_exception_raised_by_the_expired_alarm_is_a_timeout():
    """Compiled code turns the alarm's Timeout into another exception (Numba: SystemError);
    once the limit has expired, that is still a timeout, and other errors stay what they are."""
    import time

    from jsonschemabench.engine import Timeout, time_limit

    with pytest.raises(Timeout) as caught:
        with time_limit(0.05):
            try:
                time.sleep(1)
            except Timeout:
                raise SystemError("returned a result with an exception set")
    assert isinstance(caught.value.__cause__, SystemError)
    with pytest.raises(ValueError):
        with time_limit(5):
            raise ValueError("not a timeout")


def test_a_grammar_over_syncode_size_limits_is_unsupported_not_a_crash(monkeypatch):
    import syncode

    def too_big(grammar, info):
        raise syncode.GrammarError("grammar <json schema>: lexer contexts exceed 200000 DFA states")

    monkeypatch.setattr(syncode, "compile_grammar", too_big)
    result = run_case(CASES[0], SyncodeEngine(byte_tokenizer()), timeout=None)
    assert result.outcome == UNSUPPORTED and "lexer contexts exceed" in result.message


UNSATISFIABLE = {"type": "object", "required": ["a", "b"],
                 "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}  # both branches always hold


def test_generate_records_an_empty_language_and_an_error_then_goes_on(monkeypatch):
    from conftest import tiny_model

    from jsonschemabench.generate import EMPTY, Generator, generate_report

    model, tok, _ = tiny_model()
    generator = Generator(model, tok, constrained=True, max_new_tokens=16, time_limit=30)
    examples = [(json.dumps({"type": "boolean"}), "true")] * 2
    empty = generator.run(UNSATISFIABLE, examples)
    assert empty["compiled"] is False and empty["compile_error"].startswith(EMPTY)
    assert empty["stop"] == "no grammar" and not empty["valid"]

    finite = generator.run({"enum": ["yes", "no"]}, examples)  # a finite language ends in EOS
    assert finite["compiled"] and finite["stop"] == "eos" and finite["valid"], finite
    assert json.loads(finite["text"]) in ("yes", "no") and finite["gct"] <= finite["ttft"]

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(model, "generate", broken)
    failed = generator.run({"type": "integer"}, examples)
    assert failed["compiled"] and failed["stop"] == "error" and "out of memory" in failed["why"]

    records = [{"engine": "syncode", "category": "t", **r} for r in (empty, finite, failed)]
    text = generate_report(records, "tiny")
    assert "| 3 | 0.67 | 0.33 | 0.50 |" in text.replace("**overall**", "t"), text
    assert "no grammar 1" in text and "eos 1" in text and "error 1" in text


def test_report_merges_generation_runs_of_one_model_side_by_side(tmp_path):
    """Constrained and free runs, one of them split over two files (two processes), land in
    one table."""
    def record(engine, case, valid, compiled):
        return {"mode": "generate", "engine": engine, "case_id": f"S/{case}", "category": "S", "compiled": compiled,
                "compile_error": "", "gct": 0.01 if compiled is not None else None, "text": "{}",
                "output_tokens": 2, "ttft": 0.5, "tpot": 0.1, "stop": "eos", "parses": True, "valid": valid,
                "why": ""}

    files = {"free.jsonl": [("unconstrained", "a", False, None), ("unconstrained", "b", False, None)],
             "c1.jsonl": [("syncode", "a", True, True)], "c2.jsonl": [("syncode", "b", False, True)]}
    paths = []
    for name, rows in files.items():
        run = runlog.RunFile(tmp_path / name, {"mode": "generate", "model": "m", "split": "test",
                                               "engines": [rows[0][0]], "versions": {"syncode": "0"}})
        for row in rows:
            run.add(record(*row))
        run.close()
        paths.append(tmp_path / name)
    text = cli.render(paths)
    assert text.count("# Generation") == 1 and "versions: syncode 0" in text
    overall = next(line for line in text.splitlines() if line.startswith("| **overall**"))
    cells = [c.strip() for c in overall.strip("|").split("|")]
    assert cells[1:5] == ["2", "-", "0.00", "-"] and cells[8:12] == ["2", "1.00", "0.50", "0.50"]
