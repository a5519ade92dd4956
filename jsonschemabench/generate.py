"""The generation mode: the JSONSchemaBench paper's metrics with a model, syncode or none.

Owns the protocol and the metrics, as the paper's harness defines them:
- prompt: the system message "You need to generate a JSON object that matches the schema
  below.", two few-shot pairs (a schema as the user's message, an instance as the
  assistant's), then the schema (`json.dumps`) as the user's message, through the chat
  template. The harness hand-picked its pairs per subset; ours are the first two schemas of
  the subset outside the evaluated split that have a valid MaskBench instance (schema and
  instance as `json.dumps`);
- greedy decoding, at most 2048 new tokens and 60 s per generation;
- declared coverage DC: the grammar compiled (to its first mask) within 10 s; empirical
  coverage EC: the output parses with `json.loads` and validates with
  `Draft202012Validator(schema, format_checker=FormatChecker())` after `check_schema` (any
  exception fails; a compile failure gives an empty output), over all schemas; compliance
  EC/DC; a schema no value satisfies (an empty language) is not declared: nothing can be
  generated for it;
- GCT: compile end - call start (schema to grammar, compile, first mask: lazy work counted
  where it happens); TTFT: first token - call start (prompt, compile, processor set-up and
  prefill included); TPOT: (end - first token) / (output tokens - 1), output tokens counted
  by re-tokenizing the output. Medians over schemas.
Without the constraint (`--no-constraint`) the same prompt is decoded freely (engine
`unconstrained`; DC does not apply). Records go to the run file like the other modes.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

from tqdm import tqdm

from . import data, runlog
from .report import fmt, table

SYSTEM = "You need to generate a JSON object that matches the schema below."
DEFAULT_SUBSETS = ("Glaiveai2K", "Github_easy", "Snowplow")
COMPILE_LIMIT = 10.0
MAX_TEXT = 4000  # characters of output kept in a record
EMPTY = "empty language"


def few_shot(subset: str, root: Path, split: str) -> list[tuple[str, str]]:
    """Two (schema, instance) pairs of `subset` from outside `split`: the first schemas with
    a valid MaskBench instance."""
    pairs: list[tuple[str, str]] = []
    evaluated = {sid for sid, _ in data.split_schemas(subset, root, split)}
    for case in data.bench_cases(subset, root):
        valid = [i for i in case.instances if i.valid]
        if case.description not in evaluated and valid:
            pairs.append((json.dumps(case.schema), json.dumps(valid[0].data)))
            if len(pairs) == 2:
                break
    return pairs


def messages(examples: Sequence[tuple[str, str]], schema: Any) -> list[dict[str, str]]:
    """The chat: system message, the few-shot pairs, the schema."""
    out = [{"role": "system", "content": SYSTEM}]
    for user, assistant in examples:
        out += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return out + [{"role": "user", "content": json.dumps(schema)}]


def check(schema: Any, text: str) -> tuple[bool, bool, str]:
    """(parses, valid, why not) for an output, as the paper's EC."""
    import jsonschema

    try:
        value = json.loads(text)
    except Exception as exc:
        return False, False, f"json.loads: {exc}"[:300]
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except Exception as exc:
        return True, False, f"{type(exc).__name__}: {exc}"[:300]
    return True, error is None, "" if error is None else error.message[:300]


