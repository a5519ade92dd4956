"""Loading the shared benchmark data: the JSON-Schema-Test-Suite and JSONSchemaBench.

Owns where the data lives (`--data DIR`, default `<repo>/../shared`) and its file formats:
the test suite's `tests/<draft>/<category>.json` (a list of cases, each a schema with
instances labelled valid or invalid) and JSONSchemaBench's `<Subset>/tests.jsonl` (one line
per schema with its MaskBench instances).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared"
TEST_SUITE = "json-schema-test-suite"
BENCH = "jsonschemabench-data"
DRAFT_FOLDERS = {"2020-12": "draft2020-12", "7": "draft7"}
DRAFT_URIS = {"2020-12": "https://json-schema.org/draft/2020-12/schema", "7": "http://json-schema.org/draft-07/schema#"}
BENCH_SUBSETS = ("Glaiveai2K", "Github_trivial", "Github_easy", "Snowplow", "Github_medium", "Kubernetes",
                 "WashingtonPost", "Github_hard", "JsonSchemaStore", "Github_ultra")


class DataError(FileNotFoundError):
    """The shared data folder (or a part of it) is missing."""


@dataclass(frozen=True)
class Instance:
    """One labelled instance: its JSON value and whether the schema accepts it."""

    description: str
    data: Any
    valid: bool


@dataclass(frozen=True)
class SchemaCase:
    """A schema with labelled instances. `case_id` is `category/index` (test suite) or
    `Subset/id` (JSONSchemaBench)."""

    case_id: str
    category: str
    description: str
    schema: Any
    instances: tuple[Instance, ...]


def _require(path: Path) -> Path:
    if not path.exists():
        raise DataError(f"{path} is absent: pass --data DIR pointing at the shared data folder")
    return path


def suite_dir(data: Path = DEFAULT_DATA, draft: str = "2020-12") -> Path:
    """The test suite's folder of test files for a draft ("2020-12" or "7")."""
    return _require(Path(data) / TEST_SUITE / "tests" / DRAFT_FOLDERS[draft])


def suite_files(data: Path = DEFAULT_DATA, draft: str = "2020-12", optional: bool = False) -> list[Path]:
    """The test files, top level first, then (with `optional`) those under `optional/`."""
    folder = suite_dir(data, draft)
    files = sorted(folder.glob("*.json"))
    if optional:
        files += sorted((folder / "optional").rglob("*.json"))
    return files


def category_of(path: Path, folder: Path) -> str:
    """`additionalProperties`, or `optional/format/email` for nested files."""
    return path.relative_to(folder).with_suffix("").as_posix()


def with_draft(schema: Any, draft: str) -> Any:
    """The schema with `$schema` set to the draft its folder stands for, unless it names one.
    The suite leaves it out; the compiler reads the draft from `$schema`."""
    if isinstance(schema, dict) and "$schema" not in schema:
        return {"$schema": DRAFT_URIS[draft], **schema}
    return schema


def suite_cases(data: Path = DEFAULT_DATA, draft: str = "2020-12", optional: bool = False) -> list[SchemaCase]:
    """Every test case of the suite for a draft, with ids `category/index`."""
    folder = suite_dir(data, draft)
    cases = []
    for path in suite_files(data, draft, optional):
        category = category_of(path, folder)
        for index, case in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            instances = tuple(Instance(t["description"], t["data"], bool(t["valid"])) for t in case["tests"])
            cases.append(SchemaCase(f"{category}/{index}", category, case["description"],
                                    with_draft(case["schema"], draft), instances))
    return cases


def bench_subsets(data: Path = DEFAULT_DATA) -> list[str]:
    """The JSONSchemaBench subsets present, in the README's order."""
    root = _require(Path(data) / BENCH)
    return [s for s in BENCH_SUBSETS if (root / s / "tests.jsonl").is_file()]


def bench_cases(subset: str, data: Path = DEFAULT_DATA, limit: int | None = None,
                split: str | None = None) -> Iterator[SchemaCase]:
    """The schemas of a JSONSchemaBench subset that have instances, in file order: at most
    `limit` of them, and only those of `split` ("train", "val", "test") when given.

    Schemas come from `schemas.jsonl`, instances from `tests.jsonl`, joined on `id`."""
    root = _require(Path(data) / BENCH / subset)
    schemas: dict[str, tuple[Any, str | None]] = {}
    with _require(root / "schemas.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            schemas[row["id"]] = (row["schema"], row.get("split"))
    count = 0
    with _require(root / "tests.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if limit is not None and count >= limit:
                return
            row = json.loads(line)
            schema, row_split = schemas[row["id"]]
            if split is not None and row_split != split:
                continue
            count += 1
            instances = tuple(Instance(t.get("description", ""), t["data"], bool(t["valid"])) for t in row["tests"])
            yield SchemaCase(f"{subset}/{row['id']}", subset, row["id"], schema, instances)


def split_schemas(subset: str, data: Path = DEFAULT_DATA, split: str | None = "test",
                  limit: int | None = None) -> list[tuple[str, Any]]:
    """(id, schema) of every schema of a JSONSchemaBench subset in `split` (all when None),
    with or without instances, in file order, at most `limit`."""
    root = _require(Path(data) / BENCH / subset)
    out = []
    with _require(root / "schemas.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if split is None or row.get("split") == split:
                out.append((row["id"], row["schema"]))
                if limit is not None and len(out) >= limit:
                    break
    return out
