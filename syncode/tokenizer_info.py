"""Tokenizer vocabularies as bytes.

Owns the answer to "what exact bytes does token t add to the output?" for every token of a
tokenizer: byte-level BPE (GPT-2 byte table, `Ġ` = space), SentencePiece (`▁` = space, `<0xNN>`
byte fallback), and added tokens. Special tokens contribute no text and are never allowed
inside grammar text; the stop (EOS) ids are allowed only where the grammar may end.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Iterable, Sequence

import numpy as np

_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


class TokenizerError(ValueError):
    """The tokenizer cannot be turned into a byte vocabulary."""


def gpt2_byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's bytes-to-unicode table used by byte-level BPE vocabularies."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


class TokenizerInfo:
    """The vocabulary of a tokenizer as bytes, plus its stop tokens and the logits width.

    `token_bytes[t]` is the text token t adds, or None for special tokens (no text).
    `vocab_size` is the width of the model's logits; ids at or past `len(token_bytes)` are
    never allowed.
    """

    def __init__(
        self,
        token_bytes: Sequence[bytes | None],
        stop_token_ids: Iterable[int] = (),
        vocab_size: int | None = None,
    ) -> None:
        self.token_bytes: list[bytes | None] = list(token_bytes)
        n = len(self.token_bytes)
        self.vocab_size = n if vocab_size is None else int(vocab_size)
        if self.vocab_size < n:
            raise TokenizerError(f"vocab_size {self.vocab_size} is smaller than the tokenizer's {n} tokens")
        stops = sorted(set(int(t) for t in stop_token_ids))
        for t in stops:
            if not 0 <= t < self.vocab_size:
                raise TokenizerError(f"stop token id {t} is outside the vocabulary (0..{self.vocab_size - 1})")
        self.stop_token_ids = np.array(stops, dtype=np.int32)
        lengths = np.array([len(b) if b is not None else 0 for b in self.token_bytes], dtype=np.int64)
        self.offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        self.flat = np.frombuffer(b"".join(b for b in self.token_bytes if b is not None), dtype=np.uint8).copy()
        self.max_token_len = int(lengths.max()) if n else 0
        digest = hashlib.sha256()
        digest.update(self.offsets.tobytes())
        digest.update(self.flat.tobytes())
        digest.update(np.array([b is None for b in self.token_bytes], dtype=bool).tobytes())
        self.fingerprint = digest.hexdigest()

    @property
    def bitmask_words(self) -> int:
        """int32 words per bitmask row: ceil(vocab_size / 32)."""
        return (self.vocab_size + 31) // 32

    @property
    def n_tokens(self) -> int:
        """Tokens the tokenizer defines (<= vocab_size)."""
        return len(self.token_bytes)

    def decode(self, ids: Iterable[int]) -> bytes:
        """The bytes a sequence of ids adds (special tokens add nothing)."""
        return b"".join(self.token_bytes[i] or b"" for i in ids if i < self.n_tokens)

    @classmethod
    def from_huggingface(
        cls,
        tokenizer,
        vocab_size: int | None = None,
        stop_token_ids: Iterable[int] | None = None,
    ) -> "TokenizerInfo":
        """From a transformers tokenizer (fast tokenizers: byte-level BPE or SentencePiece).

        Stop ids: the tokenizer's EOS plus any `stop_token_ids` given.
        """
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise TokenizerError("only fast (tokenizers-backed) Hugging Face tokenizers are supported")
        spec = json.loads(backend.to_str())
        kind = _vocabulary_kind(spec)
        n = len(tokenizer)
        pieces = tokenizer.convert_ids_to_tokens(list(range(n)))
        added = {int(i): tok for i, tok in tokenizer.added_tokens_decoder.items()}
        byte_decoder = gpt2_byte_decoder() if kind == "byte_level" else None
        token_bytes: list[bytes | None] = []
        for i, piece in enumerate(pieces):
            if i in added:
                token_bytes.append(None if added[i].special else added[i].content.encode("utf-8"))
            elif piece is None:
                token_bytes.append(None)
            elif kind == "byte_level":
                try:
                    token_bytes.append(bytes(byte_decoder[c] for c in piece))
                except KeyError as exc:
                    raise TokenizerError(f"token {i} {piece!r} has a character outside the byte-level table") from exc
            else:
                match = _BYTE_FALLBACK.match(piece)
                token_bytes.append(bytes([int(match.group(1), 16)]) if match else piece.replace("▁", " ").encode("utf-8"))
        stops = set(stop_token_ids or ())
        if tokenizer.eos_token_id is not None:
            stops.add(int(tokenizer.eos_token_id))
        if not stops:
            raise TokenizerError("the tokenizer has no EOS token: pass stop_token_ids")
        for t in stops:
            if t < n:
                token_bytes[t] = None
        return cls(token_bytes, stop_token_ids=stops, vocab_size=vocab_size)

    def __repr__(self) -> str:
        return f"TokenizerInfo({self.n_tokens} tokens, vocab_size={self.vocab_size}, stops={self.stop_token_ids.tolist()})"


def _vocabulary_kind(spec: dict) -> str:
    """'byte_level' or 'sentencepiece', from a tokenizer.json's decoder and pre-tokenizer."""
    def types(node) -> list[str]:
        if not node:
            return []
        found = [node.get("type", "")]
        for child in node.get("decoders", []) + node.get("pretokenizers", []):
            found += types(child)
        return found

    names = types(spec.get("decoder")) + types(spec.get("pre_tokenizer"))
    if "ByteLevel" in names:
        return "byte_level"
    if "Metaspace" in names or "ByteFallback" in names or "Replace" in names:
        return "sentencepiece"
    if spec.get("model", {}).get("byte_fallback"):
        return "sentencepiece"
    raise TokenizerError(f"unrecognised tokenizer decoder {names}: neither byte-level BPE nor SentencePiece")
