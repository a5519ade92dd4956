"""The JSON-Schema-Test-Suite against the engine: running and classifying each test case.

Owns what a case's outcome is. A case (one schema, several labelled instances) passes when
its schema compiles, every instance labelled valid is accepted token by token with EOS
allowed at the end, and every instance labelled invalid is not. Otherwise, in this order:
`unsupported` (UnsupportedSchemaError, with keyword and pointer), `invalid-schema`
(InvalidSchemaError), `timeout`, `crash` (any other exception, including a mask that
disagrees with accept_token), `invalidation` (an invalid instance accepted: the serious
kind, the engine would let a wrong output through) and `validation` (a valid instance
rejected). Instances are serialised with `json.dumps`.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import syncode
from syncode.schema import InvalidSchemaError, UnsupportedSchemaError

from .data import SchemaCase
from .engine import Timeout, Tokenizer, first_mask, force, schema_grammar, time_limit, warm_up

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
    """One case's outcome. `message` says why it did not pass; `keyword`/`pointer` are set
    for unsupported keywords; `rejected_valid`/`accepted_invalid` list the instances that
    were judged wrongly (description: text). `ttfm`: seconds from the schema to the first
    mask filled (None when it did not compile); `mask_seconds`: every mask fill while
    forcing, when timed."""

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

    def as_dict(self) -> dict[str, Any]:
        """The record for JSON: mask timings summarised as their count and maximum."""
        out = asdict(self)
        times = out.pop("mask_seconds")
        if times:
            out["masks"] = len(times)
            out["max_mask_seconds"] = max(times)
        return out


def short(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def run_case(case: SchemaCase, tokenizer: Tokenizer, timeout: float | None = DEFAULT_TIMEOUT,
             compile_timeout: float | None = None, time_masks: bool = False) -> CaseResult:
    """Compile the case's schema and force every instance; classify the result.

    `timeout` limits the whole case, `compile_timeout` the compile (to the first mask);
    `time_masks` records every mask fill's duration."""
    result = CaseResult(case.case_id, case.category, case.description, PASS)
    stage = "schema to grammar"
    start = time.perf_counter()
    try:
        with time_limit(timeout):
            with time_limit(compile_timeout):
                grammar = schema_grammar(case.schema)
                stage = "compile_grammar"
                compiled = syncode.compile_grammar(grammar, tokenizer.info)
                stage = "first mask"
                first_mask(compiled)
            result.ttfm = time.perf_counter() - start
            for instance in case.instances:
                text = json.dumps(instance.data)
                stage = f"forcing {short(text)!r}"
                ids = tokenizer.encode(text)
                forced = force(compiled, ids, time_masks=time_masks)
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
    except UnsupportedSchemaError as exc:
        result.outcome, result.keyword, result.pointer = UNSUPPORTED, exc.keyword, exc.pointer
        result.message = str(exc)
    except InvalidSchemaError as exc:
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


def run_suite(cases: Iterable[SchemaCase], tokenizer: Tokenizer, timeout: float | None = DEFAULT_TIMEOUT,
              progress: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Run every case in order (after warming the engine up); `progress` is called after each."""
    warm_up(tokenizer)
    results = []
    for case in cases:
        result = run_case(case, tokenizer, timeout)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def write_json(results: list[CaseResult], path: Path) -> None:
    """The raw per-case records as a JSON list."""
    Path(path).write_text(json.dumps([r.as_dict() for r in results], indent=1) + "\n", encoding="utf-8")
