"""JSON Schema to grammar: every supported keyword, token by token with real tokenizers,
against `jsonschema`'s judgement; errors for what is unsupported; pydantic models."""
from __future__ import annotations

import functools
import itertools
import json
import re
import sys
import warnings

import jsonschema
import pytest

import syncode
from conftest import REPO, force, hf_tokenizer, tokenizer_info
from schema_cases import CASES, raw
from syncode.schema import EmptySchemaWarning, InvalidSchemaError, LenientApproximationWarning, UnsupportedSchemaError

TOKENIZERS = ("qwen3", "llama3")


def is_valid(schema, text: str) -> bool:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(json.loads(text))


@functools.lru_cache(maxsize=None)
def compiled_schema(schema_json: str, tokenizer: str, **options) -> syncode.CompiledGrammar:
    grammar = syncode.Grammar.from_json_schema(schema_json, **options)
    return syncode.compile_grammar(grammar, tokenizer_info(tokenizer), mask_cache_bytes=0)


def accepts(compiled: syncode.CompiledGrammar, tokenizer: str, text: str) -> bool:
    ids = hf_tokenizer(tokenizer).encode(text, add_special_tokens=False)
    n, eos = force(compiled, ids)
    return n == len(ids) and eos


def text_of(instance) -> str:
    return str(instance) if isinstance(instance, raw) else json.dumps(instance)


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
@pytest.mark.parametrize("name,schema,valid,invalid", CASES, ids=[c[0] for c in CASES])
def test_keyword(name, schema, valid, invalid, tokenizer):
    compiled = compiled_schema(json.dumps(schema), tokenizer)
    for instance in valid:
        text = text_of(instance)
        assert is_valid(schema, text), f"test data: {text} is not valid"
        assert accepts(compiled, tokenizer, text), f"valid instance rejected: {text}"
    for instance in invalid:
        text = text_of(instance)
        assert not is_valid(schema, text), f"test data: {text} is valid"
        assert not accepts(compiled, tokenizer, text), f"invalid instance accepted: {text}"


@pytest.mark.parametrize("whitespace,text,ok", [
    ("flexible", '{"a": [1, 2]}', True),
    ("flexible", '{"a":[1,2]}', True),
    ("flexible", '{\n  "a": [\n   1,\n   2\n  ]\n}', True),  # runs of up to max_whitespace=4
    ("flexible", '{\n  "a": [\n    1\n  ]\n}', False),  # a run of 5
    ("flexible", '{"a":      [1]}', False),
    ("compact", '{"a":[1,2]}', True),
    ("compact", '{"a": [1, 2]}', False),
    ("pretty", '{\n  "a": [\n    1,\n    2\n  ]\n}', True),
    ("pretty", '{"a": [1,2]}', True),
    ("pretty", '{"a":[1]}', False),
])
def test_whitespace_policies(whitespace, text, ok):
    schema = json.dumps({"type": "object", "properties": {"a": {"type": "array"}}})
    assert accepts(compiled_schema(schema, "qwen3", whitespace=whitespace), "qwen3", text) == ok


@pytest.mark.parametrize("schema,keyword,pointer", [
    ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "uniqueItems", "#/uniqueItems"),
    ({"properties": {"a": {"type": "string", "pattern": "(a)\\1"}}}, "pattern", "#/properties/a/pattern"),
    ({"dependentRequired": {k: ["z"] for k in "abcde"}}, "dependentRequired", "#/dependentRequired"),
    ({"type": "number", "multipleOf": 0.123456789}, "multipleOf", "#/multipleOf"),
    ({"oneOf": [{"type": "array"}, {"type": "array", "minItems": 1}]}, "oneOf", "#/oneOf"),
    ({"$defs": {"x": {"$dynamicRef": "#meta"}}, "$ref": "#/$defs/x"}, "$dynamicRef", "#/$defs/x/$dynamicRef"),
])
def test_unsupported_names_keyword_and_pointer(schema, keyword, pointer):
    with pytest.raises(UnsupportedSchemaError) as info:
        syncode.Grammar.from_json_schema(schema)
    assert info.value.keyword == keyword and info.value.pointer == pointer
    assert keyword in str(info.value) and pointer in str(info.value)
    with pytest.warns(LenientApproximationWarning, match=re.escape(keyword)):
        syncode.Grammar.from_json_schema(schema, lenient=True)


def test_lenient_approximation_errs_towards_allowing():
    schema = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LenientApproximationWarning)
        compiled = compiled_schema(json.dumps(schema), "qwen3", lenient=True)
    assert accepts(compiled, "qwen3", "[1, 2]")
    assert accepts(compiled, "qwen3", "[1, 1]")  # the documented direction: more is allowed
    assert not accepts(compiled, "qwen3", '["x"]')


@pytest.mark.parametrize("bad,match", [
    ('{"type": ', "not valid JSON"),
    ({"type": "strin"}, "not valid at #/type"),
    ({"minLength": -1}, "not valid at #/minLength"),
    ({"$ref": "#/$defs/missing"}, "cannot resolve"),
    (42, "must be a dict"),
])
def test_malformed_schemas_are_clear_errors(bad, match):
    with pytest.raises(InvalidSchemaError, match=match):
        syncode.Grammar.from_json_schema(bad)


