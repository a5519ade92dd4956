"""Token bytes for the four real tokenizers: round trips, spaces, byte fallback, specials."""
from __future__ import annotations

import pytest

import syncode
from conftest import TOKENIZERS, hf_tokenizer, tokenizer_info

TEXTS = [
    "Hello world",
    '{"name": "Alé", "n": [1, 2.5e3]}',
    "  leading spaces\n\ttabs and\r\nnewlines  ",
    "漢字 and emoji 😀👍🏽 and ünïcödé",
    "def f(x):\n    return x ** 2  # comment",
    "SELECT * FROM t WHERE a <> 'b';",
]


@pytest.mark.parametrize("name", TOKENIZERS)
def test_round_trip(name):
    tok, info = hf_tokenizer(name), tokenizer_info(name)
    for text in TEXTS:
        ids = tok.encode(text, add_special_tokens=False)
        got = info.decode(ids)
        if name == "mistral7b":  # SentencePiece marks the start of a text with a space
            assert got == b" " + text.encode() or got == text.encode(), (text, got)
        else:
            assert got == text.encode(), (text, got)


@pytest.mark.parametrize("name", TOKENIZERS)
def test_concatenated_pieces_equal_decode(name):
    """Byte strings of consecutive pieces concatenate to what the tokenizer decodes."""
    tok, info = hf_tokenizer(name), tokenizer_info(name)
    ids = tok.encode("a b  c\n d", add_special_tokens=False)
    assert info.decode(ids).decode().strip() == tok.decode(ids).strip()


def test_byte_level_space_marker():
    tok, info = hf_tokenizer("qwen3"), tokenizer_info("qwen3")
    (space_hello,) = tok.encode(" hello", add_special_tokens=False)
    assert info.token_bytes[space_hello] == b" hello"


def test_sentencepiece_space_and_byte_fallback():
    tok, info = hf_tokenizer("mistral7b"), tokenizer_info("mistral7b")
    vocab = tok.get_vocab()
    assert info.token_bytes[vocab["<0x0A>"]] == b"\n"
    assert info.token_bytes[vocab["<0xFF>"]] == b"\xff"
    assert info.token_bytes[vocab["▁the"]] == b" the"


@pytest.mark.parametrize("name", TOKENIZERS)
def test_special_tokens_have_no_text_and_eos_is_a_stop(name):
    tok, info = hf_tokenizer(name), tokenizer_info(name)
    assert tok.eos_token_id in info.stop_token_ids.tolist()
    assert info.token_bytes[tok.eos_token_id] is None
    for t, added in tok.added_tokens_decoder.items():
        if added.special:
            assert info.token_bytes[t] is None


def test_vocab_size_wider_than_tokenizer_and_extra_stops():
    tok = hf_tokenizer("smollm2")
    info = syncode.TokenizerInfo.from_huggingface(tok, vocab_size=len(tok) + 64, stop_token_ids=[0])
    assert info.vocab_size == len(tok) + 64 and info.n_tokens == len(tok)
    assert {0, tok.eos_token_id} <= set(info.stop_token_ids.tolist())


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(syncode.TokenizerError, match="smaller than"):
        syncode.TokenizerInfo([b"a", b"b"], stop_token_ids=[1], vocab_size=1)
    with pytest.raises(syncode.TokenizerError, match="outside the vocabulary"):
        syncode.TokenizerInfo([b"a", b"b"], stop_token_ids=[5])


def test_fingerprint_depends_on_bytes():
    a = syncode.TokenizerInfo([b"a", b"b", None], stop_token_ids=[2])
    b = syncode.TokenizerInfo([b"a", b"c", None], stop_token_ids=[2])
    assert a.fingerprint != b.fingerprint
