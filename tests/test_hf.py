"""GrammarLogitsProcessor inside transformers' generate: a tiny random Llama whose logits are
wider than the smollm2 tokenizer (padded vocabulary), greedy and sampled, batched with left
padding, reused across calls; plus direct calls for EOS, finished rows and error cases."""
from __future__ import annotations

import functools
import json

import jsonschema
import pytest
import torch
from conftest import EOS, PAD_COLUMNS, tiny_model

import syncode
from syncode.hf import GrammarLogitsProcessor
from syncode.schema import EmptySchemaWarning

ENDOFTEXT = 0  # <|endoftext|>: a special token, used as an extra EOS id
ANSWER = 'start: "yes" | "no" | "maybe"'
COLOR = {"enum": ["red", "green", "blue"]}
RECORD = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "n": {"enum": [1, 2, 3]}},
    "required": ["ok", "n"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The machine is small and shared: the tiny model needs no more than one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@functools.lru_cache(maxsize=None)
def grammar(name: str) -> syncode.CompiledGrammar:
    _, _, info = tiny_model()
    source = {
        "answer": lambda: syncode.Grammar.from_lark(ANSWER),
        "color": lambda: syncode.Grammar.from_json_schema(COLOR),
        "record": lambda: syncode.Grammar.from_json_schema(RECORD),
        "bang": lambda: syncode.Grammar.from_lark('start: "!"? "yes"'),
    }[name]()
    return syncode.compile_grammar(source, info)


def generated(out: torch.Tensor, prompt_len: int, row: int) -> list[int]:
    """A row's new tokens up to (without) its first EOS."""
    ids = out[row, prompt_len:].tolist()
    return ids[: ids.index(EOS)] if EOS in ids else ids


def check_output(name: str, ids: list[int]) -> None:
    """The ids spell a complete sentence of the grammar (and, for schemas, a valid instance)."""
    c = grammar(name)
    m = syncode.GrammarMatcher(c)
    for t in ids:
        assert m.accept_token(t), f"{name}: token {t} {c.tokenizer_info.token_bytes[t]!r} rejected"
    assert m.is_accepting(), f"{name}: incomplete output {c.tokenizer_info.decode(ids)!r}"
    text = c.tokenizer_info.decode(ids).decode("utf-8")
    if name == "answer":
        assert text in ("yes", "no", "maybe")
    elif name in ("color", "record"):
        jsonschema.validate(json.loads(text), COLOR if name == "color" else RECORD)


def prompts(texts: list[str]) -> dict[str, torch.Tensor]:
    _, tok, _ = tiny_model()
    return dict(tok(texts, padding=True, padding_side="left", return_tensors="pt"))


# -- generate ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["answer", "color", "record"])
def test_greedy_output_is_in_the_language(name):
    model, _, _ = tiny_model()
    proc = GrammarLogitsProcessor(grammar(name), eos_token_ids=model.generation_config.eos_token_id)
    inputs = prompts(["Give me an answer:"])
    out = model.generate(**inputs, logits_processor=[proc], max_new_tokens=100, do_sample=False)
    n = inputs["input_ids"].shape[1]
    assert out[0, -1] == EOS, "the grammar's language is finite: generation ends with EOS"
    check_output(name, generated(out, n, 0))
    assert proc.is_complete(0, out) and proc.is_finished(0)


def test_batch_with_a_grammar_per_row_and_left_padding():
    model, _, _ = tiny_model()
    names = ["answer", "color", "record"]
    proc = GrammarLogitsProcessor([grammar(n) for n in names], eos_token_ids=EOS)
    inputs = prompts(["Hi", "Pick a colour for the wall please:", "A record"])
    assert (inputs["attention_mask"] == 0).any(), "the batch is left padded"
    out = model.generate(**inputs, logits_processor=[proc], max_new_tokens=100, do_sample=False)
    n = inputs["input_ids"].shape[1]
    lengths = []
    for row, name in enumerate(names):
        ids = generated(out, n, row)
        check_output(name, ids)
        assert proc.is_complete(row, out)
        lengths.append(len(ids))
    assert len(set(lengths)) > 1, "rows finish at different steps, so finished rows were padded meanwhile"


def test_one_processor_serves_several_generate_calls():
    model, _, _ = tiny_model()
    proc = GrammarLogitsProcessor(grammar("record"), eos_token_ids=EOS)
    first, second = prompts(["One prompt", "and another, longer prompt"]), prompts(["Third"])
    kwargs = dict(logits_processor=[proc], max_new_tokens=100, do_sample=False)
    out1 = model.generate(**first, **kwargs)
    out2 = model.generate(**second, **kwargs)
    out3 = model.generate(**first, **kwargs)  # same prompt again: the same greedy output
    fresh = model.generate(**second, logits_processor=[GrammarLogitsProcessor(grammar("record"), eos_token_ids=EOS)],
                           max_new_tokens=100, do_sample=False)
    assert torch.equal(out1, out3) and torch.equal(out2, fresh)
    for out, inputs in ((out1, first), (out2, second)):
        for row in range(out.shape[0]):
            check_output("record", generated(out, inputs["input_ids"].shape[1], row))


class BoostColumns:
    """A logits processor that makes some columns irresistible."""

    def __init__(self, start: int) -> None:
        self.start = start

    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, self.start:] = 1e4
        return scores


