"""The `syncode` command line: `generate`, `grammars`, `compile`.

Owns argument parsing and presentation only: every command calls the public API, prints
its result (or a JSON record with `--json`), and turns errors into one clear line and a
non-zero exit code (the traceback only with `--debug`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

EXIT_ERROR, EXIT_INCOMPLETE = 1, 2


def _grammar_arg(value: str):
    """A built-in grammar name, or a `.lark` file."""
    from .grammar import Grammar

    if value in Grammar.builtin_names():
        return Grammar.builtin(value)
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"--grammar {value!r} is neither a built-in grammar "
                                f"({', '.join(Grammar.builtin_names())}) nor a file")
    return Grammar.from_file(path)


def _schema_arg(value: str):
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"--schema file {value!r} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"--schema file {value} is not valid JSON: {exc}") from exc


def cmd_generate(args: argparse.Namespace) -> int:
    from .generation import generate

    schema = _schema_arg(args.schema) if args.schema else None
    grammar = _grammar_arg(args.grammar) if args.grammar else None
    model = None if args.model in (None, "default") else args.model
    start = time.perf_counter()
    out = generate(model, args.prompt, schema=schema, grammar=grammar, max_new_tokens=args.max_new_tokens,
                   temperature=args.temperature, seed=args.seed, chat=not args.no_chat)
    if args.json:
        print(json.dumps({"text": out.text, "value": out.value if schema is not None else None,
                          "tokens": len(out.token_ids), "prompt_tokens": out.prompt_tokens,
                          "compile_seconds": round(out.compile_seconds, 4),
                          "generate_seconds": round(out.generate_seconds, 4),
                          "tokens_per_second": round(out.tokens_per_second, 2),
                          "total_seconds": round(time.perf_counter() - start, 4)}))
    else:
        print(out.text)
    return 0


def cmd_grammars(args: argparse.Namespace) -> int:
    from .grammar import Grammar, builtin_dir

    for name in Grammar.builtin_names():
        first = (builtin_dir() / f"{name}.lark").read_text(encoding="utf-8").splitlines()[:1]
        summary = first[0].lstrip("/ ").strip() if first and first[0].startswith("//") else ""
        print(f"{name:12s} {summary}")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from .compiler import compile_grammar
    from .tokenizer_info import TokenizerInfo

    grammar = _grammar_arg(args.grammar) if args.grammar else None
    if args.schema:
        from .grammar import Grammar

        grammar = Grammar.from_json_schema(_schema_arg(args.schema))
    if grammar is None:
        raise ValueError("give --grammar or --schema")
    try:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer, local_files_only=True)
    except OSError as exc:
        raise FileNotFoundError(f"no tokenizer at {args.tokenizer!r}: {exc}") from exc
    info = TokenizerInfo.from_huggingface(tokenizer)
    compiled = compile_grammar(grammar, info, cache_dir=args.cache_dir or "default", progress=not args.json,
                               eager=True)
    stats = compiled.stats
    record = {"grammar": grammar.name, "tokenizer": args.tokenizer, "contexts": compiled.contexts.n_contexts,
              "lexer_states": len(compiled.contexts.accept),
              "entries_built": stats.built + stats.rebuilt, "entries_loaded": stats.loaded + stats.memory,
              "store_mib": round(compiled.store_nbytes / 2**20, 2), "seconds": round(stats.seconds, 3),
              "cache_dir": str(compiled.cache_dir)}
    if args.json:
        print(json.dumps(record))
    else:
        print(f"{record['grammar']}: {record['contexts']} lexer contexts, {record['lexer_states']} lexer states: "
              f"{record['entries_built']} mask-store entries built, {record['entries_loaded']} loaded; "
              f"{record['store_mib']} MiB in memory; {record['seconds']} s (cache {record['cache_dir']})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syncode", description="Grammar-constrained decoding with exact token masks.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate text constrained by a JSON Schema or a grammar")
    gen.add_argument("prompt")
    what = gen.add_mutually_exclusive_group()
    what.add_argument("--schema", metavar="FILE", help="a JSON Schema file")
    what.add_argument("--grammar", metavar="NAME|FILE", help="a built-in grammar name or a .lark file")
    gen.add_argument("--model", metavar="PATH", help="a local model folder (default: the embedded SmolLM2-135M-Instruct)")
    gen.add_argument("--max-new-tokens", type=int, default=256)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 is greedy (default)")
    gen.add_argument("--seed", type=int)
    gen.add_argument("--no-chat", action="store_true", help="do not apply the chat template")
    gen.add_argument("--json", action="store_true", help="print a JSON record with timings")
    gen.set_defaults(run=cmd_generate)

    gram = sub.add_parser("grammars", help="list the built-in grammars")
    gram.set_defaults(run=cmd_grammars)

    comp = sub.add_parser("compile", help="build the mask store of a grammar for a tokenizer ahead of time")
    what = comp.add_mutually_exclusive_group(required=True)
    what.add_argument("--grammar", metavar="NAME|FILE")
    what.add_argument("--schema", metavar="FILE")
    comp.add_argument("--tokenizer", metavar="PATH", required=True, help="a local Hugging Face tokenizer folder")
    comp.add_argument("--cache-dir", metavar="DIR", help="where stores are cached (default: masks/ or the user cache)")
    comp.add_argument("--json", action="store_true", help="print a JSON record")
    comp.set_defaults(run=cmd_compile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, unless --debug
        if args.debug:
            raise
        from .generation import IncompleteGenerationError

        print(f"syncode {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE if isinstance(exc, IncompleteGenerationError) else EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
