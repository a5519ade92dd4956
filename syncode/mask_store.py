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
  with remainder bytes R; per T, the remainders form a trie (nodes in preorder, each with the
  index just past its subtree) that the matcher walks with the parser, pruning a subtree at
  the first byte that cannot be lexed, so each group is decided exactly and shared prefixes
  are lexed once;
- everything else can never be allowed from q.

A store depends only on the context's DFA tables and the vocabulary bytes, so it is cached
on disk under a key of both (plus the format version) and shared by every grammar that has
the same context. Files are compressed NumPy `.npz` (no pickle) with a SHA-256 checksum of their arrays;
a corrupt or stale file is reported, rebuilt and overwritten, never trusted.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .kernels import classify_tokens, gather_ranges, group_starts, remainder_keys
from .tokenizer_info import TokenizerInfo

FORMAT_VERSION = 4
STORE_FIELDS = (
    "rows", "inside_row", "die0_row", "grp_ptr", "grp_state", "grp_row",
    "root_ptr", "root_term", "root_lo", "root_hi",
    "node_byte", "node_depth", "node_end", "node_tok_ptr", "node_toks",
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


class RowTable:
    """Packed token bitsets (uint32 words), each distinct row stored once."""

    def __init__(self, n_words: int) -> None:
        self.n_words = n_words
        self.index: dict[bytes, int] = {}
        self.rows: list[np.ndarray] = []

    def add(self, row: np.ndarray) -> int:
        key = row.tobytes()
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.rows)
            self.rows.append(row)
        return found

    def add_tokens(self, token_ids: np.ndarray) -> int:
        bits = np.zeros(self.n_words * 32, dtype=bool)
        bits[token_ids] = True
        return self.add(np.packbits(bits, bitorder="little").view("<u4"))

    def array(self) -> np.ndarray:
        if not self.rows:
            return np.zeros((0, self.n_words), dtype=np.uint32)
        return np.stack(self.rows).astype(np.uint32)


class TrieBuilder:
    """Per state, per terminal, a trie of remainders in preorder (see the module docstring)."""

    def __init__(self) -> None:
        self.root_ptr, self.root_term, self.root_lo, self.root_hi = [0], [], [], []
        self.node_byte: list[int] = []
        self.node_depth: list[int] = []
        self.node_end: list[int] = []
        self.node_tok_ptr = [0]
        self.node_toks: list[np.ndarray] = []
        self._n_toks = 0

    def add_state(self, groups: list[tuple[int, bytes, np.ndarray]]) -> None:
        """`groups`: (terminal, remainder, tokens), sorted by terminal then remainder."""
        k = 0
        while k < len(groups):
            term = groups[k][0]
            self.root_term.append(term)
            self.root_lo.append(len(self.node_byte))
            open_nodes: list[int] = []  # node index per depth - 1 on the current path
            prev = b""
            while k < len(groups) and groups[k][0] == term:
                _, rem, toks = groups[k]
                common = 0
                while common < min(len(prev), len(rem)) and prev[common] == rem[common]:
                    common += 1
                for node in open_nodes[common:]:
                    self.node_end[node] = len(self.node_byte)
                del open_nodes[common:]
                for depth in range(common, len(rem)):
                    open_nodes.append(len(self.node_byte))
                    self.node_byte.append(rem[depth])
                    self.node_depth.append(depth + 1)
                    self.node_end.append(-1)
                    self.node_tok_ptr.append(self._n_toks)
                # Tokens end at the last node of this remainder (a new node: remainders are unique).
                self.node_toks.append(toks.astype(np.int32))
                self._n_toks += len(toks)
                self.node_tok_ptr[-1] = self._n_toks
                prev = rem
                k += 1
            for node in open_nodes:
                self.node_end[node] = len(self.node_byte)
            self.root_hi.append(len(self.node_byte))
        self.root_ptr.append(len(self.root_term))

    def arrays(self) -> dict[str, np.ndarray]:
        i32 = lambda x: np.array(x, dtype=np.int32)  # noqa: E731
        # node_tok_ptr[i + 1] ends node i's tokens; node i's tokens start where node i - 1's end.
        return {
            "root_ptr": i32(self.root_ptr), "root_term": i32(self.root_term),
            "root_lo": i32(self.root_lo), "root_hi": i32(self.root_hi),
            "node_byte": np.array(self.node_byte, dtype=np.uint8), "node_depth": i32(self.node_depth),
            "node_end": i32(self.node_end), "node_tok_ptr": i32(self.node_tok_ptr),
            "node_toks": np.concatenate(self.node_toks).astype(np.int32) if self.node_toks else np.zeros(0, np.int32),
        }


