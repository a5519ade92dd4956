"""The DFA mask store: per lexer state, which tokens do what.

Owns the offline work. For a state q of a context's combined DFA, every token of the
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
  are lexed once; for the indenter's newline terminal, whose lexeme's end depends on the
  indentation it read, boundary tokens are further grouped by what their consumed bytes do to
  the indentation register (`kernels.step_register`), with one representative per root;
- everything else can never be allowed from q.

That *entry* depends only on the part of the DFA reachable from q (with its accepting and
alive terminals) and on the vocabulary, so it is keyed by a canonical form of exactly that
(`state_signature`): a generic string's interior, say, has one entry shared by every grammar
and schema that contains it, whatever else its context holds. Entries are built on first use
(`store.GrammarStore` asks for the states a mask needs), kept in this process's memory, and the
large ones are cached on disk as compressed NumPy `.npz` (no pickle) with a SHA-256 checksum
of their arrays; a corrupt or stale file is reported, rebuilt and overwritten, never trusted.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading
import warnings
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .kernels import bfs_order, build_remainder_tries, classify_tokens
from .tokenizer_info import TokenizerInfo

FORMAT_VERSION = 6
ENTRY_FIELDS = (
    "inside", "die0", "grp_state", "grp_rows", "root_term", "root_lo", "root_hi",
    "node_byte", "node_depth", "node_end", "node_tok_ptr", "node_toks", "root_rep", "root_cut",
)
DISK_MIN_NODES = 2048  # entries with smaller boundary tries are cheaper to rebuild than to load


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


@dataclass(frozen=True)
class StateSignature:
    """The canonical form of the DFA reachable from one lexer state: `key` names it (with the
    tokenizer), `states` lists the context-local states in canonical order (the state itself
    first) and `terms` the context-local terminals in canonical order."""

    key: str
    states: np.ndarray
    terms: np.ndarray


def state_signature(trans: np.ndarray, accept: np.ndarray, alive: np.ndarray, q: int,
                    info: TokenizerInfo, newline: np.ndarray | None = None) -> StateSignature:
    """The signature of state q of a context (local tables, see `LexerContexts.local_tables`).

    States are numbered breadth-first from q, successors in order of the first byte that
    reaches them; terminals in order of first appearance among the alive ones. Equal keys mean
    equal reachable automata up to renaming, hence equal entries."""
    order = np.empty(trans.shape[0], dtype=np.int32)
    renumber = np.full(trans.shape[0] + 1, -1, dtype=np.int32)  # the last slot maps "dead" (-1)
    states = order[: bfs_order(trans, q, order, renumber)].copy()
    sub_alive = alive[states]
    seen = sub_alive.any(axis=0)
    first_state = np.where(seen, sub_alive.argmax(axis=0), len(states))
    terms = np.lexsort((np.arange(alive.shape[1]), first_state))[: int(seen.sum())].astype(np.int32)
    term_canon = np.full(alive.shape[1] + 1, -1, dtype=np.int32)
    term_canon[terms] = np.arange(len(terms), dtype=np.int32)
    digest = hashlib.sha256()
    digest.update(f"syncode-mask-entry-v{FORMAT_VERSION}:{info.fingerprint}:{info.vocab_size}".encode())
    parts = [renumber[trans[states]], term_canon[accept[states]], sub_alive[:, terms]]
    if newline is not None and newline[terms].any():
        parts.append(newline[terms])
    for arr in parts:
        digest.update(str(arr.shape).encode())
        digest.update(np.ascontiguousarray(arr).tobytes())
    return StateSignature(digest.hexdigest()[:40], states, terms)


def _checksum(arrays: dict[str, np.ndarray]) -> np.ndarray:
    digest = hashlib.sha256()
    for name in ENTRY_FIELDS:
        arr = np.ascontiguousarray(arrays[name])
        digest.update(name.encode() + str(arr.dtype).encode() + str(arr.shape).encode())
        digest.update(arr.tobytes())
    return np.frombuffer(digest.digest(), dtype=np.uint8).copy()


def token_row(token_ids: np.ndarray, n_words: int) -> np.ndarray:
    """The packed bitset (uint32 words) of a set of token ids."""
    bits = np.zeros(n_words * 32, dtype=bool)
    bits[token_ids] = True
    return np.packbits(bits, bitorder="little").view("<u4")


class RowTable:
    """Packed token bitsets (uint32 words), each distinct row stored once; grows as rows come."""

    def __init__(self, n_words: int) -> None:
        self.n_words = n_words
        self.index: dict[bytes, int] = {}
        self._rows = np.zeros((16, n_words), dtype=np.uint32)

    def __len__(self) -> int:
        return len(self.index)

    def add(self, row: np.ndarray) -> int:
        key = row.tobytes()
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.index)
            if found == len(self._rows):
                self._rows = np.concatenate([self._rows, np.zeros_like(self._rows)])
            self._rows[found] = row
        return found

    def array(self) -> np.ndarray:
        return self._rows[: len(self.index)]


def remainder_tries(info: TokenizerInfo, tokens: np.ndarray, rem_lo: np.ndarray, terms: np.ndarray) -> dict[str, np.ndarray]:
    """One state's boundary tokens (remainder starts and terminals, in any order) as a trie of
    remainders per terminal, in preorder (see the module docstring)."""
    order = np.lexsort((suffix_ranks(info)[rem_lo], terms))
    tokens, rem_lo, terms = tokens[order].astype(np.int32), rem_lo[order], terms[order]
    size = int((info.offsets[tokens + 1] - rem_lo).sum())
    node_byte = np.empty(size, np.uint8)
    node_depth, node_end, node_tok_end = (np.empty(size, np.int32) for _ in range(3))
    root_term, root_lo, root_hi = (np.empty(tokens.size, np.int32) for _ in range(3))
    n, r = build_remainder_tries(info.flat, info.offsets, tokens, rem_lo, terms, node_byte, node_depth,
                                 node_end, node_tok_end, root_term, root_lo, root_hi)
    # node_tok_ptr[i + 1] ends node i's tokens; node i's tokens start where node i - 1's end.
    return {"root_term": root_term[:r], "root_lo": root_lo[:r], "root_hi": root_hi[:r],
            "node_byte": node_byte[:n], "node_depth": node_depth[:n], "node_end": node_end[:n],
            "node_tok_ptr": np.r_[0, node_tok_end[:n]].astype(np.int32), "node_toks": tokens}


@functools.lru_cache(maxsize=4)
def suffix_ranks(info: TokenizerInfo) -> np.ndarray:
    """For every byte position p of the vocabulary, the dense rank of the token suffix that
    starts at p among all such suffixes (equal suffixes, equal ranks): sorting remainders by
    rank sorts them as byte strings. Computed once per tokenizer and process (~1 s for 150k tokens)."""
    flat, offsets = info.flat.tobytes(), info.offsets
    ends = np.repeat(offsets[1:], np.diff(offsets)).tolist()
    suffixes = [flat[p:end] for p, end in enumerate(ends)]
    ranks = np.empty(len(suffixes), dtype=np.int64)
    rank, previous = -1, None
    for p in sorted(range(len(suffixes)), key=suffixes.__getitem__):
        if suffixes[p] != previous:
            rank, previous = rank + 1, suffixes[p]
        ranks[p] = rank
    return ranks




def _register_effect(consumed: bytes) -> tuple:
    """What reading `consumed` does to the indentation register, as a key: the whitespace
    after its last newline, or the whitespace run itself, or "past the indentation"."""
    cut = consumed.rfind(b"\n")
    tail = consumed[cut + 1:]
    if tail.strip(b" \t\f"):
        return ("none",)
    return ("after newline", tail) if cut >= 0 else ("whitespace", tail)


def _newline_roots(info: TokenizerInfo, ends: np.ndarray, cut: np.ndarray, is_newline: np.ndarray,
                   keys: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Root keys that split newline boundary tokens by their effect on the register, and per
    effect (numbered from 1) a representative (token, bytes consumed)."""
    effects: dict[tuple, int] = {}
    reps: list[tuple[int, int]] = []
    effect = np.zeros(len(ends), dtype=np.int64)
    flat = info.flat
    for k in np.nonzero(is_newline)[0].tolist():
        tok, n = int(ends[k]), int(cut[k])
        lo = int(info.offsets[tok])
        key = _register_effect(flat[lo:lo + n].tobytes())
        e = effects.get(key)
        if e is None:
            e = effects[key] = len(effects) + 1
            reps.append((tok, n))
        effect[k] = e
    return keys * (len(effects) + 1) + effect, reps