def test_unknown_keywords_warn():
    with pytest.warns(syncode.schema.UnknownKeywordWarning, match="#/nullable"):
        syncode.Grammar.from_json_schema({"type": "string", "nullable": True})


def test_draft07_input():
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "integer"}},
              "type": "array", "items": [{"$ref": "#/definitions/n"}], "additionalItems": {"type": "string"}}
    compiled = compiled_schema(json.dumps(schema), "qwen3")
    assert accepts(compiled, "qwen3", '[1, "a", "b"]')
    assert not accepts(compiled, "qwen3", '[1, 2]')
    assert not accepts(compiled, "qwen3", '["a"]')


def test_pydantic_model_round_trip():
    pydantic = pytest.importorskip("pydantic")

    class Pet(pydantic.BaseModel):
        name: str
        kind: str = pydantic.Field(pattern="^(cat|dog)$")
        age: int = pydantic.Field(ge=0, le=40)

    class Owner(pydantic.BaseModel):
        owner: str
        pets: list[Pet]
        nickname: str | None = None

    compiled = syncode.compile_grammar(syncode.Grammar.from_json_schema(Owner), tokenizer_info("qwen3"), mask_cache_bytes=0)
    value = Owner(owner="Ann", pets=[Pet(name="Rex", kind="dog", age=3)], nickname=None)
    text = value.model_dump_json()
    assert accepts(compiled, "qwen3", text)
    assert Owner.model_validate_json(text) == value
    assert not accepts(compiled, "qwen3", '{"owner": "Ann", "pets": [{"name": "Rex", "kind": "cow", "age": 3}]}')


def test_printable_ascii_is_never_escaped():
    """The documented restriction: `"\\u0061"` spells "a" validly, but printable ASCII is only
    written as itself (json.dumps never escapes it); other characters keep every spelling."""
    compiled = compiled_schema(json.dumps({"type": "object", "properties": {"a": {"const": "é"}}}), "qwen3")
    assert accepts(compiled, "qwen3", '{"a": "é"}') and accepts(compiled, "qwen3", '{"a": "\\u00e9"}')
    assert not accepts(compiled, "qwen3", '{"\\u0061": "é"}')


def test_schema_that_allows_nothing_compiles_to_an_empty_language():
    with pytest.warns(EmptySchemaWarning):
        compiled = compiled_schema(json.dumps({"enum": []}), "qwen3")
    matcher = syncode.GrammarMatcher(compiled)
    assert len(matcher.allowed_token_ids()) == 0 and not matcher.is_accepting()


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]},  # infinite recursion only
    {"type": "array", "items": {"type": "string"}, "contains": {"type": "integer"}},  # contains never satisfiable
    {"type": "array", "prefixItems": [{"type": "integer"}], "items": False, "minItems": 2},
])
def test_dead_ends_allow_no_token(schema):
    """Soundness: a schema whose every value is infinite or contradictory allows no token at
    all, rather than a start that can never be completed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptySchemaWarning)
        compiled = compiled_schema(json.dumps(schema), "qwen3")
    assert len(syncode.GrammarMatcher(compiled).allowed_token_ids()) == 0


def test_draft04_integers_have_no_fraction():
    """Draft 4 judges 1.0 a number, not an integer (draft 6 on: an integer)."""
    for draft, ok in (("http://json-schema.org/draft-04/schema#", False), ("http://json-schema.org/draft-06/schema#", True)):
        schema = {"$schema": draft, "type": "integer"}
        compiled = compiled_schema(json.dumps(schema), "qwen3")
        assert accepts(compiled, "qwen3", "12") and accepts(compiled, "qwen3", "12.0") == ok == is_valid_for(schema, "12.0")


def test_formats_are_checked_as_draft_2020_12_does_in_every_draft():
    """Draft4Validator does not check "date", but an output "2020-02-30" is still no date
    (MaskBench Github_medium/o1053 labels it invalid): formats follow 2020-12's checker."""
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "string", "format": "date"}
    compiled = compiled_schema(json.dumps(schema), "qwen3")
    assert accepts(compiled, "qwen3", '"2020-02-29"')
    assert not accepts(compiled, "qwen3", '"2020-02-30"') and not accepts(compiled, "qwen3", '"2021-02-29"')


def is_valid_for(schema, text: str) -> bool:
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER).is_valid(json.loads(text))


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_draft07_dependencies(tokenizer):
    """Draft-07 `dependencies`: a list is dependentRequired, a schema dependentSchemas."""
    schema = {"$schema": "http://json-schema.org/draft-07/schema#",
              "dependencies": {"b": ["a"], "c": {"properties": {"a": {"type": "string"}}, "required": ["d"]}}}
    compiled = compiled_schema(json.dumps(schema), tokenizer)
    texts = ['{}', '{"a": 1, "b": 2}', '{"d": 1, "c": 2}', '{"b": 1, "c": 2, "a": "x", "d": 4}', '[1]',
             '{"b": 1}', '{"c": 1}', '{"a": 1, "c": 2, "d": 3}', '{"c": 2, "d": 3, "b": 1}']
    for text in texts:
        assert accepts(compiled, tokenizer, text) == is_valid_for(schema, text), text
    assert sum(is_valid_for(schema, t) for t in texts) == 5


