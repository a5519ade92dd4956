"""`syncode.generate` and `syncode.stream`: constrained generation in one call.

Owns the user-facing path from (model, prompt, schema or grammar) to a checked result:
resolving the model and tokenizer (the embedded default, a local path, or objects given),
building the prompt (chat template; a schema described as an outline of its keys,
`schema_prompt.py`), compiling the grammar (kept per process), decoding through
`GrammarLogitsProcessor`, and checking the output: a schema's output is parsed and validated
with `jsonschema` (or the pydantic model), and an output cut off by `max_new_tokens` before
the grammar is complete raises `IncompleteGenerationError`.
"""
from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import torch

from .bitmask import apply_token_bitmask_inplace
from .compiler import CompiledGrammar, compile_grammar
from .grammar import Grammar
from .healing import HealedMatcher, heal_prompt
from .hf import GrammarLogitsProcessor
from .matcher import GrammarMatcher
from .schema_prompt import schema_instruction
from .speculative import DecodeStats, Speculation, decode, sampling_probs
from .tokenizer_info import TokenizerInfo


class GenerationError(RuntimeError):
    """Constrained generation did not produce a valid output; `text` holds what it produced."""

    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text


class IncompleteGenerationError(GenerationError):
    """`max_new_tokens` was reached before the grammar was complete."""


class InvalidOutputError(GenerationError):
    """The output is complete for the grammar but fails the schema's validation (possible
    only with `lenient=True`, whose approximations allow more than the schema)."""


@dataclass
class Generation:
    """One constrained generation: the text, its parsed value (for a schema), and figures."""

    text: str
    value: Any = None
    token_ids: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    compile_seconds: float = 0.0
    generate_seconds: float = 0.0
    decode_stats: DecodeStats | None = None  # from syncode's own decode loop (healing, speculative)

    @property
    def tokens_per_second(self) -> float:
        return len(self.token_ids) / self.generate_seconds if self.generate_seconds > 0 else 0.0


@dataclass
class _Job:
    model: Any
    tokenizer: Any
    info: TokenizerInfo
    compiled: CompiledGrammar
    check: Any  # callable(text) -> value
    schema: Any
    compile_seconds: float


def generate(
    model: Any = None,
    prompt: str | Sequence[str] = "",
    *,
    schema: Any = None,
    grammar: str | Grammar | None = None,
    tokenizer: Any = None,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    chat: bool = True,
    include_schema: bool = True,
    heal: bool | None = None,
    speculative: bool | Speculation | Any = None,
    **schema_options: Any,
) -> Generation | list[Generation]:
    """Generate text constrained to `schema` (a JSON Schema dict/text or a pydantic model
    class) or `grammar` (a built-in name, a `Grammar`, or Lark text); JSON when neither.

    `model`: None for the embedded default (SmolLM2-135M-Instruct), a local path, or a
    transformers model (its tokenizer found from `name_or_path` or given as `tokenizer`).
    `temperature` 0 is greedy. A list of prompts runs as one batch. With `include_schema` (the
    default) the schema is added to the prompt, described in words: an outline of its keys with
    their types, whether each is required, and their descriptions (`schema_prompt.py`; small
    models copy a schema given as JSON text instead of writing an instance). Raises
    `IncompleteGenerationError` when `max_new_tokens` ends the output before the grammar is
    complete, never returning a partial output as if it were valid.

    `heal`: token alignment for a prompt that ends inside what would be one token (`x = `,
    `http:`): the last prompt tokens are backed off and the output must start with their
    bytes, which the returned text leaves out (`docs/healing-and-speculative.md`). Default:
    on for raw prompts (no chat template applied), off for chat prompts. `speculative`: True,
    a `Speculation`, or a draft model (same tokenizer): speculative decoding verified by the
    model, the same output distribution (greedy: the same tokens). Both run syncode's own
    decode loop, one prompt at a time; `Generation.decode_stats` has its figures.
    """
    job = _prepare(model, tokenizer, schema, grammar, schema_options)
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not prompts:
        raise ValueError("no prompt given")
    texts = [_build_prompt(job, p, chat, include_schema) for p in prompts]
    if heal is None:
        heal = not (chat and getattr(job.tokenizer, "chat_template", None))
    if heal or speculative:
        results = [_decode_one(job, text, heal, _speculation(speculative), max_new_tokens, temperature, top_p, top_k,
                               seed) for text in texts]
        return results[0] if isinstance(prompt, str) else results
    tok = job.tokenizer
    side = tok.padding_side
    tok.padding_side = "left"
    try:
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tok.padding_side = side
    eos = job.model.generation_config.eos_token_id
    processor = GrammarLogitsProcessor(job.compiled, eos_token_ids=eos, pad_token_id=tok.pad_token_id)
    options = _sampling(temperature, top_p, top_k, seed)
    start = time.perf_counter()
    with torch.inference_mode():
        out = job.model.generate(**batch, logits_processor=[processor], max_new_tokens=max_new_tokens,
                                 pad_token_id=tok.pad_token_id, **options)
    seconds = time.perf_counter() - start
    processor.update(out)
    prompt_len = batch["input_ids"].shape[1]
    results = []
    for row in range(len(prompts)):
        ids = out[row, prompt_len:].tolist()[: _content_length(processor.matchers[row])]
        text = job.info.decode(ids).decode("utf-8", errors="replace")
        if not processor.is_complete(row):
            raise IncompleteGenerationError(
                f"max_new_tokens={max_new_tokens} reached before the output was complete (row {row})", text)
        results.append(Generation(text, job.check(text), ids, int(batch["attention_mask"][row].sum()),
                                  job.compile_seconds, seconds))
    return results[0] if isinstance(prompt, str) else results