def build_store(trans: np.ndarray, accept: np.ndarray, info: TokenizerInfo, alive: np.ndarray) -> dict[str, np.ndarray]:
    """Classify the whole vocabulary from every state of one context (local numbering)."""
    n_states = trans.shape[0]
    n_tok = info.n_tokens
    table = RowTable(info.bitmask_words)
    _, alive_id = np.unique(alive, axis=0, return_inverse=True)
    alive_id = alive_id.reshape(-1)
    die = np.empty(n_tok, dtype=np.int64)
    last = np.empty(n_tok, dtype=np.int32)
    inside_row = np.zeros(n_states, dtype=np.int32)
    die0_row = np.full(n_states, -1, dtype=np.int32)
    grp_ptr, grp_state, grp_row = [0], [], []
    trie = TrieBuilder()
    flat, offsets = info.flat, info.offsets
    for q in range(n_states):
        classify_tokens(trans, q, flat, offsets, die, last)
        inside = np.nonzero(die == -1)[0]
        inside_row[q] = table.add_tokens(inside)
        if accept[q] >= 0:
            die0_row[q] = table.add_tokens(np.nonzero(die == 0)[0])
        # Inside tokens by the terminals still alive after them (used when some are not shiftable).
        ids = alive_id[last[inside]]
        kinds = np.unique(ids)
        for kind in kinds:
            members = inside if len(kinds) == 1 else inside[ids == kind]
            grp_state.append(int(last[members[0]]))
            grp_row.append(inside_row[q] if len(kinds) == 1 else table.add_tokens(members))
        grp_ptr.append(len(grp_state))

        # Tokens that end the lexeme after consuming some bytes: group by (terminal, remainder).
        ends = np.nonzero(die >= 1)[0]
        ends = ends[accept[last[ends]] >= 0]
        if ends.size:
            terms = accept[last[ends]].astype(np.int64)
            keys = np.empty(ends.size, dtype=np.uint64)
            remainder_keys(flat, offsets, die, ends, terms, keys)
            order = np.argsort(keys, kind="stable")
            ends, keys, terms = ends[order], keys[order], terms[order]
            starts = np.zeros(ends.size, dtype=bool)
            group_starts(flat, offsets, die, ends, keys, starts)
            first = np.nonzero(starts)[0]
            group_ends = np.r_[first[1:], ends.size]
            reps = ends[first]
            rem_lo = offsets[reps] + die[reps]
            rems = gather_ranges(flat, rem_lo, offsets[reps + 1])
            rem_ptr = np.r_[0, np.cumsum(offsets[reps + 1] - rem_lo)]
            groups = sorted(
                (int(terms[k]), rems[rem_ptr[g]:rem_ptr[g + 1]].tobytes(), ends[k:group_ends[g]])
                for g, k in enumerate(first)
            )
            trie.add_state(groups)
        else:
            trie.add_state([])
    i32 = lambda x: np.array(x, dtype=np.int32)  # noqa: E731
    return {
        "rows": table.array(), "inside_row": inside_row, "die0_row": die0_row,
        "grp_ptr": i32(grp_ptr), "grp_state": i32(grp_state), "grp_row": i32(grp_row),
        **trie.arrays(),
    }


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
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            # An .npz written member by member: deflate level 1 compresses the sparse bitsets
            # about as well as the default level, several times faster.
            for name, arr in {"checksum": _checksum(arrays), "meta": meta, **arrays}.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
