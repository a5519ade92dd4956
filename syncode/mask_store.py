"""The DFA mask store: per lexer context and DFA state, which tokens do what.

Owns the offline work. For each state q of a context's combined DFA, every token of the
vocabulary is read from q once (a Numba kernel over the whole vocabulary) and sorted into:
- *inside*: the token never ends the lexeme; stored as a packed bitset (uint32 words) and,
  for parser states where not every terminal is shiftable, as groups by which terminals
  are still alive after it;
- *first-byte enders*: the token's first byte already ends the lexeme (q accepting); such a
  token is allowed exactly when it is allowed at the start of the next lexeme, so only a
  packed bitset is stored and the matcher ANDs it with that next mask;
- *boundary*: the token ends the lexeme as terminal T after consuming some of its bytes,
  with remainder bytes R; grouped by (T, R) and bucketed by (T, R[0]) so the parser decides
  each group once per step, exactly;
- everything else can never be allowed from q.

A store depends only on the context's DFA tables and the vocabulary bytes, so it is cached
on disk under a key of both (plus the format version) and shared by every grammar that has
the same context. Files are NumPy `.npz` (no pickle) with a SHA-256 checksum of their arrays;
a corrupt or stale file is reported, rebuilt and overwritten, never trusted.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .kernels import classify_tokens
from .tokenizer_info import TokenizerInfo

FORMAT_VERSION = 1
STORE_FIELDS = (
    "inside_words", "die0_words", "grp_ptr", "grp_state", "grp_tok_ptr", "grp_toks",
    "bkt_ptr", "bkt_term", "bkt_byte", "bkt_grp_ptr",
    "bnd_rem_ptr", "bnd_rem", "bnd_tok_ptr", "bnd_toks",
)


class CacheCorruptionWarning(UserWarning):
    """A mask-store cache file failed its checks and was rebuilt."""


def default_cache_dir() -> Path:
    """`SYNCODE_CACHE`, else `masks/` of a source checkout, else the user cache folder."""
    env = os.environ.get("SYNCODE_CACHE")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "masks").is_dir():
        return checkout / "masks"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "syncode" / "masks"


def store_key(trans: np.ndarray, accept: np.ndarray, alive: np.ndarray, info: TokenizerInfo) -> str:
    digest = hashlib.sha256()
    digest.update(f"syncode-mask-store-v{FORMAT_VERSION}:{info.fingerprint}:{info.vocab_size}".encode())
    for arr in (trans, accept, alive):
        digest.update(str(arr.shape).encode())
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()[:40]


def _checksum(arrays: dict[str, np.ndarray]) -> np.ndarray:
    digest = hashlib.sha256()
    for name in STORE_FIELDS:
        arr = np.ascontiguousarray(arrays[name])
        digest.update(name.encode() + str(arr.dtype).encode() + str(arr.shape).encode())
        digest.update(arr.tobytes())
    return np.frombuffer(digest.digest(), dtype=np.uint8).copy()


def build_store(trans: np.ndarray, accept: np.ndarray, info: TokenizerInfo, alive: np.ndarray) -> dict[str, np.ndarray]:
    """Classify the whole vocabulary from every state of one context (local numbering)."""
    n_states = trans.shape[0]
    n_tok = info.n_tokens
    n_words = (info.vocab_size + 31) // 32
    inside_words = np.zeros((n_states, n_words), dtype=np.uint32)
    die0_words = np.zeros((n_states, n_words), dtype=np.uint32)
    die = np.empty(n_tok, dtype=np.int64)
    last = np.empty(n_tok, dtype=np.int32)
    grp_ptr, grp_state, grp_tok_ptr, grp_toks = [0], [], [0], []
    bkt_ptr, bkt_term, bkt_byte, bkt_grp_ptr = [0], [], [], [0]
    bnd_rem_ptr, bnd_rem, bnd_tok_ptr, bnd_toks = [0], [], [0], []
    rem_len = 0
    flat, offsets = info.flat, info.offsets
    for q in range(n_states):
        classify_tokens(trans, q, flat, offsets, die, last)
        inside = np.nonzero(die == -1)[0]
        inside_words[q] = _pack(inside, n_words)
        if accept[q] >= 0:
            die0_words[q] = _pack(np.nonzero(die == 0)[0], n_words)
        if inside.size:
            keys, inverse = np.unique(alive[last[inside]], axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            for g in range(len(keys)):
                members = inside[inverse == g]
                grp_state.append(int(last[members[0]]))
                grp_toks.extend(members.tolist())
                grp_tok_ptr.append(len(grp_toks))
        grp_ptr.append(len(grp_state))

        ends = np.nonzero(die >= 1)[0]
        ends = ends[accept[last[ends]] >= 0]
        groups: dict[tuple[int, bytes], list[int]] = {}
        for t in ends.tolist():
            rem = flat[offsets[t] + die[t]:offsets[t + 1]].tobytes()
            groups.setdefault((int(accept[last[t]]), rem), []).append(t)
        current_bucket = None
        for (term, rem), toks in sorted(groups.items()):
            bucket = (term, rem[0])
            if bucket != current_bucket:
                if current_bucket is not None:
                    bkt_grp_ptr.append(len(bnd_tok_ptr) - 1)
                bkt_term.append(term)
                bkt_byte.append(rem[0])
                current_bucket = bucket
            bnd_rem.append(rem)
            rem_len += len(rem)
            bnd_rem_ptr.append(rem_len)
            bnd_toks.extend(toks)
            bnd_tok_ptr.append(len(bnd_toks))
        if current_bucket is not None:
            bkt_grp_ptr.append(len(bnd_tok_ptr) - 1)
        bkt_ptr.append(len(bkt_term))
    i32 = lambda x: np.array(x, dtype=np.int32)  # noqa: E731
    return {
        "inside_words": inside_words, "die0_words": die0_words,
        "grp_ptr": i32(grp_ptr), "grp_state": i32(grp_state), "grp_tok_ptr": i32(grp_tok_ptr), "grp_toks": i32(grp_toks),
        "bkt_ptr": i32(bkt_ptr), "bkt_term": i32(bkt_term), "bkt_byte": i32(bkt_byte), "bkt_grp_ptr": i32(bkt_grp_ptr),
        "bnd_rem_ptr": i32(bnd_rem_ptr), "bnd_rem": np.frombuffer(b"".join(bnd_rem), dtype=np.uint8).copy(),
        "bnd_tok_ptr": i32(bnd_tok_ptr), "bnd_toks": i32(bnd_toks),
    }


def _pack(token_ids: np.ndarray, n_words: int) -> np.ndarray:
    bits = np.zeros(n_words * 32, dtype=bool)
    bits[token_ids] = True
    return np.packbits(bits, bitorder="little").view("<u4")


def load_or_build_store(
    trans: np.ndarray, accept: np.ndarray, alive: np.ndarray, info: TokenizerInfo, cache_dir: Path | None
) -> tuple[dict[str, np.ndarray], str]:
    """The store of one context, from the cache when a valid file exists.

    Returns (arrays, how) with how in {"loaded", "built", "rebuilt"}.
    """
    key = store_key(trans, accept, alive, info)
    path = cache_dir / f"store-{key}.npz" if cache_dir is not None else None
    how = "built"
    if path is not None and path.exists():
        problem = None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in STORE_FIELDS}
                stored = data["checksum"]
                meta = data["meta"]
            if not np.array_equal(stored, _checksum(arrays)):
                problem = "checksum mismatch"
            elif meta.tolist() != [FORMAT_VERSION, info.vocab_size, trans.shape[0]]:
                problem = f"stale format or shape {meta.tolist()}"
        except Exception as exc:  # any unreadable file is rebuilt
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        if problem is None:
            return arrays, "loaded"
        warnings.warn(f"mask store cache file {path} is corrupt ({problem}); rebuilding it", CacheCorruptionWarning, stacklevel=3)
        how = "rebuilt"
    arrays = build_store(trans, accept, info, alive)
    if path is not None:
        _save(path, arrays, np.array([FORMAT_VERSION, info.vocab_size, trans.shape[0]], dtype=np.int64))
    return arrays, how


def _save(path: Path, arrays: dict[str, np.ndarray], meta: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, checksum=_checksum(arrays), meta=meta, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
