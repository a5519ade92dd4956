"""Code grammars (issue 6): mask cost and store size, and generation with the default model.

Prints figures; asserts nothing.

    python benchmarks/bench_code.py masks [--grammar python] [--tokenizer qwen3] [--file PATH] [--lines 500]
        Forces a source file (default: the first 500 lines of the standard library's
        `argparse.py`, or `--file`) token by token and times every mask (mask cache off and
        on); then an eager compile into an empty cache folder: cold build seconds and MB on
        disk. Targets: p50 <= 20 us, p99 <= 300 us; python x qwen3 build <= 120 s, <= 300 MB.
    python benchmarks/bench_code.py generate [--limit 50] [--max-new-tokens 384] [--out docs/code-generation.md]
        The embedded default model on 50 short function-writing prompts (written for this
        benchmark, HumanEval style: a signature and a docstring), greedy, with and without
        the python grammar: how many outputs CPython compiles.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
TOKENIZERS = REPO.parent / "shared" / "tokenizers"

# (name, signature, docstring): small tasks in the style of HumanEval, written for this benchmark.
TASKS = [
    ("add", "def add(a: int, b: int) -> int:", "Return the sum of a and b."),
    ("is_even", "def is_even(n: int) -> bool:", "Return True if n is even."),
    ("reverse_string", "def reverse_string(s: str) -> str:", "Return s reversed."),
    ("count_vowels", "def count_vowels(s: str) -> int:", "Count the vowels (a, e, i, o, u) in s, ignoring case."),
    ("factorial", "def factorial(n: int) -> int:", "Return n! for n >= 0."),
    ("fibonacci", "def fibonacci(n: int) -> int:", "Return the n-th Fibonacci number, fibonacci(0) == 0."),
    ("is_palindrome", "def is_palindrome(s: str) -> bool:", "Return True if s reads the same backwards."),
    ("max_of_list", "def max_of_list(xs: list) -> int:", "Return the largest element of a non-empty list."),
    ("sum_of_squares", "def sum_of_squares(xs: list) -> int:", "Return the sum of the squares of xs."),
    ("unique", "def unique(xs: list) -> list:", "Return the elements of xs without duplicates, in first-seen order."),
    ("word_count", "def word_count(text: str) -> dict:", "Map each word of text to how many times it occurs."),
    ("flatten", "def flatten(xss: list) -> list:", "Flatten a list of lists by one level."),
    ("is_prime", "def is_prime(n: int) -> bool:", "Return True if n is a prime number."),
    ("gcd", "def gcd(a: int, b: int) -> int:", "Return the greatest common divisor of a and b."),
    ("celsius_to_fahrenheit", "def celsius_to_fahrenheit(c: float) -> float:", "Convert Celsius to Fahrenheit."),
    ("average", "def average(xs: list) -> float:", "Return the mean of a non-empty list of numbers."),
    ("capitalize_words", "def capitalize_words(s: str) -> str:", "Capitalize the first letter of every word."),
    ("count_char", "def count_char(s: str, c: str) -> int:", "Count how many times c occurs in s."),
    ("second_largest", "def second_largest(xs: list) -> int:", "Return the second largest distinct value."),
    ("merge_sorted", "def merge_sorted(a: list, b: list) -> list:", "Merge two sorted lists into one sorted list."),
    ("binary_search", "def binary_search(xs: list, target: int) -> int:",
     "Return the index of target in sorted xs, or -1."),
    ("remove_whitespace", "def remove_whitespace(s: str) -> str:", "Remove all whitespace characters from s."),
    ("digits_sum", "def digits_sum(n: int) -> int:", "Return the sum of the decimal digits of n >= 0."),
    ("is_anagram", "def is_anagram(a: str, b: str) -> bool:", "Return True if a and b are anagrams."),
    ("chunk", "def chunk(xs: list, size: int) -> list:", "Split xs into consecutive lists of length size."),
    ("transpose", "def transpose(matrix: list) -> list:", "Transpose a rectangular matrix given as lists."),
    ("running_sum", "def running_sum(xs: list) -> list:", "Return the running totals of xs."),
    ("vowel_positions", "def vowel_positions(s: str) -> list:", "Return the indices of the vowels in s."),
    ("to_binary", "def to_binary(n: int) -> str:", "Return the binary representation of n >= 0 without prefix."),
    ("count_words", "def count_words(s: str) -> int:", "Return the number of whitespace-separated words."),
    ("min_max", "def min_max(xs: list) -> tuple:", "Return (min, max) of a non-empty list."),
    ("is_sorted", "def is_sorted(xs: list) -> bool:", "Return True if xs is sorted in non-decreasing order."),
    ("rotate", "def rotate(xs: list, k: int) -> list:", "Rotate xs to the right by k positions."),
    ("filter_positive", "def filter_positive(xs: list) -> list:", "Keep only the positive numbers."),
    ("longest_word", "def longest_word(s: str) -> str:", "Return the longest word in s (the first on ties)."),
    ("square_dict", "def square_dict(n: int) -> dict:", "Map each i in 1..n to i squared."),
    ("char_frequency", "def char_frequency(s: str) -> dict:", "Map each character of s to its count."),
    ("dedupe_sorted", "def dedupe_sorted(xs: list) -> list:", "Remove consecutive duplicates from sorted xs."),
    ("power_set_size", "def power_set_size(n: int) -> int:", "Return the number of subsets of a set of size n."),
    ("leap_year", "def leap_year(year: int) -> bool:", "Return True if year is a leap year (Gregorian)."),
    ("title_case", "def title_case(s: str) -> str:", "Return s with each word capitalized and the rest lower."),
    ("pairwise_sums", "def pairwise_sums(xs: list) -> list:", "Return the sums of adjacent pairs of xs."),
    ("count_upper", "def count_upper(s: str) -> int:", "Count the uppercase letters in s."),
    ("safe_divide", "def safe_divide(a: float, b: float) -> float:", "Return a / b, or 0.0 when b is zero."),
    ("index_of_max", "def index_of_max(xs: list) -> int:", "Return the index of the largest element."),
    ("repeat_string", "def repeat_string(s: str, n: int) -> str:", "Return s repeated n times, separated by spaces."),
    ("nested_sum", "def nested_sum(xss: list) -> int:", "Return the sum of all numbers in a list of lists."),
    ("even_squares", "def even_squares(n: int) -> list:", "Return the squares of the even numbers below n."),
    ("initials", "def initials(name: str) -> str:", "Return the upper-case initials of a full name."),
    ("clamp", "def clamp(x: float, lo: float, hi: float) -> float:", "Limit x to the range [lo, hi]."),
]

PROMPT = ("Complete this Python function. Reply with the whole function and nothing else: no explanation, "
          "no Markdown.\n\n{signature}\n    \"\"\"{doc}\"\"\"\n")


def compiles(text: str) -> bool:
    try:
        compile(text, "<generated>", "exec")
        return True
    except (SyntaxError, ValueError):
        return False


def strip_fences(text: str) -> str:
    """The code inside the first Markdown code fence, if the text has one."""
    if "```" not in text:
        return text
    body = text.split("```", 2)[1]
    return body.split("\n", 1)[1] if body.startswith(("python", "py\n")) else body


def masks(args) -> None:
    from transformers import AutoTokenizer

    import syncode
    from syncode.compiler import MaskCache
    from syncode.mask_store import forget_stores

    tok = AutoTokenizer.from_pretrained(str(TOKENIZERS / args.tokenizer))
    info = syncode.TokenizerInfo.from_huggingface(tok)
    path = Path(args.file) if args.file else Path(sysconfig.get_paths()["stdlib"]) / "argparse.py"
    source = "".join(path.read_text().splitlines(keepends=True)[: args.lines])
    ids = tok.encode(source, add_special_tokens=False)
    grammar = syncode.Grammar.builtin(args.grammar)
    print(f"{args.grammar} x {args.tokenizer}: {path.name}, {args.lines} lines, {len(ids)} tokens")
    compiled = syncode.compile_grammar(grammar, info)
    words = np.zeros((1, info.bitmask_words), dtype=np.int32)
    for label, cache_bytes in (("first pass (entries built as reached)", 0), ("mask cache off", 0),
                               ("mask cache on", 32 << 20)):
        compiled.mask_cache = MaskCache(cache_bytes, 4 * info.bitmask_words)
        matcher = syncode.GrammarMatcher(compiled)
        times = []
        for t in ids:
            start = time.perf_counter()
            matcher.fill_next_token_bitmask(words, 0)
            times.append(time.perf_counter() - start)
            if not matcher.accept_token(t):
                sys.exit(f"token {t} ({tok.decode([t])!r}) rejected: the grammar does not accept the file")
        us = np.array(times) * 1e6
        print(f"  {label:40s} p50 {np.percentile(us, 50):8.1f} us  p99 {np.percentile(us, 99):8.1f} us  "
              f"max {us.max():9.1f} us")
    folder = Path(tempfile.mkdtemp(prefix="syncode-bench-"))
    try:
        forget_stores()
        start = time.perf_counter()
        eager = syncode.compile_grammar(grammar, info, cache_dir=folder, eager=True, progress=True)
        seconds = time.perf_counter() - start
        disk = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
        print(f"  eager cold build: {seconds:.1f} s, {eager.store.n_built} lexer states, "
              f"{eager.store_nbytes / 2**20:.1f} MB in memory, {disk:.1f} MB on disk")
    finally:
        shutil.rmtree(folder)


def generate(args) -> None:
    import torch

    import syncode
    from syncode.default_model import load_default_model
    from syncode.generation import IncompleteGenerationError

    torch.set_num_threads(1)
    model, tok = load_default_model()
    rows = []
    counts = {"with syncode": [0, 0], "without": [0, 0, 0]}
    for k, (name, signature, doc) in enumerate(TASKS[: args.limit]):
        prompt = PROMPT.format(signature=signature, doc=doc)
        try:
            out = syncode.generate(model, prompt, grammar="python", tokenizer=tok, max_new_tokens=args.max_new_tokens)
            text, finished = out.text, True
        except IncompleteGenerationError as exc:
            text, finished = exc.text, False
        ok = finished and compiles(text)
        counts["with syncode"][0] += finished
        counts["with syncode"][1] += ok
        chat = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
        ids = tok(chat, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            free = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, temperature=None,
                                  top_p=None, top_k=None, max_new_tokens=args.max_new_tokens)
        free_text = tok.decode(free[0, ids.shape[1]:], skip_special_tokens=True)
        free_done = free[0, -1].item() in {tok.eos_token_id, model.generation_config.eos_token_id}
        counts["without"][0] += free_done
        counts["without"][1] += compiles(free_text)
        counts["without"][2] += compiles(strip_fences(free_text))
        rows.append((name, ok, compiles(free_text), compiles(strip_fences(free_text))))
        print(f"[{k + 1}/{args.limit}] {name}: with syncode {'compiles' if ok else 'FAILS'}"
              f"{'' if finished else ' (unfinished)'}; without: raw {rows[-1][2]}, fences stripped {rows[-1][3]}",
              file=sys.stderr, flush=True)
    n = len(rows)
    report = [f"# Python generation with the embedded default model ({n} prompts)", "",
              f"SmolLM2-135M-Instruct (Q4_1 GGUF), greedy, max_new_tokens={args.max_new_tokens}, chat template, "
              "prompts in `benchmarks/bench_code.py` (a signature and a docstring each, HumanEval style, written for "
              "this benchmark). \"Compiles\": CPython's `compile(text, ..., 'exec')` succeeds.", "",
              "| mode | finished | compiles |", "|---|---|---|",
              f"| with syncode (`grammar=\"python\"`) | {counts['with syncode'][0]}/{n} | {counts['with syncode'][1]}/{n} |",
              f"| without, raw output | {counts['without'][0]}/{n} | {counts['without'][1]}/{n} |",
              f"| without, code inside Markdown fences | {counts['without'][0]}/{n} | {counts['without'][2]}/{n} |",
              "", "Command: `python benchmarks/bench_code.py generate --limit "
              f"{args.limit} --max-new-tokens {args.max_new_tokens}`."]
    print("\n".join(report))
    if args.out:
        Path(args.out).write_text("\n".join(report) + "\n")
        print(f"written to {args.out}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("masks")
    m.add_argument("--grammar", default="python")
    m.add_argument("--tokenizer", default="qwen3")
    m.add_argument("--file")
    m.add_argument("--lines", type=int, default=500)
    g = sub.add_parser("generate")
    g.add_argument("--limit", type=int, default=len(TASKS))
    g.add_argument("--max-new-tokens", type=int, default=384)
    g.add_argument("--out")
    args = parser.parse_args()
    masks(args) if args.command == "masks" else generate(args)


if __name__ == "__main__":
    main()
