"""`python -m syncode.demo`: one constrained generation with the embedded default model.

Owns the README's main command: a JSON Schema in, SmolLM2-135M-Instruct (greedy, CPU)
constrained by it, a JSON object out, validated, printed with the time each part took.
"""
from __future__ import annotations

import json
import sys
import time

from .generation import GenerationError, generate

PROMPT = "Describe a cat."
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 24},
        "age": {"type": "integer", "minimum": 0, "maximum": 30},
        "color": {"enum": ["black", "white", "orange", "grey", "tabby"]},
        "indoor": {"type": "boolean"},
    },
    "required": ["name", "age", "color", "indoor"],
    "additionalProperties": False,
}


def main() -> int:
    start = time.perf_counter()
    from .default_model import load_default_model

    load_default_model()
    loaded = time.perf_counter()
    try:
        out = generate(prompt=PROMPT, schema=SCHEMA, max_new_tokens=128)
    except GenerationError as exc:
        print(f"error: {exc}\npartial output: {exc.text}", file=sys.stderr)
        return 1
    print(f"prompt: {PROMPT}")
    print(f"schema: {json.dumps(SCHEMA)}")
    print(out.text)
    print(f"-- valid for the schema; {len(out.token_ids)} tokens in {out.generate_seconds:.1f} s "
          f"({out.tokens_per_second:.1f} tokens/s); model load {loaded - start:.1f} s, "
          f"schema compile {out.compile_seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