def build_entry(trans: np.ndarray, accept: np.ndarray, alive: np.ndarray, sig: StateSignature,
                info: TokenizerInfo, newline: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Classify the whole vocabulary from the state `sig` describes (context-local tables;
    `newline` marks an indenter's newline terminal); states and terminals in the entry are
    numbered canonically (indices into `sig`)."""
    q = int(sig.states[0])
    words = info.bitmask_words
    state_canon = np.full(trans.shape[0], -1, dtype=np.int32)
    state_canon[sig.states] = np.arange(len(sig.states), dtype=np.int32)
    term_canon = np.full(alive.shape[1] + 1, -1, dtype=np.int32)
    term_canon[sig.terms] = np.arange(len(sig.terms), dtype=np.int32)
    _, alive_id = np.unique(alive, axis=0, return_inverse=True)
    alive_id = alive_id.reshape(-1)
    die = np.empty(info.n_tokens, dtype=np.int64)
    last = np.empty(info.n_tokens, dtype=np.int32)
    classify_tokens(trans, q, info.flat, info.offsets, die, last)
    inside = np.nonzero(die == -1)[0]
    die0 = token_row(np.nonzero(die == 0)[0], words) if accept[q] >= 0 else np.zeros(0, np.uint32)
    # Inside tokens by the terminals still alive after them (used when some are not shiftable).
    ids = alive_id[last[inside]]
    kinds = np.unique(ids)
    grp_state, grp_rows = [], []
    for kind in kinds:
        members = inside if len(kinds) == 1 else inside[ids == kind]
        grp_state.append(state_canon[last[members[0]]])
        grp_rows.append(token_row(members, words))
    # Tokens that end the lexeme after consuming some bytes: tries by (terminal, remainder).
    ends = np.nonzero(die >= 1)[0]
    ends = ends[accept[last[ends]] >= 0]
    keys = term_canon[accept[last[ends]]].astype(np.int64)
    reps: list[tuple[int, int]] = []
    if newline is not None and newline.any():
        keys, reps = _newline_roots(info, ends, die[ends], newline[accept[last[ends]]], keys)
    tries = remainder_tries(info, ends, info.offsets[ends] + die[ends], keys)
    root_rep = np.full(len(tries["root_term"]), -1, dtype=np.int32)
    root_cut = np.full(len(tries["root_term"]), -1, dtype=np.int32)
    if reps:
        effect = tries["root_term"] % (len(reps) + 1)
        tries["root_term"] = (tries["root_term"] // (len(reps) + 1)).astype(np.int32)
        for r in np.nonzero(effect)[0]:
            root_rep[r], root_cut[r] = reps[effect[r] - 1]
    return {
        "root_rep": root_rep, "root_cut": root_cut,
        "inside": token_row(inside, words), "die0": die0,
        "grp_state": np.array(grp_state, dtype=np.int32),
        "grp_rows": np.array(grp_rows, dtype=np.uint32).reshape(len(grp_rows), words),
        **tries,
    }


def load_or_build_entry(trans: np.ndarray, accept: np.ndarray, alive: np.ndarray, sig: StateSignature,
                        info: TokenizerInfo, cache_dir: Path | None,
                        newline: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], str]:
    """The entry of the state `sig` describes, from this process's memory, the disk cache, or
    built. Returns (arrays, how) with how in {"memory", "loaded", "built", "rebuilt"}."""
    arrays = _memory.get((cache_dir, sig.key))
    if arrays is not None:
        return arrays, "memory"
    arrays, how = _load_or_build(trans, accept, alive, sig, info, cache_dir, newline)
    _memory.put((cache_dir, sig.key), arrays)
    return arrays, how


def forget_stores() -> None:
    """Empty this process's memory of entries and cross entries (the disk cache is untouched)."""
    _memory.clear()
    cross_memory.clear()


class _EntryMemory:
    """Arrays already loaded or built in this process, least recently used dropped first once
    `SYNCODE_STORE_MEMORY_MB` (default 512) is exceeded: grammars and schemas share most states."""

    def __init__(self) -> None:
        self.entries: OrderedDict[tuple, dict[str, np.ndarray]] = OrderedDict()
        self.nbytes = 0
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.nbytes = 0

    def get(self, key: tuple) -> dict[str, np.ndarray] | None:
        with self.lock:
            arrays = self.entries.get(key)
            if arrays is not None:
                self.entries.move_to_end(key)
            return arrays

    def put(self, key: tuple, arrays: dict[str, np.ndarray]) -> None:
        limit = int(os.environ.get("SYNCODE_STORE_MEMORY_MB", "512")) << 20
        size = sum(a.nbytes for a in arrays.values())
        with self.lock:
            if key in self.entries or size > limit:
                return
            for a in arrays.values():
                a.flags.writeable = False  # shared by every grammar that has this state
            self.entries[key] = arrays
            self.nbytes += size
            while self.nbytes > limit:
                _, old = self.entries.popitem(last=False)
                self.nbytes -= sum(a.nbytes for a in old.values())


_memory = _EntryMemory()
cross_memory = _EntryMemory()  # store.GrammarStore's cross entries, by (entry, root, next start's signature)


def _load_or_build(trans: np.ndarray, accept: np.ndarray, alive: np.ndarray, sig: StateSignature,
                   info: TokenizerInfo, cache_dir: Path | None,
                   newline: np.ndarray | None) -> tuple[dict[str, np.ndarray], str]:
    path = cache_dir / f"state-{sig.key}.npz" if cache_dir is not None else None
    meta = [FORMAT_VERSION, info.vocab_size, len(sig.states)]
    how = "built"
    if path is not None and path.exists():
        problem = None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in ENTRY_FIELDS}
                stored = data["checksum"]
                stored_meta = data["meta"]
            if not np.array_equal(stored, _checksum(arrays)):
                problem = "checksum mismatch"
            elif stored_meta.tolist() != meta:
                problem = f"stale format or shape {stored_meta.tolist()}"
        except Exception as exc:  # any unreadable file is rebuilt
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        if problem is None:
            return arrays, "loaded"
        warnings.warn(f"mask store cache file {path} is corrupt ({problem}); rebuilding it", CacheCorruptionWarning, stacklevel=5)
        how = "rebuilt"
    arrays = build_entry(trans, accept, alive, sig, info, newline)
    if path is not None and (len(arrays["node_byte"]) >= DISK_MIN_NODES or how == "rebuilt"):
        _save(path, arrays, np.array(meta, dtype=np.int64))
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
