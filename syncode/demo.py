"""`python -m syncode.demo`: one constrained generation with the embedded default model.

Owns the README's main command: the built-in JSON grammar constrains SmolLM2-135M-Instruct
(greedy, CPU) to a JSON object; prints it, checks it parses, and reports the time taken.
"""
from __future__ import annotations

import json
import sys
import time

import torch

from . import Grammar, GrammarMatcher, TokenizerInfo, allocate_token_bitmask, apply_token_bitmask_inplace, compile_grammar
from .default_model import load_default_model

PROMPT = "Describe a cat as a JSON object with the keys name, age and color."


def greedy_constrained(model, matcher: GrammarMatcher, prompt_ids: list[int], max_new_tokens: int) -> list[int]:
    """Greedy decoding where every step's logits are masked by the matcher."""
    bitmask = allocate_token_bitmask(1, matcher.compiled.tokenizer_info.vocab_size)
    past = None
    inputs = torch.tensor([prompt_ids])
    out: list[int] = []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            result = model(input_ids=inputs, past_key_values=past, use_cache=True)
            past = result.past_key_values
            logits = result.logits[:, -1, :].float()
            matcher.fill_next_token_bitmask(bitmask, 0)
            apply_token_bitmask_inplace(logits, bitmask)
            token = int(torch.argmax(logits, dim=-1))
            if not matcher.accept_token(token):
                raise RuntimeError(f"the matcher refused its own allowed token {token}")
            if matcher.is_terminated():
                break
            out.append(token)
            inputs = torch.tensor([[token]])
    return out


def main() -> int:
    torch.manual_seed(0)
    start = time.perf_counter()
    model, tokenizer = load_default_model()
    loaded = time.perf_counter()
    info = TokenizerInfo.from_huggingface(tokenizer, vocab_size=model.config.vocab_size)
    compiled = compile_grammar(Grammar.builtin("json"), info)
    matcher = GrammarMatcher(compiled)
    compiled_at = time.perf_counter()
    messages = [{"role": "user", "content": PROMPT}]
    prompt_ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
    if isinstance(prompt_ids, dict) or hasattr(prompt_ids, "input_ids"):
        prompt_ids = prompt_ids["input_ids"]
    ids = greedy_constrained(model, matcher, list(prompt_ids), max_new_tokens=200)
    done = time.perf_counter()
    text = info.decode(ids).decode("utf-8")
    print(f"prompt: {PROMPT}")
    print(text)
    finished = matcher.is_terminated() or matcher.is_accepting()
    try:
        json.loads(text)
        status = "valid JSON" if finished else "valid JSON prefix (max tokens reached)"
    except json.JSONDecodeError:
        status = "incomplete (max tokens reached before the grammar was complete)"
    print(f"-- {status}; {len(ids)} tokens in {done - compiled_at:.1f} s "
          f"({len(ids) / max(done - compiled_at, 1e-9):.1f} tokens/s); model load {loaded - start:.1f} s, "
          f"grammar compile {compiled_at - loaded:.1f} s")
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
