"""Token alignment (healing) vs naive prompts cut mid-token, with the embedded default model.

Texts: these Python standard library sources (this interpreter's stdlib folder) and the
repo's own docs: see SOURCES. Each prompt is the 300 characters before a random character
position (seeded), the true continuation the 40 characters after it. Per prompt:
- the log-probability of the true continuation: naive = the prompt's tokens, then the
  continuation's tokens; aligned = the kept tokens, then the tokens of H + continuation, with
  the healing mask applied (renormalised) while H is pending;
- greedy exact match of the next word (the continuation up to the end of its first word);
- the added latency of alignment: back-off choice plus the first healed mask.

    python benchmarks/bench_healing.py [--n 200] [--seed 0]
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import sysconfig
import time
from pathlib import Path

import numpy as np
import torch

from syncode.default_model import load_default_model
from syncode.healing import HealedMatcher, Unconstrained, heal_prompt
from syncode.speculative import decode
from syncode.tokenizer_info import TokenizerInfo
from syncode.vocab_index import vocabulary_index

REPO = Path(__file__).resolve().parent.parent
STDLIB = Path(sysconfig.get_paths()["stdlib"])
SOURCES = [STDLIB / name for name in ("textwrap.py", "json/decoder.py", "argparse.py", "csv.py", "difflib.py",
                                      "string.py", "fractions.py", "shlex.py")] + sorted((REPO / "docs").glob("*.md")) + [
    REPO / "README.md"]
CONTEXT, CONTINUATION, NEW_TOKENS = 300, 40, 8


def prompts(n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    texts = [(p.name, p.read_text()) for p in SOURCES if p.is_file()]
    out = []
    while len(out) < n:
        name, text = rng.choice(texts)
        cut = rng.randrange(CONTEXT, len(text) - CONTINUATION)
        cont = text[cut: cut + CONTINUATION]
        if cont.strip():
            out.append((name, text[cut - CONTEXT: cut], cont))
    return out


def continuation_logprob(model, info: TokenizerInfo, context: list[int], tokens: list[int], matcher) -> float:
    """log P(tokens | context), each step's distribution masked by `matcher` (renormalised)."""
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([context + tokens])).logits[0, len(context) - 1: -1].double()
    total = 0.0
    words = np.zeros((1, info.bitmask_words), dtype=np.int32)
    for row, t in zip(logits, tokens):
        matcher.fill_next_token_bitmask(words, 0)
        allowed = torch.from_numpy(np.unpackbits(words[0].view(np.uint8), bitorder="little")[: len(row)].astype(bool))
        total += float(torch.log_softmax(row.masked_fill(~allowed, float("-inf")), -1)[t])
        if not matcher.accept_token(t):
            raise AssertionError(f"the matcher refuses token {t} of the true continuation")
    return total


def next_word(text: str) -> str:
    match = re.match(r"\s*\S+", text)
    return match.group(0) if match else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tok = load_default_model()
    info = TokenizerInfo.from_huggingface(tok, vocab_size=model.config.vocab_size)
    vocabulary_index(info)  # built once per vocabulary, not per prompt
    rows = []
    for k, (name, prompt, cont) in enumerate(prompts(args.n, args.seed)):
        ids = tok.encode(prompt, add_special_tokens=False)
        start = time.perf_counter()
        healing = heal_prompt(info, ids)
        healed = HealedMatcher(info, healing.healed)
        healed.fill_next_token_bitmask(np.zeros((1, info.bitmask_words), dtype=np.int32), 0)
        latency = time.perf_counter() - start
        try:
            aligned_text = healing.healed.decode("utf-8") + cont
        except UnicodeDecodeError:  # H starts inside a character: no text to encode it from
            print(f"{k:3d} skipped: H = {healing.healed!r} is not whole characters")
            continue
        naive_tokens = tok.encode(cont, add_special_tokens=False)
        aligned_tokens = tok.encode(aligned_text, add_special_tokens=False)
        lp_naive = continuation_logprob(model, info, ids, naive_tokens, Unconstrained(info))
        lp_aligned = continuation_logprob(model, info, healing.kept, aligned_tokens, HealedMatcher(info, healing.healed))
        word = next_word(cont)
        out_naive, _ = decode(model, ids, Unconstrained(info), info, max_new_tokens=NEW_TOKENS)
        out_aligned, _ = decode(model, healing.kept, HealedMatcher(info, healing.healed), info,
                                max_new_tokens=NEW_TOKENS + healing.removed)
        text_naive = info.decode(out_naive).decode("utf-8", "replace")
        text_aligned = info.decode(out_aligned)[len(healing.healed):].decode("utf-8", "replace")
        rows.append((name, healing.removed, lp_naive, lp_aligned, text_naive.startswith(word),
                     text_aligned.startswith(word), latency))
        print(f"{k:3d} {name:22s} k={healing.removed} H={healing.healed!r:14s} logp naive {lp_naive:8.2f} aligned "
              f"{lp_aligned:8.2f}  word {word!r}: naive {text_naive[:16]!r} aligned {text_aligned[:16]!r}", flush=True)
    n = len(rows)
    healed_rows = [r for r in rows if r[1]]
    lat = sorted(r[6] * 1e3 for r in rows)
    print(f"\n{n} prompts ({len(healed_rows)} healed: k >= 1)")
    print(f"mean log P(true continuation): naive {statistics.mean(r[2] for r in rows):.2f}, "
          f"aligned {statistics.mean(r[3] for r in rows):.2f}; median difference (aligned - naive) "
          f"{statistics.median(r[3] - r[2] for r in rows):.2f}; aligned higher on "
          f"{sum(r[3] > r[2] for r in rows)} / {n}")
    print(f"greedy next-word exact match: naive {sum(r[4] for r in rows)} / {n}, aligned {sum(r[5] for r in rows)} / {n}")
    print(f"alignment latency per prompt (ms): median {lat[n // 2]:.2f}, p95 {lat[int(n * 0.95)]:.2f}, max {lat[-1]:.2f}")


if __name__ == "__main__":
    main()