class _Clock:
    """A transformers streamer that only notes when each `put` happens (the first put is the
    prompt, the second the first generated token)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def put(self, value: Any) -> None:
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


class Generator:
    """A model, its tokenizer and syncode's TokenizerInfo, generating for one schema at a time."""

    def __init__(self, model: Any, tok: Any, constrained: bool, max_new_tokens: int, time_limit: float) -> None:
        import syncode

        self.model, self.tok = model, tok
        self.info = syncode.TokenizerInfo.from_huggingface(tok, vocab_size=model.config.vocab_size)
        eos = model.generation_config.eos_token_id
        self.eos = set(eos if isinstance(eos, list) else [eos])
        self.constrained = constrained
        self.max_new_tokens, self.time_limit = max_new_tokens, time_limit

    @classmethod
    def from_spec(cls, model_spec: str, constrained: bool, max_new_tokens: int, time_limit: float) -> "Generator":
        """A generator for `model_spec`: "default" (the embedded model) or a local model folder."""
        if model_spec == "default":
            from syncode.default_model import load_default_model

            model, tok = load_default_model()
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(model_spec, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(model_spec, local_files_only=True).eval()
        return cls(model, tok, constrained, max_new_tokens, time_limit)

    def _compile(self, schema: Any) -> tuple[Any, str]:
        """(compiled grammar or None, why not), within the 10 s limit."""
        import numpy as np
        import syncode
        from syncode.schema import EmptySchemaWarning

        from .engine import Timeout, schema_grammar, time_limit

        try:
            with time_limit(COMPILE_LIMIT), warnings.catch_warnings():
                warnings.simplefilter("ignore", EmptySchemaWarning)
                compiled = syncode.compile_grammar(schema_grammar(schema), self.info)
                first = np.zeros((1, self.info.bitmask_words), dtype=np.int32)
                syncode.GrammarMatcher(compiled).fill_next_token_bitmask(first, 0)
        except Timeout:
            return None, f"timeout: over the {COMPILE_LIMIT:g} s compile limit"
        except Exception as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300]
        if not first.any():
            return None, f"{EMPTY}: no JSON value satisfies the schema"
        return compiled, ""

    def run(self, schema: Any, examples: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """One generation with its timings and verdict (a record without its ids)."""
        import torch
        from syncode.hf import GrammarLogitsProcessor

        start = time.perf_counter()
        record: dict[str, Any] = {"compiled": None, "compile_error": "", "gct": None}
        processors = []
        if self.constrained:
            compiled, error = self._compile(schema)
            record.update(compiled=compiled is not None, compile_error=error, gct=time.perf_counter() - start)
            if compiled is None:
                parses, valid, why = check(schema, "")
                return {**record, "text": "", "output_tokens": 0, "ttft": None, "tpot": None, "stop": "no grammar",
                        "parses": parses, "valid": valid, "why": why}
            processors = [GrammarLogitsProcessor(compiled, eos_token_ids=sorted(self.eos))]
        prompt = self.tok.apply_chat_template(messages(examples, schema), tokenize=False, add_generation_prompt=True)
        ids = self.tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        clock = _Clock()
        try:
            with torch.inference_mode():
                out = self.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                          temperature=None, top_p=None, top_k=None,
                                          max_new_tokens=self.max_new_tokens, max_time=self.time_limit,
                                          logits_processor=processors, streamer=clock,
                                          pad_token_id=self.tok.pad_token_id or min(self.eos))
        except Exception as exc:  # recorded, and the run goes on: a failure is a finding, not the end
            return {**record, "text": "", "output_tokens": 0, "ttft": None, "tpot": None, "stop": "error",
                    "parses": False, "valid": False, "why": f"{type(exc).__name__}: {exc}"[:300]}
        end = time.perf_counter()
        new = out[0, ids.shape[1]:].tolist()
        cut = next((k for k, t in enumerate(new) if t in self.eos), None)
        stop = "eos" if cut is not None else "max_new_tokens" if len(new) >= self.max_new_tokens else "time limit"
        content = new if cut is None else new[:cut]
        text = self.info.decode(content).decode("utf-8", errors="replace")
        n_out = len(self.tok.encode(text, add_special_tokens=False))
        first = clock.times[1] if len(clock.times) > 1 else None
        parses, valid, why = check(schema, text)
        return {**record, "text": text[:MAX_TEXT], "output_tokens": n_out,
                "ttft": None if first is None else first - start,
                "tpot": (end - first) / (n_out - 1) if first is not None and n_out > 1 else None,
                "stop": stop, "parses": parses, "valid": valid, "why": why}