def stream(
    model: Any = None,
    prompt: str = "",
    *,
    schema: Any = None,
    grammar: str | Grammar | None = None,
    tokenizer: Any = None,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    chat: bool = True,
    include_schema: bool = True,
    **schema_options: Any,
) -> Iterator[str]:
    """Like `generate` for one prompt, yielding the text piece by piece as it is decoded
    (whole UTF-8 characters only). Checks the output at the end like `generate`."""
    job = _prepare(model, tokenizer, schema, grammar, schema_options)
    text = _build_prompt(job, prompt, chat, include_schema)
    ids = job.tokenizer(text, add_special_tokens=False)["input_ids"]
    matcher = GrammarMatcher(job.compiled)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    bitmask = torch.zeros((1, job.info.bitmask_words), dtype=torch.int32)
    out: list[int] = []
    pending = b""
    past = None
    inputs = torch.tensor([ids])
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            result = job.model(input_ids=inputs, past_key_values=past, use_cache=True)
            past = result.past_key_values
            logits = result.logits[:, -1, :].float()
            matcher.fill_next_token_bitmask(bitmask, 0)
            apply_token_bitmask_inplace(logits, bitmask)
            token = _pick(logits, temperature, top_p, top_k, generator)
            if not matcher.accept_token(token):
                raise RuntimeError(f"the matcher refused its own allowed token {token}")
            if matcher.is_terminated():
                break
            out.append(token)
            pending += job.info.token_bytes[token] or b""
            piece, pending = _complete_utf8(pending)
            if piece:
                yield piece
            inputs = torch.tensor([[token]])
    text_out = job.info.decode(out).decode("utf-8", errors="replace")
    if not (matcher.is_terminated() or matcher.is_accepting()):
        raise IncompleteGenerationError(f"max_new_tokens={max_new_tokens} reached before the output was complete",
                                        text_out)
    if pending:
        yield pending.decode("utf-8", errors="replace")
    job.check(text_out)


# ---------------------------------------------------------------------------- helpers
def _prepare(model, tokenizer, schema, grammar, schema_options) -> _Job:
    if schema is not None and grammar is not None:
        raise ValueError("give either schema= or grammar=, not both")
    if schema_options and schema is None:
        raise ValueError(f"schema options {sorted(schema_options)} given without a schema")
    start = time.perf_counter()  # the grammar first: a bad schema fails before any model loads
    if schema is not None:
        key = _schema_key(schema)
        g = _schema_grammar(key, tuple(sorted(schema_options.items())))
        check = _schema_checker(schema, json.loads(key))
    else:
        g = _grammar(grammar if grammar is not None else "json")
        check = _grammar_checker(grammar)
    grammar_seconds = time.perf_counter() - start
    model, tokenizer = _resolve_model(model, tokenizer)
    info = _tokenizer_info(tokenizer, model.config.vocab_size)
    start = time.perf_counter()
    compiled = _compiled(g, info)
    return _Job(model, tokenizer, info, compiled, check, schema, grammar_seconds + time.perf_counter() - start)


def _resolve_model(model, tokenizer):
    if model is None:
        from .default_model import load_default_model

        default_model, default_tokenizer = load_default_model()
        return default_model, tokenizer or default_tokenizer
    if isinstance(model, str):
        return _load_local(model) if tokenizer is None else (_load_local(model)[0], tokenizer)
    if tokenizer is None:
        from transformers import AutoTokenizer

        path = getattr(model, "name_or_path", None) or getattr(model.config, "_name_or_path", None)
        if not path:
            raise ValueError("the model's tokenizer cannot be found: pass tokenizer=")
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model, tokenizer


