"""The run file: a JSONL of every per-schema record, so a run can be re-scored and resumed.

Owns its format. Each invocation appends a header line `{"run": {...}}` (mode, tokenizer,
engines, versions, the command line, the start time), then one line per record as it
arrives: `{"mode": ..., "engine": ..., "case_id": ..., ...}` (`CaseResult.record()` for the
testsuite and masks modes, a generation record for `generate`). `--resume` skips the
(engine, case id) pairs already recorded; a line cut off by an interrupted write is dropped
first. A resumed run must have the same mode and tokenizer as the file's first header.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator


class RunFileError(ValueError):
    """The run file cannot be resumed or read (another mode or tokenizer, a broken line)."""


def read(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(headers, records) of a run file; a cut-off last line is ignored."""
    headers, records = [], []
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # the last line, with no newline: an interrupted write
                continue
            raise RunFileError(f"{path}:{number}: not JSON: {exc}") from exc
        (headers if "run" in row else records).append(row.get("run", row))
    return headers, records


def done_keys(records: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """The (engine, case id) pairs recorded."""
    return {(r["engine"], r["case_id"]) for r in records}


class RunFile:
    """An open run file for appending; `done` holds what a resumed file already has."""

    def __init__(self, path: Path, header: dict[str, Any], resume: bool = False) -> None:
        self.path = Path(path)
        self.done: set[tuple[str, str]] = set()
        if resume and self.path.is_file():
            headers, records = read(self.path)
            if headers:
                first = headers[0]
                for key in ("mode", "tokenizer"):
                    if first.get(key) != header.get(key):
                        raise RunFileError(f"{path} was a run with {key} {first.get(key)!r}, not "
                                           f"{header.get(key)!r}: resume with the same {key}")
            self.done = done_keys(records)
            _drop_partial_line(self.path)
        elif self.path.exists() and not resume:
            raise RunFileError(f"{path} exists: pass --resume to continue it, or remove it")
        self.file = self.path.open("a", encoding="utf-8")
        self._write({"run": {**header, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "argv": sys.argv[1:]}})

    def _write(self, row: dict[str, Any]) -> None:
        self.file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.file.flush()

    def add(self, record: dict[str, Any]) -> None:
        self._write(record)
        self.done.add((record["engine"], record["case_id"]))

    def close(self) -> None:
        self.file.close()


def _drop_partial_line(path: Path) -> None:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def records_of(paths: Iterable[Path]) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(first header, records) for each run file; a later record for the same (engine, case
    id) replaces an earlier one."""
    for path in paths:
        headers, records = read(path)
        if not headers:
            raise RunFileError(f"{path} has no run header: not a jsonschemabench run file")
        latest = {(r["engine"], r["case_id"]): r for r in records}
        yield headers[0], list(latest.values())
