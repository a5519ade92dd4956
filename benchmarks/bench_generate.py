"""Constrained vs unconstrained generation with the embedded default model on JSONSchemaBench.

For the first N `test` schemas of a subset (default Glaiveai2K, N=100): greedy decoding,
`max_new_tokens` 512, the same chat prompt (the schema included) with and without syncode.
Prints how many outputs finished, parse as JSON, and validate (jsonschema with format
checking), and the decoding overhead of the logits processor (time per token with the
processor vs without, the same number of tokens forced, one thread).

    python benchmarks/bench_generate.py [--subset Glaiveai2K] [--limit 100] [--out docs/generate-results.md]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import jsonschema
import torch

from syncode.default_model import load_default_model
from syncode.generation import _build_prompt, _prepare
from syncode.hf import GrammarLogitsProcessor

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "jsonschemabench-data"
PROMPT = "Generate a JSON value for the following task."


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
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        return True, cls(schema, format_checker=cls.FORMAT_CHECKER).is_valid(value)
    except Exception:
        return True, False


def timed_generate(model, ids, processor, n_tokens: int | None, max_new_tokens: int):
    options = {"min_new_tokens": n_tokens, "max_new_tokens": n_tokens} if n_tokens else {"max_new_tokens": max_new_tokens}
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, temperature=None, top_p=None,
                             top_k=None, logits_processor=[processor] if processor else None, **options)
    return out[0, ids.shape[1]:].tolist(), time.perf_counter() - start


def write_report(args, counts: dict, overhead: list, done: int, total: int, echo: bool = False) -> None:
    """The results table (rewritten after every schema, so a cut-off run still reports)."""
    lines = [f"# Generation with the embedded default model: {args.subset}, first {total} test schemas",
             "", f"Greedy, max_new_tokens={args.max_new_tokens}, one thread, prompt: chat template with the schema.",
             f"Schemas done: {done} of {total}.", "",
             "| mode | finished | parses as JSON | valid for the schema | compile errors |", "|---|---|---|---|---|"]
    for mode, (fin, js, ok, err) in counts.items():
        lines.append(f"| {mode} | {fin} | {js} | {ok} | {err} |")
    if overhead:
        with_t = statistics.median(w for w, _ in overhead)
        base_t = statistics.median(b for _, b in overhead)
        lines += ["", f"Per-token time over {len(overhead)} prompts (median): with the processor {with_t * 1e3:.1f} ms, "
                  f"without {base_t * 1e3:.1f} ms: overhead {100 * (with_t / base_t - 1):+.1f}%."]
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
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tok = load_default_model()
    schemas = test_schemas(args.subset, args.limit)
    counts = {"constrained": [0, 0, 0, 0], "unconstrained": [0, 0, 0, 0]}  # finished, json, valid, errors
    overhead: list[tuple[float, float]] = []
    for k, (sid, schema) in enumerate(schemas):
        try:
            job = _prepare(model, tok, schema, None, {})
        except Exception as exc:  # unsupported schema: counted as a constrained error
            counts["constrained"][3] += 1
            print(f"{sid}: compile error {type(exc).__name__}: {exc}", file=sys.stderr)
            job = None
        if job is not None:
            prompt = _build_prompt(job, PROMPT, chat=True, include_schema=True)
        else:
            prompt = tok.apply_chat_template([{"role": "user", "content": f"{PROMPT}\n\n{json.dumps(schema)}"}],
                                             tokenize=False, add_generation_prompt=True)
        ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        eos = model.generation_config.eos_token_id
        free, free_s = timed_generate(model, ids, None, None, args.max_new_tokens)
        free_ids = [t for t in free if t not in (eos if isinstance(eos, list) else [eos])]
        free_text = tok.decode(free_ids, skip_special_tokens=True)
        parsed, valid = is_valid(schema, free_text)
        counts["unconstrained"][0] += len(free_ids) < len(free)
        counts["unconstrained"][1] += parsed
        counts["unconstrained"][2] += valid
        if job is not None:
            processor = GrammarLogitsProcessor(job.compiled, eos_token_ids=eos)
            out, out_s = timed_generate(model, ids, processor, None, args.max_new_tokens)
            processor.update(torch.tensor([ids[0].tolist() + out]))
            n = processor.matchers[0].num_accepted_tokens - processor.matchers[0].is_terminated()
            text = job.info.decode(out[:n]).decode("utf-8", errors="replace")
            finished = processor.is_complete(0)
            parsed, valid = is_valid(schema, text)
            counts["constrained"][0] += finished
            counts["constrained"][1] += parsed
            counts["constrained"][2] += valid
            if finished and not valid:
                print(f"{sid}: SOUNDNESS finished but invalid: {text[:200]!r}", file=sys.stderr)
            if k < args.overhead_prompts and len(out) > 8:
                # The same number of tokens without the processor: per-token time, both ways.
                _, base_s = timed_generate(model, ids, None, len(out), args.max_new_tokens)
                _, with_s = timed_generate(model, ids, GrammarLogitsProcessor(job.compiled, eos_token_ids=eos), None,
                                           args.max_new_tokens)
                overhead.append((with_s / len(out), base_s / len(out)))
        write_report(args, counts, overhead, k + 1, len(schemas))
        print(f"[{k + 1}/{len(schemas)}] {sid} constrained={counts['constrained']} unconstrained={counts['unconstrained']}",
              file=sys.stderr, flush=True)
    write_report(args, counts, overhead, len(schemas), len(schemas), echo=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
