"""Constrained vs unconstrained generation with the embedded default model on JSONSchemaBench.

For the first N `test` schemas of a subset (default Glaiveai2K, N=100): greedy decoding,
`max_new_tokens` 512, the same chat prompt with and without syncode: the prompt
`syncode.generate` builds (the schema's outline) for the task line "Produce the arguments of
a call to the function NAME." (Glaive schemas are function parameters; NAME is the schema's
id without its hash). Prints how many outputs finished, parse as JSON, and validate
(jsonschema with format checking), and the decoding overhead of the logits processor (time
per token with the processor vs without, the same number of tokens forced, one thread).

    python benchmarks/bench_generate.py [--subset Glaiveai2K] [--limit 100] [--out docs/generate-results.md]
        [--records FILE]   # one JSON line per schema, outputs included; a re-run resumes from it
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import torch

from syncode.default_model import load_default_model
from syncode.generation import _build_prompt, _prepare
from syncode.hf import GrammarLogitsProcessor
from syncode.schema import EmptySchemaWarning

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "jsonschemabench-data"


def task_prompt(schema_id: str) -> str:
    """The task line: Glaive schemas are the parameters of a function, named in the id."""
    return f"Produce the arguments of a call to the function {re.sub(r'_[0-9a-f]{8}$', '', schema_id)}."


def test_schemas(subset: str, limit: int) -> list[tuple[str, dict]]:
    path = DATA / subset / "schemas.jsonl"
    if not path.is_file():
        sys.exit(f"{path} is absent: the shared data folder ../shared is needed beside the repo")
    rows = [json.loads(line) for line in path.open()]
    return [(r["id"], r["schema"]) for r in rows if r.get("split") == "test"][:limit]


def is_valid(schema: dict, text: str) -> tuple[bool, bool]:
    """(parses as JSON, valid for the schema)."""
    body = re.sub(r"^```(?:json)?\s*|\s*```\s*$", "", text.strip())
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        return False, False
    return True, validates(schema, value)


def validates(schema: dict, value) -> bool:
    """jsonschema with format checking (a schema it cannot check counts as failed)."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        return cls(schema, format_checker=cls.FORMAT_CHECKER).is_valid(value)
    except Exception:
        return False


