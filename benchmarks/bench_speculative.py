"""Speculative decoding vs plain constrained decoding on JSON outputs, the default model.

Schemas with long fixed keys (below), chat prompts with the schema included, greedy,
`max_new_tokens` 160. For each prompt: syncode's decode loop without drafts (plain), with
forced-byte drafts only (jump-forward), with prompt lookup only, and with both (the default
`Speculation()`); tokens per second, target forward passes, draft acceptance rate, and a
check that every variant produced the plain tokens. One torch thread.

    python benchmarks/bench_speculative.py
"""
from __future__ import annotations

import time

import torch

from syncode.generation import _build_prompt, _prepare
from syncode.matcher import GrammarMatcher
from syncode.speculative import DecodeStats, Speculation, decode

SCHEMAS = [
    {"type": "object", "additionalProperties": False,
     "required": ["customerIdentifier", "shippingAddressLine", "preferredDeliveryWindow", "orderTotalInEuros"],
     "properties": {"customerIdentifier": {"type": "integer"}, "shippingAddressLine": {"type": "string"},
                    "preferredDeliveryWindow": {"enum": ["morning", "afternoon", "evening"]},
                    "orderTotalInEuros": {"type": "number"}}},
    {"type": "object", "additionalProperties": False, "required": ["employees"],
     "properties": {"employees": {"type": "array", "minItems": 2, "maxItems": 3, "items": {
         "type": "object", "additionalProperties": False, "required": ["fullName", "departmentName", "isManager"],
         "properties": {"fullName": {"type": "string"}, "departmentName": {"type": "string"},
                        "isManager": {"type": "boolean"}}}}}},
]
PROMPTS = ["Make up a realistic example.", "Give an example for a small company in Lyon.",
           "Produce a record about a bicycle shop."]
VARIANTS = {"plain": None, "forced only": Speculation(draft_tokens=0), "lookup only": Speculation(forced=False),
            "forced + lookup": Speculation()}
MAX_NEW_TOKENS = 160


def main() -> None:
    torch.set_num_threads(1)
    totals = {name: [0, 0.0, DecodeStats()] for name in VARIANTS}  # tokens, seconds, stats
    for schema in SCHEMAS:
        job = _prepare(None, None, schema, None, {})
        for prompt in PROMPTS:
            ids = job.tokenizer(_build_prompt(job, prompt, True, True), add_special_tokens=False)["input_ids"]
            reference = None
            for name, speculation in VARIANTS.items():
                start = time.perf_counter()
                out, stats = decode(job.model, ids, GrammarMatcher(job.compiled), job.info,
                                    max_new_tokens=MAX_NEW_TOKENS, speculation=speculation)
                seconds = time.perf_counter() - start
                reference = out if reference is None else reference
                same = "same tokens" if out == reference else "DIFFERENT TOKENS"
                total = totals[name]
                total[0] += len(out)
                total[1] += seconds
                for field in ("forward_passes", "drafted", "accepted", "forced_drafted", "forced_accepted"):
                    setattr(total[2], field, getattr(total[2], field) + getattr(stats, field))
                print(f"{name:16s} {len(out):4d} tokens {len(out) / seconds:6.1f} tok/s  passes {stats.forward_passes:4d}"
                      f"  accepted {stats.accepted}/{stats.drafted} (forced {stats.forced_accepted}/"
                      f"{stats.forced_drafted})  {same}", flush=True)
    print("\n| variant | tokens | tokens/s | forward passes | tokens per pass | acceptance | forced accepted/drafted |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (tokens, seconds, stats) in totals.items():
        print(f"| {name} | {tokens} | {tokens / seconds:.1f} | {stats.forward_passes} | "
              f"{tokens / stats.forward_passes:.2f} | {stats.acceptance_rate:.2f} | "
              f"{stats.forced_accepted}/{stats.forced_drafted} |")


if __name__ == "__main__":
    main()
