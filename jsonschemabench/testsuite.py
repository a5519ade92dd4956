"""Running and classifying one schema with labelled instances on an engine.

Owns what a case's outcome is (for the test suite and MaskBench alike) and its record. A
case (one schema, several labelled instances) passes when its schema compiles, every
instance labelled valid is accepted token by token with EOS allowed at the end, and every
instance labelled invalid is not. Otherwise, in this order: `unsupported` (the engine
declined the schema, with keyword and pointer when it tells), `invalid-schema`, `timeout`,
`crash` (any other exception, including a mask that disagrees with accept_token, or the
worker process dying), `invalidation` (an invalid instance accepted: the serious kind, the
engine would let a wrong output through) and `validation` (a valid instance rejected).
Instances are serialised with `json.dumps`.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from .data import SchemaCase
from .engine import Engine, InvalidSchema, Timeout, Unsupported, force, time_limit, warm_up

PASS = "pass"
UNSUPPORTED = "unsupported"
INVALID_SCHEMA = "invalid-schema"
TIMEOUT = "timeout"
CRASH = "crash"
VALIDATION = "validation"
INVALIDATION = "invalidation"
OUTCOMES = (PASS, UNSUPPORTED, INVALID_SCHEMA, TIMEOUT, CRASH, VALIDATION, INVALIDATION)
DEFAULT_TIMEOUT = 30.0
MAX_TEXT = 160


@dataclass
class CaseResult:
    """One case's outcome on one engine. `message` says why it did not pass;
    `keyword`/`pointer` are set for unsupported keywords when the engine tells;
    `rejected_valid`/`accepted_invalid` list the instances that were judged wrongly
    (description: text). `ttfm`: seconds from the schema to the first mask filled (None when
    it did not compile); `mask_seconds`: every mask fill while forcing, when timed."""

    case_id: str
    category: str
    description: str
    outcome: str
    message: str = ""
    keyword: str = ""
    pointer: str = ""
    seconds: float = 0.0
    rejected_valid: list[str] = field(default_factory=list)
    accepted_invalid: list[str] = field(default_factory=list)
    ttfm: float | None = None
    mask_seconds: list[float] = field(default_factory=list)
    engine: str = "syncode"

    def record(self) -> dict[str, Any]:
        """The JSONL record: every field, mask timings as `mask_us` (microseconds, 0.01 µs)."""
        out = asdict(self)
        out["mask_us"] = [round(s * 1e6, 2) for s in out.pop("mask_seconds")]
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "CaseResult":
        """Back from `record()` (keys that are not fields, such as `mode`, are ignored)."""
        names = {f for f in cls.__dataclass_fields__ if f != "mask_seconds"}
        result = cls(**{k: v for k, v in record.items() if k in names})
        result.mask_seconds = [us * 1e-6 for us in record.get("mask_us", ())]
        return result


def short(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def run_case(case: SchemaCase, engine: Engine, timeout: float | None = DEFAULT_TIMEOUT,
             compile_timeout: float | None = None, time_masks: bool = False) -> CaseResult:
    """Compile the case's schema on `engine` and force every instance; classify the result.

    `timeout` limits the whole case, `compile_timeout` the compile (to the first mask);
    `time_masks` records every mask fill's duration."""
    result = CaseResult(case.case_id, case.category, case.description, PASS, engine=engine.name)
    tokenizer = engine.tokenizer
    stage = "compile"
    start = time.perf_counter()
    try:
        with time_limit(timeout):
            with time_limit(compile_timeout):
                matcher = engine.compile(case.schema)
                stage = "first mask"
                matcher.fill_mask(np.zeros((1, engine.mask_words), dtype=np.int32))
            result.ttfm = time.perf_counter() - start
            for instance in case.instances:
                text = json.dumps(instance.data)
                stage = f"forcing {short(text)!r}"
                ids = tokenizer.encode(text)
                forced = force(matcher, ids, tokenizer.eos, engine.mask_words, time_masks=time_masks)
                result.mask_seconds += forced.mask_seconds
                if forced.accepted == instance.valid:
                    continue
                where = (f"rejected at token {forced.consumed} of {forced.n_tokens}"
                         if forced.consumed < forced.n_tokens else "EOS not allowed at the end")
                entry = f"{instance.description}: {short(text)}"
                if instance.valid:
                    result.rejected_valid.append(f"{entry} ({where})")
                else:
                    result.accepted_invalid.append(entry)
    except Unsupported as exc:
        result.outcome, result.keyword, result.pointer = UNSUPPORTED, exc.keyword, exc.pointer
        result.message = str(exc)
    except InvalidSchema as exc:
        result.outcome, result.message = INVALID_SCHEMA, str(exc)
    except Timeout as exc:
        result.outcome, result.message = TIMEOUT, f"{stage}: {exc}"
    except Exception as exc:  # anything else is an engine crash, recorded with its message
        result.outcome, result.message = CRASH, f"{stage}: {type(exc).__name__}: {exc}"
    else:
        problems = []
        if result.accepted_invalid:
            problems.append("invalid accepted: " + "; ".join(result.accepted_invalid))
        if result.rejected_valid:
            problems.append("valid rejected: " + "; ".join(result.rejected_valid))
        if problems:
            result.outcome = INVALIDATION if result.accepted_invalid else VALIDATION
            result.message = " | ".join(problems)
    result.seconds = time.perf_counter() - start
    return result


def run_suite(cases: Iterable[SchemaCase], engine: Engine, timeout: float | None = DEFAULT_TIMEOUT,
              progress: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Run every case in order in this process (after warming the engine up); `progress` is
    called after each. The CLI runs cases in worker processes instead (`workers`)."""
    warm_up(engine)
    results = []
    for case in cases:
        result = run_case(case, engine, timeout)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
