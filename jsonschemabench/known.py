"""The known-failures file of the test-suite test (`tests/json_schema_test_suite_known.json`).

Owns its format and how it is regenerated. The file maps a case id (`category/index`) to
`{"outcome", "verdict", "reason"}`: the outcome the case is expected to fail with, a verdict
(`limitation`: cannot or need not be expressed exactly; `by-design`: a deliberate choice
that the suite disagrees with; `gap`: a keyword syncode is meant to support; `bug`;
`unreviewed`: added by `--update-known` and not yet judged), and a reason. Crashes and
invalidation errors are never known failures: they must fail the test.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .testsuite import CRASH, INVALIDATION, PASS, CaseResult, short

NEVER_KNOWN = (CRASH, INVALIDATION)
VERDICTS = ("limitation", "by-design", "gap", "bug", "unreviewed")
REASON_LIMIT = 200


@dataclass(frozen=True)
class KnownFailure:
    outcome: str
    verdict: str
    reason: str


def load(path: Path) -> dict[str, KnownFailure]:
    """The known failures by case id (an absent file: none)."""
    if not Path(path).is_file():
        return {}
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {case_id: KnownFailure(**entry) for case_id, entry in raw.items()}


def save(known: dict[str, KnownFailure], path: Path) -> None:
    Path(path).write_text(json.dumps({k: asdict(v) for k, v in known.items()}, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")


def reason_of(result: CaseResult) -> str:
    """A short reason from a result: the keyword and pointer when unsupported, else the message."""
    if result.keyword:
        detail = result.message.split(": ", 1)[-1]
        return short(f"{result.keyword} at {result.pointer}: {detail}", REASON_LIMIT)
    return short(result.message, REASON_LIMIT)


def updated(known: dict[str, KnownFailure], results: list[CaseResult]) -> tuple[dict[str, KnownFailure], list[str]]:
    """Known failures from fresh results: every failing case except crashes and invalidation
    errors. An entry for a case that still fails with the same outcome is kept as it is
    (verdict and reason); other failing cases get a reason from the result and the verdict
    `unreviewed`. Also returns the ids left out because they must fail."""
    out: dict[str, KnownFailure] = {}
    must_fail = []
    for r in results:
        if r.outcome == PASS:
            continue
        if r.outcome in NEVER_KNOWN:
            must_fail.append(r.case_id)
            continue
        old = known.get(r.case_id)
        out[r.case_id] = old if old is not None and old.outcome == r.outcome else \
            KnownFailure(r.outcome, "unreviewed", reason_of(r))
    return out, must_fail