def test_padded_vocabulary_ids_are_never_chosen():
    model, tok, info = tiny_model()
    assert model.config.vocab_size == len(tok) + PAD_COLUMNS == info.vocab_size > info.n_tokens
    proc = GrammarLogitsProcessor(grammar("color"), eos_token_ids=EOS)
    inputs = prompts(["colour"])
    out = model.generate(**inputs, logits_processor=[BoostColumns(len(tok)), proc], max_new_tokens=60,
                         do_sample=False, output_scores=True, return_dict_in_generate=True)
    check_output("color", generated(out.sequences, inputs["input_ids"].shape[1], 0))
    assert int(out.sequences.max()) < len(tok)
    for step in out.scores:
        assert torch.isneginf(step[:, len(tok):]).all()


def test_logits_wider_or_narrower_than_the_vocabulary():
    _, tok, info = tiny_model()
    proc = GrammarLogitsProcessor(grammar("answer"))
    wide = torch.full((1, info.vocab_size + 40), 5.0)  # wider even than the TokenizerInfo's vocab_size
    masked = proc(torch.tensor([[1, 2, 3]]), wide)
    allowed = torch.isfinite(masked[0]).nonzero().flatten().tolist()
    assert allowed and max(allowed) < len(tok)
    assert sorted(allowed) == sorted(syncode.GrammarMatcher(grammar("answer")).allowed_token_ids().tolist())
    assert torch.equal(wide, torch.full_like(wide, 5.0)), "the caller's logits are not modified"
    with pytest.raises(ValueError, match="columns"):
        proc(torch.tensor([[1, 2, 3]]), torch.zeros(1, len(tok) - 1))


def test_sampling_is_valid_over_20_runs():
    model, _, _ = tiny_model()
    settings = [dict(temperature=1.5), dict(top_k=20), dict(top_p=0.9), dict(temperature=0.7, top_k=50, top_p=0.95)]
    procs = {name: GrammarLogitsProcessor(grammar(name), eos_token_ids=EOS) for name in ("answer", "color")}
    inputs = prompts(["Answer:"])
    n = inputs["input_ids"].shape[1]
    torch.manual_seed(1234)
    outputs = set()
    for run in range(20):
        name = ("answer", "color")[run % 2]
        out = model.generate(**inputs, logits_processor=[procs[name]], max_new_tokens=40, do_sample=True,
                             **settings[run % len(settings)])
        ids = generated(out, n, 0)
        check_output(name, ids)
        outputs.add(tuple(ids))
    assert len(outputs) > 2, "sampling explores more than one output"


def test_sampling_warpers_see_masked_logits():
    """Exactness: generate's processed scores equal the warpers applied to the masked raw logits."""
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    model, _, info = tiny_model()
    c = grammar("record")
    proc = GrammarLogitsProcessor(c, eos_token_ids=EOS)
    inputs = prompts(["Sample"])
    n = inputs["input_ids"].shape[1]
    torch.manual_seed(7)
    out = model.generate(**inputs, logits_processor=[proc], max_new_tokens=30, do_sample=True, temperature=0.7,
                         top_k=50, top_p=0.9, num_return_sequences=2, output_scores=True, output_logits=True,
                         return_dict_in_generate=True)
    warpers = [TemperatureLogitsWarper(0.7), TopKLogitsWarper(50), TopPLogitsWarper(0.9)]
    matchers = [syncode.GrammarMatcher(c) for _ in range(2)]
    bitmask = syncode.allocate_token_bitmask(2, info.vocab_size)
    for step, (raw, processed) in enumerate(zip(out.logits, out.scores)):
        expected = raw.clone()
        for row, m in enumerate(matchers):
            m.fill_next_token_bitmask(bitmask, row)
        syncode.apply_token_bitmask_inplace(expected, bitmask)
        for w in warpers:
            expected = w(out.sequences[:, : n + step], expected)
        assert torch.equal(torch.isneginf(expected), torch.isneginf(processed))
        assert torch.allclose(expected[torch.isfinite(expected)], processed[torch.isfinite(processed)])
        for row, m in enumerate(matchers):
            token = int(out.sequences[row, n + step])
            assert m.is_terminated() or m.accept_token(token)