def first_value_valid(schema: dict, text: str) -> bool:
    """Whether the first JSON value in `text` (from its first `{` or `[`) is valid for the schema:
    a lenient reading of an output that adds prose or repeats the value after it."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return False
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError:
        return False
    return validates(schema, value)


def timed_generate(model, ids, processor, n_tokens: int | None, max_new_tokens: int):
    options = {"min_new_tokens": n_tokens, "max_new_tokens": n_tokens} if n_tokens else {"max_new_tokens": max_new_tokens}
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, temperature=None, top_p=None,
                             top_k=None, logits_processor=[processor] if processor else None, **options)
    return out[0, ids.shape[1]:].tolist(), time.perf_counter() - start


def run_schema(model, tok, sid: str, schema: dict, max_new_tokens: int, overhead_repeats: int) -> dict:
    """One schema, both modes: what each produced and whether it finished, parses and validates."""
    record = {"id": sid}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", EmptySchemaWarning)  # no value satisfies it: nothing to generate
            job = _prepare(model, tok, schema, None, {})
    except Exception as exc:  # unsupported (or unsatisfiable) schema: counted as a constrained error
        record["compile_error"] = f"{type(exc).__name__}: {exc}"
        job = None
    # The prompt syncode.generate builds (a stand-in job where the schema did not compile).
    prompt = _build_prompt(job or SimpleNamespace(schema=schema, tokenizer=tok), task_prompt(sid), chat=True,
                           include_schema=True)
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    eos = model.generation_config.eos_token_id
    eos_ids = eos if isinstance(eos, list) else [eos]
    free, free_s = timed_generate(model, ids, None, None, max_new_tokens)
    free_ids = [t for t in free if t not in eos_ids]
    text = tok.decode(free_ids, skip_special_tokens=True)
    record["unconstrained"] = {"finished": len(free_ids) < len(free), **_checked(schema, text), "tokens": len(free),
                               "seconds": free_s}
    if job is None:
        return record
    processor = GrammarLogitsProcessor(job.compiled, eos_token_ids=eos)
    out, out_s = timed_generate(model, ids, processor, None, max_new_tokens)
    processor.update(torch.tensor([ids[0].tolist() + out]))
    n = processor.matchers[0].num_accepted_tokens - processor.matchers[0].is_terminated()
    text = job.info.decode(out[:n]).decode("utf-8", errors="replace")
    record["constrained"] = {"finished": processor.is_complete(0), **_checked(schema, text), "tokens": len(out),
                             "seconds": out_s}
    if overhead_repeats and len(out) > 8:
        # The same number of tokens without the processor: per-token time, both ways, taken in
        # turn `overhead_repeats` times, the fastest of each kept (the least disturbed by load).
        with_s, base_s = [], []
        for _ in range(overhead_repeats):
            base_s.append(timed_generate(model, ids, None, len(out), max_new_tokens)[1])
            with_s.append(timed_generate(model, ids, GrammarLogitsProcessor(job.compiled, eos_token_ids=eos), None,
                                         max_new_tokens)[1])
        record["overhead"] = {"with_s_per_token": min(with_s) / len(out), "without_s_per_token": min(base_s) / len(out),
                              "repeats": overhead_repeats}
    return record


def _checked(schema: dict, text: str) -> dict:
    parsed, valid = is_valid(schema, text)
    return {"parses": parsed, "valid": valid, "first_valid": first_value_valid(schema, text), "text": text}


def write_report(args, records: list[dict], total: int, echo: bool = False) -> None:
    """The results table (rewritten after every schema, so a cut-off run still reports)."""
    lines = [f"# Generation with the embedded default model: {args.subset}, first {total} test schemas",
             "", f"Greedy, max_new_tokens={args.max_new_tokens}, one thread. Prompt: the chat template around "
             "the task line \"Produce the arguments of a call to the function NAME.\" (NAME from the schema's id) "
             "and the schema's outline (`syncode/schema_prompt.py`), the same in both modes.",
             f"Schemas done: {len(records)} of {total}.", "",
             "| mode | finished | parses as JSON | valid for the schema | first JSON value in it valid "
             "| compile errors |",
             "|---|---|---|---|---|---|"]
    for mode in ("constrained", "unconstrained"):
        runs = [r[mode] for r in records if mode in r]
        errors = sum("compile_error" in r for r in records) if mode == "constrained" else 0
        lines.append(f"| {mode} | {sum(r['finished'] for r in runs)} | {sum(r['parses'] for r in runs)} | "
                     f"{sum(r['valid'] for r in runs)} | {sum(r['first_valid'] for r in runs)} | {errors} |")
    unsound = [r["id"] for r in records if r.get("constrained", {}).get("finished") and not r["constrained"]["valid"]]
    listed = f" ({', '.join(unsound)})" if unsound else ""
    lines += ["", f"Finished constrained outputs that fail the schema: {len(unsound)}{listed}."]
    overhead = [r["overhead"] for r in records if "overhead" in r]
    if overhead:
        with_t = statistics.median(o["with_s_per_token"] for o in overhead)
        base_t = statistics.median(o["without_s_per_token"] for o in overhead)
        lines += ["", f"Per-token time over {len(overhead)} prompts (median of each prompt's fastest of "
                  f"{overhead[0].get('repeats', 1)} runs): with the processor {with_t * 1e3:.1f} ms "
                  f"({1 / with_t:.1f} tokens/s), without {base_t * 1e3:.1f} ms ({1 / base_t:.1f} tokens/s): "
                  f"overhead {100 * (with_t / base_t - 1):+.1f}%."]
    report = "\n".join(lines) + "\n"
    if echo:
        print(report)
    if args.out:
        args.out.write_text(report)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", default="Glaiveai2K")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--overhead-prompts", type=int, default=10)
    parser.add_argument("--overhead-repeats", type=int, default=3, help="timings of each kind per prompt, fastest kept")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--records", type=Path, help="JSON lines, one per schema (outputs included), appended as "
                        "each schema is done; schemas already in it are not run again (resume)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tok = load_default_model()
    schemas = test_schemas(args.subset, args.limit)
    records = [json.loads(line) for line in args.records.open()] if args.records and args.records.is_file() else []
    by_id = dict(schemas)
    for record in records:  # re-checked: the checks may be newer than the records
        for mode in ("constrained", "unconstrained"):
            if mode in record:
                record[mode].update(_checked(by_id[record["id"]], record[mode]["text"]))
    done = {r["id"] for r in records}
    for k, (sid, schema) in enumerate(schemas):
        if sid in done:
            continue
        repeats = args.overhead_repeats if k < args.overhead_prompts else 0
        record = run_schema(model, tok, sid, schema, args.max_new_tokens, repeats)
        records.append(record)
        if args.records:
            with args.records.open("a") as f:
                f.write(json.dumps(record) + "\n")
        write_report(args, records, len(schemas))
        summary = {m: (r["finished"], r["parses"], r["valid"], r["tokens"]) for m in ("constrained", "unconstrained")
                   if (r := record.get(m))}
        print(f"[{len(records)}/{len(schemas)}] {sid} {summary} {record.get('compile_error', '')}", file=sys.stderr,
              flush=True)
    write_report(args, records, len(schemas), echo=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