def test_dependencies_is_not_a_2020_keyword():
    """Draft 2020-12 has no `dependencies` (its validator ignores it): a warning, no constraint."""
    with pytest.warns(syncode.schema.UnknownKeywordWarning, match="#/dependencies"):
        compiled = compiled_schema(json.dumps({"dependencies": {"b": ["a"]}}), "qwen3")
    assert accepts(compiled, "qwen3", '{"b": 1}') and is_valid({"dependencies": {"b": ["a"]}}, '{"b": 1}')


ONE_OF_REQUIRED = {"type": "object", "properties": {"b": {}, "h": {}, "l": {}, "r": {}, "w": {}},
                   "oneOf": [{"required": ["l", "w"]}, {"required": ["b", "h"]}, {"required": ["r"]}]}


def test_one_of_counts_every_branch_whatever_the_property_order():
    # Each branch's required names used to be chains of their own, so branches admitted
    # different property orders and one that matched could go uncounted:
    # {"w":1,"b":1,"l":1,"h":1,"r":1} (three branches match) was accepted.
    compiled = compiled_schema(json.dumps(ONE_OF_REQUIRED), "qwen3")
    checked = 0
    for size in range(6):
        for names in itertools.permutations("bhlrw", size):
            text = json.dumps({name: 1 for name in names})
            assert accepts(compiled, "qwen3", text) == is_valid(ONE_OF_REQUIRED, text), text
            checked += 1
    assert checked == 326


def test_one_of_that_no_object_satisfies_allows_nothing():
    # All five names required, so every branch matches and oneOf never holds (Glaiveai2K
    # calculate_area_3a8a9f78): the grammar used to allow `{"radius": ...` into a dead end.
    schema = {"type": "object", "properties": {name: {"type": "number"} for name in "blhrw"},
              "required": list("blhrw"),
              "oneOf": [{"required": ["r"]}, {"required": ["l", "w"]}, {"required": ["b", "h"]}]}
    with pytest.warns(EmptySchemaWarning):
        grammar = syncode.Grammar.from_json_schema(schema)
    compiled = syncode.compile_grammar(grammar, tokenizer_info("qwen3"))
    matcher = syncode.GrammarMatcher(compiled)
    assert not matcher.accept_token(hf_tokenizer("qwen3").encode("{", add_special_tokens=False)[0])


@pytest.mark.parametrize("schema, long_valid", [
    ({"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}, "maxItems": 1000},
     [{"k": "x"}] * 1000),
    ({"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 1000},
     {f"p{i}": i for i in range(1000)}),
])
def test_a_thousand_counted_items_or_members_compile(schema, long_valid):
    """maxItems / maxProperties of a thousand (the most syncode takes): a chain of rules
    built without recursion (it hit Python's recursion limit on Github_easy/o9925)."""
    byte_vocab = syncode.TokenizerInfo([bytes([i]) for i in range(256)] + [None], stop_token_ids=[256])
    c = syncode.compile_grammar(syncode.Grammar.from_json_schema(schema, whitespace="compact"), byte_vocab,
                                cache_dir=None)
    too_long = list(long_valid) + [long_valid[0]] if isinstance(long_valid, list) else {**long_valid, "q": 1}
    for instance, ok in ((long_valid, True), (too_long, False)):
        m = syncode.GrammarMatcher(c)
        text = json.dumps(instance, separators=(",", ":")).encode()
        assert (m.accept_bytes(text) and m.is_accepting()) == ok


def test_rule_names_are_never_reused_after_a_rule_is_dropped():
    """Rules are dropped on the way (an unsupported part, a value no instance satisfies);
    naming a new rule by their count named an existing one again, overwriting it
    (Github_hard/o53107 crashed on the double deletion)."""
    from syncode.schema.compiler import SchemaCompiler, SchemaOptions

    compiler = SchemaCompiler({"type": "object"}, SchemaOptions())
    first, second = compiler.new_rule("v"), compiler.new_rule("v")
    compiler.rules[first] = ["A"]
    del compiler.rules[first]
    third = compiler.new_rule("v")
    assert third not in (first, second) and compiler.rules[second] == []


def test_a_schema_the_reference_crawler_trips_over_still_gets_a_clear_answer():
    """`referencing` raises AttributeError crawling JsonSchemaStore's tmlanguage schema (a
    valid draft-07 schema); syncode resolves its local refs without the crawl and reports
    what it cannot express instead of crashing."""
    from conftest import shared_path

    shared_path("jsonschemabench-data", "JsonSchemaStore")
    sys.path.insert(0, str(REPO))
    from jsonschemabench.data import bench_cases

    case = next(c for c in bench_cases("JsonSchemaStore") if c.case_id == "JsonSchemaStore/tmlanguage")
    with pytest.raises(syncode.schema.UnsupportedSchemaError, match="dependencies"):
        syncode.Grammar.from_json_schema(case.schema)