def run_generate(args: argparse.Namespace) -> int:
    """The `generate` command."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    engine = "unconstrained" if args.no_constraint else "syncode"
    subsets = args.subset or list(DEFAULT_SUBSETS)
    todo = [(subset, sid, schema) for subset in subsets
            for sid, schema in data.split_schemas(subset, args.data, args.split, args.limit)]
    header = {"mode": "generate", "tokenizer": args.model, "engines": [engine], "model": args.model,
              "split": args.split, "max_new_tokens": args.max_new_tokens, "time_limit": args.time_limit,
              "versions": _versions()}
    runfile = runlog.RunFile(args.out, header, args.resume) if args.out is not None else None
    done = runfile.done if runfile is not None else set()
    todo = [t for t in todo if (engine, f"{t[0]}/{t[1]}") not in done]
    records = []
    generator = Generator.from_spec(args.model, not args.no_constraint, args.max_new_tokens, args.time_limit)
    examples = {subset: few_shot(subset, args.data, args.split) for subset in subsets}
    bar = tqdm(todo, desc=engine, unit="schema", file=sys.stderr, disable=args.quiet, dynamic_ncols=True)
    try:
        for subset, sid, schema in bar:
            record = {"mode": "generate", "engine": engine, "case_id": f"{subset}/{sid}", "category": subset,
                      **generator.run(schema, examples[subset])}
            records.append(record)
            if runfile is not None:
                runfile.add(record)
            bar.set_postfix(valid=sum(r["valid"] for r in records), refresh=False)
    finally:
        bar.close()
        if runfile is not None:
            runfile.close()
    if runfile is not None and args.resume:
        _, records = next(runlog.records_of([args.out]))
    title = f"Generation over JSONSchemaBench ({args.split} split), model {args.model}"
    text = generate_report(records, title, f"Greedy, max_new_tokens {args.max_new_tokens}, "
                                           f"{args.time_limit:g} s per generation.")
    print(text, end="")
    if args.report is not None:
        Path(args.report).write_text(text, encoding="utf-8")
    return 0


def _versions() -> dict[str, str]:
    import torch
    import transformers

    import syncode

    return {"syncode": syncode.__version__, "transformers": transformers.__version__, "torch": torch.__version__}


GENERATE_BLOCK = ("schemas", "DC", "EC", "compliance", "GCT p50 ms", "TTFT p50 ms", "TPOT p50 ms")


def _median_ms(values: list[float]) -> str:
    return fmt(statistics.median(values) * 1e3) if values else "-"


def _generate_cells(records: Sequence[dict[str, Any]]) -> list[object]:
    n = len(records)
    constrained = any(r["compiled"] is not None for r in records)
    dc = sum(bool(r["compiled"]) for r in records) / n if constrained else None
    ec = sum(bool(r["valid"]) for r in records) / n
    return [n, "-" if dc is None else f"{dc:.2f}", f"{ec:.2f}", "-" if not dc else f"{ec / dc:.2f}",
            _median_ms([r["gct"] for r in records if r["gct"] is not None]),
            _median_ms([r["ttft"] for r in records if r["ttft"] is not None]),
            _median_ms([r["tpot"] for r in records if r["tpot"] is not None])]


def generate_report(records: Sequence[dict[str, Any]], title: str, notes: str = "") -> str:
    """The generation report: a row per subset (then overall), a column block per engine."""
    engines: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        engines.setdefault(r["engine"], []).append(r)
    names = list(dict.fromkeys(r["category"] for r in records))
    header = ["subset"] + [f"{e} {c}" for e in engines for c in GENERATE_BLOCK]
    rows = []
    for name in names + ["**overall**"]:
        row: list[object] = [name]
        for rs in engines.values():
            part = rs if name == "**overall**" else [r for r in rs if r["category"] == name]
            row += _generate_cells(part) if part else ["-"] * len(GENERATE_BLOCK)
        rows.append(row)
    stops = {e: {s: sum(r["stop"] == s for r in rs) for s in dict.fromkeys(r["stop"] for r in rs)}
             for e, rs in engines.items()}
    definitions = ("DC: compiled within 10 s; EC: output parses and validates (Draft 2020-12, formats checked), "
                   "over all schemas; compliance EC/DC; GCT: compile end - call start; TTFT: first token - call "
                   "start; TPOT: (end - first token) / (output tokens - 1). Medians over schemas.")
    parts = [f"# {title}", "", table(header, rows), "", definitions + (" " + notes if notes else ""), ""]
    parts += [f"- {e} stopped by: " + ", ".join(f"{s} {k}" for s, k in st.items()) for e, st in stops.items()]
    return "\n".join(parts) + "\n"
