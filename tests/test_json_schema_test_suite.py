"""The JSON-Schema-Test-Suite (draft 2020-12, every top-level file) through the engine.

One test per case (`category/index`): the schema compiles, instances labelled valid are
accepted token by token (byte tokenizer) with EOS allowed at the end, the invalid ones are
not, and every mask agrees with accept_token. The runner is `jsonschemabench.testsuite`.
Known failures live in `json_schema_test_suite_known.json` (regenerate it with
`python -m jsonschemabench testsuite --update-known tests/json_schema_test_suite_known.json`)
and are strict xfails that expect exactly their recorded outcome; crashes and invalidation
errors are never known failures.
"""
from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path

import pytest

from conftest import REPO, SHARED

sys.path.insert(0, str(REPO))  # jsonschemabench lives at the repository root

from jsonschemabench import engine as engine_module, known  # noqa: E402
from jsonschemabench.data import TEST_SUITE, Instance, SchemaCase, suite_cases  # noqa: E402
from jsonschemabench.engine import SyncodeEngine, byte_tokenizer, warm_up  # noqa: E402
from jsonschemabench.testsuite import OUTCOMES, PASS, run_case  # noqa: E402

if not (SHARED / TEST_SUITE).is_dir():
    pytest.skip(f"{SHARED / TEST_SUITE} is absent: the shared data folder ../shared is needed beside the repo",
                allow_module_level=True)

KNOWN_FILE = Path(__file__).with_name("json_schema_test_suite_known.json")
KNOWN = known.load(KNOWN_FILE)
CASES = {case.case_id: case for case in suite_cases(SHARED, "2020-12")}
TIMEOUT = 20.0  # seconds per case; every case that compiles at all takes under 5 s


class CaseFailed(AssertionError):
    """A case did not pass; the subclass says how, so that a known failure xfails only for
    the outcome it is known for."""


FAILURES: dict[str, type[CaseFailed]] = {
    outcome: type(f"{outcome.title().replace('-', '')}Failure", (CaseFailed,), {})
    for outcome in OUTCOMES if outcome != PASS
}


@functools.lru_cache(maxsize=None)
def engine() -> SyncodeEngine:
    """syncode with the byte tokenizer, warmed up (JIT) before the first timed case."""
    syncode_engine = SyncodeEngine(byte_tokenizer())
    warm_up(syncode_engine)
    return syncode_engine


def params() -> list:
    out = []
    for case_id in CASES:
        entry = KNOWN.get(case_id)
        marks = () if entry is None else pytest.mark.xfail(
            strict=True, raises=FAILURES[entry.outcome], reason=f"{entry.verdict}: {entry.reason}")
        out.append(pytest.param(case_id, id=case_id, marks=marks))
    return out


def check(case: SchemaCase) -> None:
    result = run_case(case, engine(), timeout=TIMEOUT)
    if result.outcome != PASS:
        raise FAILURES[result.outcome](f"{result.outcome}: {result.message}")


@pytest.mark.parametrize("case_id", params())
def test_case(case_id):
    check(CASES[case_id])


def test_known_failures_are_well_formed():
    for case_id, entry in KNOWN.items():
        assert case_id in CASES, f"{case_id} is not a case of the suite"
        assert entry.outcome in FAILURES, f"{case_id}: unknown outcome {entry.outcome!r}"
        assert entry.outcome not in known.NEVER_KNOWN, f"{case_id}: a {entry.outcome} must fail, not be known"
        assert entry.verdict in known.VERDICTS, f"{case_id}: unknown verdict {entry.verdict!r}"


@pytest.mark.parametrize("schema,instance,valid,outcome", [
    ({"type": "integer"}, 1, True, PASS),
    ({"type": "integer"}, "x", False, PASS),
    ({"type": "integer"}, 1, False, "invalidation"),  # labelled wrongly on purpose
    ({"type": "integer"}, "x", True, "validation"),
    ({"$ref": "#/$defs/missing"}, 1, True, "invalid-schema"),
    ({"$dynamicRef": "#x"}, 1, True, "unsupported"),
])
def test_runner_classifies(schema, instance, valid, outcome):
    case = SchemaCase("self/0", "self", "runner check", schema, (Instance("i", instance, valid),))
    with pytest.raises(FAILURES[outcome]) if outcome != PASS else contextlib.nullcontext():
        check(case)


def test_runner_reports_crashes(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine_module, "schema_grammar", broken)
    case = SchemaCase("self/0", "self", "runner check", {"type": "integer"}, (Instance("i", 1, True),))
    with pytest.raises(FAILURES["crash"], match="RuntimeError: boom"):
        check(case)