def test_beam_search_is_a_clear_error():
    model, _, _ = tiny_model()
    inputs = prompts(["Beams"])
    shared = GrammarLogitsProcessor(grammar("record"), eos_token_ids=EOS)
    with pytest.raises(ValueError, match="reordered .* beam search"):
        model.generate(**inputs, logits_processor=[shared], max_new_tokens=30, num_beams=3, do_sample=False)
    per_row = GrammarLogitsProcessor([grammar("record")], eos_token_ids=EOS)
    with pytest.raises(ValueError, match="2 rows per grammar: beam search"):
        model.generate(**inputs, logits_processor=[per_row], max_new_tokens=30, num_beams=2, do_sample=False)


def test_another_processor_blocking_every_allowed_token_is_a_clear_error():
    model, _, _ = tiny_model()
    proc = GrammarLogitsProcessor(grammar("answer"), eos_token_ids=EOS)
    with pytest.raises(ValueError, match="min_new_tokens"):
        model.generate(**prompts(["Answer"]), logits_processor=[proc], max_new_tokens=20, min_new_tokens=8,
                       do_sample=False)


# -- direct calls -----------------------------------------------------------------------------
PROMPT = [5, 6, 7]


def test_a_grammar_that_allows_nothing_is_a_clear_error():
    _, _, info = tiny_model()
    with pytest.warns(EmptySchemaWarning):
        empty = syncode.Grammar.from_json_schema({"type": "object", "required": ["a"], "additionalProperties": False})
    proc = GrammarLogitsProcessor(syncode.compile_grammar(empty, info), eos_token_ids=EOS)
    with pytest.raises(ValueError, match="allows no token at all: its language is empty"):
        call(proc, [PROMPT])


def call(proc: GrammarLogitsProcessor, rows: list[list[int]], width: int | None = None) -> torch.Tensor:
    """One processor call on all-zero logits; returns the masked scores."""
    width = width or tiny_model()[2].vocab_size
    return proc(torch.tensor(rows), torch.zeros(len(rows), width))


def test_eos_only_when_the_grammar_is_complete():
    _, tok, _ = tiny_model()
    bang, yes = tok.convert_tokens_to_ids(["!", "yes"])
    # "!" is text of the grammar and also an EOS id: as an EOS it must wait for completion.
    proc = GrammarLogitsProcessor(grammar("bang"), eos_token_ids=[EOS, ENDOFTEXT, bang])
    scores = call(proc, [PROMPT])
    assert torch.isneginf(scores[0, [EOS, ENDOFTEXT, bang]]).all()
    assert torch.isfinite(scores[0, yes])
    scores = call(proc, [PROMPT + [yes]])
    assert torch.isfinite(scores[0, [EOS, ENDOFTEXT, bang]]).all()
    assert proc.is_complete(0) and not proc.is_finished(0)
    scores = call(proc, [PROMPT + [yes, bang]])  # "!" ends the row as an EOS, not as text
    assert proc.is_finished(0) and proc.is_complete(0)
    assert sorted(torch.isfinite(scores[0]).nonzero().flatten().tolist()) == sorted([ENDOFTEXT, EOS, bang])

    plain = GrammarLogitsProcessor(grammar("bang"))  # no extra ids: the special <|endoftext|> is never allowed
    assert torch.isneginf(call(plain, [PROMPT + [yes]])[0, ENDOFTEXT])


def test_finished_rows_are_left_to_generate():
    _, tok, _ = tiny_model()
    yes, no = tok.convert_tokens_to_ids(["yes", "no"])
    proc = GrammarLogitsProcessor(grammar("answer"), eos_token_ids=EOS, pad_token_id=ENDOFTEXT)
    call(proc, [PROMPT, PROMPT, PROMPT])
    call(proc, [PROMPT + [yes], PROMPT + [no], PROMPT + [ENDOFTEXT]])  # row 2 stopped by generate, incomplete
    scores = call(proc, [PROMPT + [yes, EOS], PROMPT + [no, EOS], PROMPT + [ENDOFTEXT, ENDOFTEXT]])
    scores = call(proc, [PROMPT + [yes, EOS, ENDOFTEXT], PROMPT + [no, EOS, ENDOFTEXT],
                         PROMPT + [ENDOFTEXT, ENDOFTEXT, ENDOFTEXT]])  # later pad tokens are ignored
    for row in range(3):
        assert proc.is_finished(row)
        assert sorted(torch.isfinite(scores[row]).nonzero().flatten().tolist()) == [ENDOFTEXT, EOS]
    assert proc.is_complete(0) and proc.is_complete(1) and not proc.is_complete(2)
    # Another processor (min_new_tokens) blocked EOS and pad: a finished row keeps its scores, so
    # sampling still works; generate pads it anyway.
    blocked = torch.zeros(3, tiny_model()[2].vocab_size)
    blocked[:, [EOS, ENDOFTEXT]] = float("-inf")
    rows = [PROMPT + [yes, EOS, ENDOFTEXT, ENDOFTEXT], PROMPT + [no, EOS, ENDOFTEXT, ENDOFTEXT],
            PROMPT + [ENDOFTEXT] * 4]
    assert torch.equal(proc(torch.tensor(rows), blocked), blocked)
    assert proc.matchers[0].is_terminated() and not proc.matchers[2].is_terminated()