@functools.lru_cache(maxsize=4)
def _load_local(path: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    except OSError as exc:
        raise FileNotFoundError(f"no model at {path!r} (models are loaded from local files only): {exc}") from exc
    model.eval()
    return model, tokenizer


_INFOS: dict[tuple[int, int], TokenizerInfo] = {}


def _tokenizer_info(tokenizer, vocab_size: int) -> TokenizerInfo:
    key = (id(tokenizer), vocab_size)
    if key not in _INFOS:
        _INFOS[key] = TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
    return _INFOS[key]


def _schema_key(schema) -> str:
    if isinstance(schema, type):
        return json.dumps(schema.model_json_schema())
    return schema if isinstance(schema, str) else json.dumps(schema)  # key order is property order


@functools.lru_cache(maxsize=256)
def _schema_grammar(schema_json: str, options: tuple) -> Grammar:
    return Grammar.from_json_schema(schema_json, **dict(options))


@functools.lru_cache(maxsize=64)
def _grammar(grammar: str | Grammar) -> Grammar:
    if isinstance(grammar, Grammar):
        return grammar
    if grammar in Grammar.builtin_names():
        return Grammar.builtin(grammar)
    return Grammar.from_lark(grammar)


@functools.lru_cache(maxsize=256)
def _compiled(grammar: Grammar, info: TokenizerInfo) -> CompiledGrammar:
    return compile_grammar(grammar, info)


def _schema_checker(schema, loaded):
    if isinstance(schema, type) and hasattr(schema, "model_validate_json"):
        def check_model(text: str):
            try:
                return schema.model_validate_json(text)
            except Exception as exc:
                raise InvalidOutputError(f"the output does not validate as {schema.__name__}: {exc}", text) from exc
        return check_model
    import jsonschema

    validator_class = jsonschema.validators.validator_for(loaded, default=jsonschema.Draft202012Validator)
    validator = validator_class(loaded, format_checker=validator_class.FORMAT_CHECKER)

    def check(text: str):
        value = json.loads(text)
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            raise InvalidOutputError(f"the output does not validate against the schema: {error.message}", text)
        return value
    return check


def _grammar_checker(grammar):
    if grammar is None or grammar == "json":
        return json.loads
    return lambda text: None


def _build_prompt(job: _Job, prompt: str, chat: bool, include_schema: bool) -> str:
    if job.schema is not None and include_schema:
        schema = job.schema.model_json_schema() if isinstance(job.schema, type) else job.schema
        prompt = f"{prompt}\n\n{schema_instruction(schema)}"
    if chat and getattr(job.tokenizer, "chat_template", None):
        return job.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                 add_generation_prompt=True)
    return prompt


def _sampling(temperature: float, top_p: float, top_k: int | None, seed: int | None) -> dict:
    if temperature < 0:
        raise ValueError("temperature must be >= 0")
    if temperature == 0:
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    if seed is not None:
        torch.manual_seed(seed)
    return {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": top_k or 0}


def _pick(logits: torch.Tensor, temperature: float, top_p: float, top_k: int | None, generator) -> int:
    if temperature == 0:
        return int(torch.argmax(logits, dim=-1))
    return int(torch.multinomial(sampling_probs(logits, temperature, top_p, top_k), 1, generator=generator))


def _speculation(speculative) -> Speculation | None:
    if not speculative:
        return None
    if speculative is True:
        return Speculation()
    if isinstance(speculative, Speculation):
        return speculative
    return Speculation(draft_model=speculative)


def _decode_one(job: _Job, text: str, heal: bool, speculation: Speculation | None, max_new_tokens: int,
                temperature: float, top_p: float, top_k: int | None, seed: int | None) -> Generation:
    """One prompt through syncode's decode loop (token alignment, speculative decoding)."""
    ids = job.tokenizer(text, add_special_tokens=False)["input_ids"]
    grammar_matcher = GrammarMatcher(job.compiled)
    healing = heal_prompt(job.info, ids, grammar_matcher) if heal else None
    matcher = HealedMatcher(job.info, healing.healed, grammar_matcher) if healing and healing.removed else grammar_matcher
    kept, healed = (healing.kept, healing.healed) if healing else (ids, b"")
    start = time.perf_counter()
    tokens, stats = decode(job.model, kept, matcher, job.info, max_new_tokens=max_new_tokens, temperature=temperature,
                           top_p=top_p, top_k=top_k, seed=seed, speculation=speculation)
    seconds = time.perf_counter() - start
    content = tokens[:-1] if matcher.is_terminated() else tokens
    out = job.info.decode(content)[len(healed):].decode("utf-8", errors="replace")
    if not (matcher.is_terminated() or matcher.is_accepting()):
        raise IncompleteGenerationError(f"max_new_tokens={max_new_tokens} reached before the output was complete", out)
    return Generation(out, job.check(out), content, len(kept), job.compile_seconds, seconds, stats)


def _content_length(matcher: GrammarMatcher) -> int:
    """How many generated tokens the grammar matched (a stop token it accepted excluded)."""
    return matcher.num_accepted_tokens - (1 if matcher.is_terminated() else 0)


def _complete_utf8(data: bytes) -> tuple[str, bytes]:
    """Decode the longest prefix of `data` that ends on a character boundary."""
    for cut in range(len(data), max(len(data) - 4, -1), -1):
        try:
            return data[:cut].decode("utf-8"), data[cut:]
        except UnicodeDecodeError:
            continue
    return "", data
