"""syncode.generate / syncode.stream and the command line: a tiny random model for the
mechanics (batches, streaming, limits, errors), the embedded default model end to end."""
from __future__ import annotations

import json
from types import SimpleNamespace

import jsonschema
import pydantic
import pytest
from conftest import tiny_model

import syncode
from syncode import cli
from syncode.generation import IncompleteGenerationError, _build_prompt, generate, stream
from syncode.schema_prompt import schema_instruction

COLOR = {"enum": ["red", "green", "blue"]}
RECORD = {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"enum": [1, 2, 3]}},
          "required": ["ok", "n"], "additionalProperties": False}


class Pet(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")  # additionalProperties: false
    kind: str = pydantic.Field(pattern="^(cat|dog)$")
    legs: int = pydantic.Field(ge=0, le=4)


def tiny_generate(prompt, **kwargs):
    model, tok, _ = tiny_model()
    return syncode.generate(model, prompt, tokenizer=tok, **kwargs)


def test_schema_output_is_parsed_and_valid():
    out = tiny_generate("colour?", schema=RECORD, max_new_tokens=40)
    jsonschema.validate(out.value, RECORD)
    assert json.loads(out.text) == out.value and out.token_ids and out.generate_seconds > 0


def test_batch_of_prompts_one_call():
    outs = tiny_generate(["a", "a much longer prompt than the first", "c"], schema=COLOR, max_new_tokens=60)
    assert len(outs) == 3 and all(o.value in COLOR["enum"] for o in outs)


def test_sampling_with_seed_is_valid_and_repeatable():
    first = [tiny_generate("x", schema=RECORD, temperature=1.0, top_p=0.9, seed=s, max_new_tokens=40).value
             for s in range(5)]
    again = [tiny_generate("x", schema=RECORD, temperature=1.0, top_p=0.9, seed=s, max_new_tokens=40).value
             for s in range(5)]
    assert first == again
    for value in first:
        jsonschema.validate(value, RECORD)


def test_max_new_tokens_before_completion_raises_with_partial_text():
    with pytest.raises(IncompleteGenerationError) as info:
        tiny_generate("x", schema=RECORD, max_new_tokens=2)
    assert info.value.text.strip() in ("", "{") or info.value.text.lstrip().startswith("{")  # the prefix is kept
    assert "max_new_tokens=2" in str(info.value)


def test_stream_pieces_join_to_the_greedy_text():
    model, tok, _ = tiny_model()
    pieces = list(stream(model, "colour?", tokenizer=tok, schema=RECORD, max_new_tokens=40))
    assert "".join(pieces) == tiny_generate("colour?", schema=RECORD, max_new_tokens=40).text


def test_pydantic_model_gives_an_instance():
    out = tiny_generate("a pet", schema=Pet, max_new_tokens=120)
    assert isinstance(out.value, Pet) and out.value.kind in ("cat", "dog")


def test_grammar_by_name_and_lark_text():
    out = tiny_generate("x", grammar='start: "yes" | "no"', max_new_tokens=5)
    assert out.text in ("yes", "no")


def test_schema_and_grammar_together_is_an_error():
    with pytest.raises(ValueError, match="either schema= or grammar="):
        tiny_generate("x", schema=COLOR, grammar="json")


# ------------------------------------------------------------------ command line
def test_cli_lists_grammars(capsys):
    assert cli.main(["grammars"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == syncode.Grammar.builtin_names()


@pytest.mark.parametrize("schema,message", [
    ('{"type": "strin"}', "InvalidSchemaError: schema is not valid at #/type"),
    ('{"type": "array", "uniqueItems": true}', "UnsupportedSchemaError: unsupported JSON Schema keyword 'uniqueItems' at #/uniqueItems"),
    ("{not json", "is not valid JSON"),
])
def test_cli_errors_are_one_line_and_nonzero(tmp_path, capsys, schema, message):
    path = tmp_path / "s.json"
    path.write_text(schema)
    assert cli.main(["generate", "hi", "--schema", str(path)]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_missing_files(capsys):
    assert cli.main(["generate", "hi", "--schema", "/nonexistent.json"]) == 1
    assert cli.main(["compile", "--grammar", "nope", "--tokenizer", "/nonexistent"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert "does not exist" in err[0] and "neither a built-in grammar" in err[1]


def test_cli_debug_shows_the_exception(tmp_path):
    with pytest.raises(FileNotFoundError):
        cli.main(["--debug", "generate", "hi", "--schema", "/nonexistent.json"])


def test_cli_compile_reports_json(capsys):
    from conftest import shared_path

    assert cli.main(["compile", "--grammar", "json", "--tokenizer", str(shared_path("tokenizers", "smollm2")), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["contexts"] > 0 and record["entries_built"] + record["entries_loaded"] == record["lexer_states"]


# ------------------------------------------------------------------ the prompt built for a schema
FLIGHT = {"properties": {"origin": {"description": "The origin airport", "type": "string"},
                         "when": {"properties": {"date": {"format": "date", "type": "string"}}, "type": "object"},
                         "seats": {"items": {"enum": ["aisle", "window"], "type": "string"}, "type": "array"},
                         "passengers": {"minimum": 1, "type": "integer"}},
          "required": ["origin", "passengers"], "type": "object"}


def test_schema_prompt_outlines_keys_instead_of_the_schema_text():
    text = _build_prompt(SimpleNamespace(schema=FLIGHT, tokenizer=None), "Book a flight.", chat=False,
                         include_schema=True)
    assert text.startswith("Book a flight.\n\nAnswer with one JSON value (object) and nothing else. Its keys:\n")
    assert text.splitlines()[3:] == [
        "- origin (string, required): The origin airport",
        "- when (object, optional)",
        "  - date (string, format date, optional)",
        '- seats (array of string, one of "aisle", "window", optional)',
        '- passengers (integer, also {"minimum": 1}, required)',
    ]
    assert '"properties"' not in text  # the schema as JSON text is what small models copy


def test_schema_prompt_leaves_nothing_out_and_can_be_off():
    assert schema_instruction({"type": "object", "properties": {"a": {}}, "additionalProperties": False,
                               "required": ["a", "b"]}).splitlines()[1:] == [
        "- a (any JSON value, required)", "- b (any JSON value, required)"]
    record = schema_instruction(RECORD)
    assert "(object, no other keys)" in record and "- n (one of 1, 2, 3, required)" in record
    assert schema_instruction({"oneOf": [{"required": ["r"]}, {"required": ["w", "h"]}], "dependencies": {"w": ["h"]},
                               "anyOf": [{"required": ["x"]}, {"minProperties": 2}]}) == (
        "Answer with one JSON value (with the keys of exactly one of: r; or w, h, if w is present then also h, "
        'also {"anyOf": [{"required": ["x"]}, {"minProperties": 2}]}) and nothing else.')
    assert schema_instruction({"anyOf": [{"type": "null"}, {"const": 1}]}) == (
        'Answer with one JSON value (also {"anyOf": [{"type": "null"}, {"const": 1}]}) and nothing else.')
    pet = _build_prompt(SimpleNamespace(schema=Pet, tokenizer=None), "A pet.", chat=False, include_schema=True)
    assert '- kind (string, also {"pattern": "^(cat|dog)$"}, required): Kind' in pet
    assert _build_prompt(SimpleNamespace(schema=FLIGHT, tokenizer=None), "x", False, include_schema=False) == "x"


# ------------------------------------------------------------------ the embedded default model
@pytest.mark.model
def test_default_model_end_to_end():
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                               "age": {"type": "integer", "minimum": 0, "maximum": 30}},
              "required": ["name", "age"], "additionalProperties": False}
    out = generate(prompt="Describe a cat.", schema=schema, max_new_tokens=64)
    jsonschema.validate(out.value, schema)
    assert list(out.value) == ["name", "age"]  # schema order


@pytest.mark.model
def test_cli_generate_json_record(capsys):
    assert cli.main(["generate", "Is the sky blue?", "--grammar", "json", "--max-new-tokens", "48", "--json"]) in (0, 2)