def test_a_token_the_grammar_rejects_is_a_clear_error():
    _, tok, _ = tiny_model()
    proc = GrammarLogitsProcessor(grammar("answer"), eos_token_ids=EOS)
    call(proc, [PROMPT])
    with pytest.raises(RuntimeError, match="bypassed"):
        call(proc, [PROMPT + tok.encode("{")])


def test_new_prompts_are_noticed():
    _, tok, _ = tiny_model()
    yes = tok.convert_tokens_to_ids("yes")
    proc = GrammarLogitsProcessor(grammar("answer"), eos_token_ids=EOS)
    call(proc, [PROMPT])
    call(proc, [PROMPT + [yes]])
    assert proc.is_complete(0)
    # same length; one token longer with another prefix; another batch size; shorter
    for rows in ([PROMPT + [8]], [[9, 9, 9, 9, yes]], [PROMPT, PROMPT], [PROMPT]):
        call(proc, rows)
        assert proc.prompt_length == len(rows[0]) and not proc.is_complete(0)
    proc.reset()
    call(proc, [PROMPT + [yes]])  # would have continued without the reset
    assert proc.prompt_length == 4 and not proc.is_complete(0)


def test_update_and_is_complete_with_the_final_output():
    model, _, _ = tiny_model()
    proc = GrammarLogitsProcessor(grammar("record"), eos_token_ids=EOS)
    inputs = prompts(["Short"])
    out = model.generate(**inputs, logits_processor=[proc], max_new_tokens=3, do_sample=False)
    assert not proc.is_complete(0, out) and not proc.is_finished(0)
    assert proc.matchers[0].num_accepted_tokens == 3, "the last token, which no processor call saw, was fed"
    with pytest.raises(ValueError, match="do not continue"):
        proc.update(out[:, :-2])


def test_constructor_checks():
    _, _, info = tiny_model()
    with pytest.raises(ValueError, match="outside the vocabulary"):
        GrammarLogitsProcessor(grammar("answer"), eos_token_ids=info.vocab_size)
    with pytest.raises(ValueError, match="non-empty"):
        GrammarLogitsProcessor([])
    other = syncode.compile_grammar(syncode.Grammar.from_lark(ANSWER), syncode.TokenizerInfo(info.token_bytes, [EOS]))
    with pytest.raises(ValueError, match="same tokenizer"):
        GrammarLogitsProcessor([grammar("answer"), other])
    with pytest.raises(ValueError, match="2 rows for 1 grammars"):
        call(GrammarLogitsProcessor([grammar("answer")]), [PROMPT, PROMPT])


# -- the embedded default model ---------------------------------------------------------------
@pytest.mark.model
def test_default_model_follows_a_schema():
    from syncode.default_model import load_default_model

    model, tok = load_default_model()
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "minimum": 0,
                                                                            "maximum": 30}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    info = syncode.TokenizerInfo.from_huggingface(tok, vocab_size=model.config.vocab_size)
    compiled = syncode.compile_grammar(syncode.Grammar.from_json_schema(schema, whitespace="compact"), info)
    proc = GrammarLogitsProcessor(compiled, eos_token_ids=model.generation_config.eos_token_id)
    messages = [{"role": "user", "content": "Describe a cat named Tom, aged 3, as JSON with keys name and age."}]
    prompt = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**prompt, logits_processor=[proc], max_new_tokens=40, do_sample=False)
    n = prompt["input_ids"].shape[1]
    assert proc.is_complete(0, out)
    ids = [t for t in out[0, n:].tolist() if t not in info.stop_token_ids.tolist()]
    jsonschema.validate(json.loads(info.decode(ids).decode("utf-8")), schema)
