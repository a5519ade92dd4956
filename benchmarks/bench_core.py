"""Core engine benchmark: mask-store build/load, per-step mask cost, flatness, start-up.

Prints figures; asserts nothing. Usage:
    python benchmarks/bench_core.py [--tokenizers qwen3 smollm2 ...] [--tokens 5000] [--skip-sql]
Targets (issue 2, json x qwen3): mask p50 <= 10 us, p99 <= 100 us, fill+accept p50 <= 20 us,
last quarter <= 1.2x first quarter, cold build <= 15 s, warm load <= 0.3 s, disk <= 20 MB,
("cold"/"warm": every lexer state's entry, built or loaded from disk; "lazy": the default
compile, which builds only what the first mask needs and the rest as decoding reaches it)
sql x qwen3 cold <= 60 s, import + JIT <= 10 s cold, <= 2 s warm.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import syncode  # noqa: E402
from syncode.mask_store import forget_stores  # noqa: E402

SHARED = REPO.parent / "shared"


def make_document(n_records: int, seed: int = 0) -> str:
    """A deterministic real-looking JSON document (records with strings, numbers, nesting)."""
    rng = random.Random(seed)
    words = "alpha beta gamma delta épsilon zeta theta iota kappa lambda mu nu xi omicron pi rho sigma".split()
    records = []
    for i in range(n_records):
        records.append({
            "id": i,
            "name": " ".join(rng.choice(words) for _ in range(rng.randint(1, 4))),
            "score": round(rng.uniform(-1000, 1000), rng.randint(0, 4)),
            "active": rng.random() < 0.5,
            "tags": [rng.choice(words) for _ in range(rng.randint(0, 3))],
            "meta": {"created": f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}", "parent": None if rng.random() < 0.5 else rng.randint(0, i + 1),
                     "note": "line\nbreak \"quoted\" \\ done" if rng.random() < 0.2 else ""},
        })
    return json.dumps({"records": records, "count": n_records}, indent=2, ensure_ascii=False)


def percentile(values, p):
    return float(np.percentile(np.asarray(values), p))


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.glob("*.npz"))


def force_timed(compiled, ids: list[int]) -> tuple[list[float], list[float]]:
    """Per-step fill time and fill+accept time (microseconds) forcing `ids`."""
    m = syncode.GrammarMatcher(compiled)
    bitmask = syncode.allocate_token_bitmask(1, compiled.tokenizer_info.vocab_size)
    fills, steps = [], []
    clock = time.perf_counter_ns
    for t in ids:
        a = clock()
        m.fill_next_token_bitmask(bitmask, 0)
        b = clock()
        ok = m.accept_token(t)
        c = clock()
        if not ok:
            raise SystemExit(f"the document's own token {t} was rejected")
        fills.append((b - a) / 1000)
        steps.append((c - a) / 1000)
    return fills, steps


def summary(fills: list[float], steps: list[float]) -> dict:
    q = len(fills) // 4
    return {"fill_p50": percentile(fills, 50), "fill_p99": percentile(fills, 99), "fill_max": max(fills),
            "step_p50": percentile(steps, 50), "flat_ratio": float(np.mean(steps[-q:]) / np.mean(steps[:q]))}


def bench_tokenizer(name: str, n_tokens: int) -> dict:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(SHARED / "tokenizers" / name))
    t0 = time.perf_counter()
    info = syncode.TokenizerInfo.from_huggingface(tok)
    vocab_s = time.perf_counter() - t0
    grammar = syncode.Grammar.builtin("json")
    with tempfile.TemporaryDirectory() as cache:
        forget_stores()
        t0 = time.perf_counter()
        syncode.compile_grammar(grammar, info, cache_dir=cache, eager=True)
        cold = time.perf_counter() - t0
        disk = dir_size(Path(cache))
        forget_stores()
        t0 = time.perf_counter()
        syncode.compile_grammar(grammar, info, cache_dir=cache, eager=True)
        warm = time.perf_counter() - t0
        forget_stores()
        t0 = time.perf_counter()
        compiled = syncode.compile_grammar(grammar, info, cache_dir=cache)
        lazy = time.perf_counter() - t0
    doc = make_document(10)
    ids = tok.encode(doc, add_special_tokens=False)
    while len(ids) < n_tokens:
        doc = make_document(len(doc) // 40 + 20)
        ids = tok.encode(doc, add_special_tokens=False)
    ids = ids[:n_tokens]
    # A prefix of the document: forcing stops at n_tokens (the grammar need not be complete).
    force_timed(compiled, ids[:50])  # warm up the JIT-compiled paths
    compiled.mask_cache.entries.clear()
    cached = summary(*force_timed(compiled, ids))
    hit_rate = compiled.mask_cache.hits / max(1, compiled.mask_cache.hits + compiled.mask_cache.misses)
    compiled.mask_cache.capacity = 0
    uncached = summary(*force_timed(compiled, ids))
    return {"tokenizer": name, "vocab": info.n_tokens, "vocab_s": vocab_s, "cold_s": cold, "warm_s": warm, "lazy_s": lazy,
            "disk_mb": disk / 1e6, "tokens": len(ids), "hit_rate": hit_rate, "cached": cached, "uncached": uncached}


def bench_sql(name: str) -> float:
    from transformers import AutoTokenizer

    info = syncode.TokenizerInfo.from_huggingface(AutoTokenizer.from_pretrained(str(SHARED / "tokenizers" / name)))
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        forget_stores()
        compiled = syncode.compile_grammar(syncode.Grammar.builtin("sql"), info, cache_dir=cache, eager=True)
        return time.perf_counter() - t0, dir_size(Path(cache)) / 1e6, compiled.contexts.n_contexts


STARTUP = (
    "import time; t=time.perf_counter(); import syncode; "
    "info = syncode.TokenizerInfo([b'{', b'}', b'\"', b'a', b':', b',', None], [6]); "
    "c = syncode.compile_grammar(syncode.Grammar.builtin('json'), info, cache_dir=None); "
    "m = syncode.GrammarMatcher(c); bm = syncode.allocate_token_bitmask(1, 7); "
    "m.fill_next_token_bitmask(bm, 0); m.accept_token(0); print(time.perf_counter()-t)"
)


def bench_startup() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as numba_cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=numba_cache)
        run = lambda: float(subprocess.run([sys.executable, "-c", STARTUP], env=env, cwd=REPO, check=True,  # noqa: E731
                                           capture_output=True, text=True).stdout.strip().splitlines()[-1])
        return run(), run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizers", nargs="+", default=["qwen3", "llama3", "smollm2", "mistral7b"])
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--skip-sql", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    if not args.skip_startup:
        cold, warm = bench_startup()
        print(f"import + JIT + first mask: cold numba cache {cold:.2f} s, warm {warm:.2f} s")
    print(f"\njson grammar, forcing a {args.tokens}-token JSON document (times in microseconds per step)")
    print(f"{'tokenizer':<10} {'vocab':>7} {'vocab s':>7} {'cold s':>7} {'warm s':>7} {'lazy s':>7} {'disk MB':>7}  "
          f"{'mask cache':<11} {'fill p50':>8} {'fill p99':>8} {'fill max':>8} {'fill+acc p50':>12} {'last/first':>10}")
    for name in args.tokenizers:
        r = bench_tokenizer(name, args.tokens)
        for label, s in (("on (hits %2.0f%%)" % (100 * r["hit_rate"]), r["cached"]), ("off", r["uncached"])):
            lead = (f"{r['tokenizer']:<10} {r['vocab']:>7} {r['vocab_s']:>7.2f} {r['cold_s']:>7.2f} {r['warm_s']:>7.3f} {r['lazy_s']:>7.3f} {r['disk_mb']:>7.1f}"
                    if label != "off" else " " * 59)
            print(f"{lead}  {label:<11} {s['fill_p50']:>8.1f} {s['fill_p99']:>8.1f} {s['fill_max']:>8.0f} {s['step_p50']:>12.1f} {s['flat_ratio']:>10.2f}")
    if not args.skip_sql:
        for name in args.tokenizers[:1]:
            seconds, mb, n_ctx = bench_sql(name)
            print(f"\nsql x {name}: cold build {seconds:.1f} s, {mb:.1f} MB on disk, {n_ctx} lexer contexts")


if __name__ == "__main__":
    main()
