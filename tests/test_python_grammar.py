"""The built-in Python grammar (grammars/python.lark) on real code, through GrammarMatcher.

- Every `.py` file of the installed standard library that CPython compiles is accepted token by
  token, in the tokenizer's own encoding, with EOS allowed at the end (qwen3 and mistral7b): a
  fixed sample of 300 files by default (the next token checked against the mask at sampled
  steps), all of them in the `slow` test.
- Mutations of the sampled files (a bracket deleted, a line's indentation off by one, a hard
  keyword inserted) that CPython rejects are rejected at or after the change, never accepted
  whole with EOS.
- Small cases: indentation widths, brackets, tabs, comments, blank lines, no final newline,
  keywords, soft keywords, the grammar's documented limits.
"""
from __future__ import annotations

import bisect
import functools
import io
import itertools
import random
import sysconfig
import tokenize
import warnings
from pathlib import Path

import pytest

import syncode

from conftest import compiled, hf_tokenizer, is_allowed, new_bitmask, tokenizer_info

TOKENIZERS = ("qwen3", "mistral7b")
SAMPLE = 300
SEED = 6
MASKS_PER_FILE = 1  # masks checked at random steps of each sampled file (uncached fills take ms)
STDLIB = Path(sysconfig.get_paths()["stdlib"])

# CPython errors that come from its compiler or symbol table (or string decoding), which the
# grammar does not check (see the header of grammars/python.lark).
NOT_GRAMMAR_ERRORS = (
    "outside function", "outside loop", "not properly in loop", "outside async function",
    "outside of an asynchronous function", "nonlocal declaration not allowed", "no binding for nonlocal",
    "duplicate argument", "is parameter and", "before global declaration", "before nonlocal declaration",
    "makes remaining patterns unreachable", "alternative patterns bind different names",
    "multiple assignments to name", "keyword argument repeated", "unknown Unicode character name", "f-string",
)


def cpython_error(src: str) -> str | None:
    """None when CPython compiles `src`, else its error message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(src, "<test>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            return exc.msg
        except ValueError as exc:  # null bytes
            return str(exc)
    return None


def stdlib_paths() -> list[Path]:
    """Every .py file of the standard library (site-packages excluded), sorted."""
    return sorted(p for p in STDLIB.rglob("*.py") if "site-packages" not in p.relative_to(STDLIB).parts)


def read_source(path: Path) -> str | None:
    """The file's text as CPython reads it (PEP 263 encoding, universal newlines)."""
    try:
        with tokenize.open(path) as f:
            return f.read()
    except (SyntaxError, UnicodeDecodeError):
        return None


@functools.lru_cache(maxsize=None)
def compiling_sources(limit: int | None) -> tuple[tuple[str, str], ...]:
    """(relative path, text) of stdlib files CPython compiles: all of them, or the first `limit`
    of a fixed shuffle (test data meant to be invalid drops out by this rule, not by name)."""
    paths = stdlib_paths()
    if limit is not None:
        random.Random(SEED).shuffle(paths)
    out = []
    for path in paths:
        src = read_source(path)
        if src is not None and cpython_error(src) is None:
            out.append((str(path.relative_to(STDLIB)), src))
            if limit is not None and len(out) == limit:
                break
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def encoded(tokenizer: str, src: str) -> tuple[int, ...]:
    """`encode`, kept for the files several tests walk."""
    return tuple(encode(tokenizer, src))


def encode(tokenizer: str, src: str) -> list[int]:
    """The tokenizer's encoding of `src`, as token ids whose bytes spell exactly `src`.

    Special-token names in the text stay text. SentencePiece (mistral7b) marks the start of a
    text with a space, which would indent the first line: the text is then encoded after a
    newline, as a model writes it after a prompt, and the tokens of that newline dropped."""
    hf, info = hf_tokenizer(tokenizer), tokenizer_info(tokenizer)
    ids = hf.encode(src, add_special_tokens=False, split_special_tokens=True)
    if spelled(info, ids) != src.encode():
        ids = hf.encode("\n" + src, add_special_tokens=False, split_special_tokens=True)
        k, head = 0, b""
        while head.strip(b" ") != b"\n":
            head += info.token_bytes[ids[k]]
            k += 1
        ids = ids[k:]
    assert spelled(info, ids) == src.encode(), f"{tokenizer} does not spell the text back"
    return ids


def spelled(info: syncode.TokenizerInfo, ids) -> bytes:
    return b"".join(info.token_bytes[t] or b"\x00<special>" for t in ids)


# ------------------------------------------------------------------ mutations

KEYWORDS = ("if", "else", "import", "return", "in", "class", "lambda", "def", "pass", "for", "is", "del")


def mutations(src: str, rng: random.Random) -> list[tuple[str, int, str]]:
    """(kind, character offset of the change, mutated text): one per kind where possible."""
    tokens = list(tokenize.generate_tokens(io.StringIO(src).readline))
    line_starts = [0]
    for line in src.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        return line_starts[pos[0] - 1] + pos[1]

    out = []
    brackets = [t for t in tokens if t.type == tokenize.OP and t.string in "()[]{}"]
    if brackets:
        at = offset(rng.choice(brackets).start)
        out.append(("delete a bracket", at, src[:at] + src[at + 1:]))
    starts = [t for prev, t in zip(tokens, tokens[1:])
              if prev.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT) and t.type not in
              (tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.NL, tokenize.COMMENT)]
    if starts:
        t = rng.choice(starts)
        at = line_starts[t.start[0] - 1]
        if t.start[1] > 0 and rng.random() < 0.5:
            out.append(("indent one column less", at, src[:at] + src[at + 1:]))
        else:
            out.append(("indent one column more", at, src[:at] + " " + src[at:]))
    words = [t for t in tokens if t.type not in (tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.NL,
                                                 tokenize.NEWLINE, tokenize.COMMENT)]
    if words:
        at = offset(rng.choice(words).start)
        out.append(("insert a keyword", at, src[:at] + rng.choice(KEYWORDS) + " " + src[at:]))
    return out


class Walk:
    """One pass over source files with a matcher: each file accepted token by token (the mask
    checked at `masks_per_file` random steps and for EOS at the end), and, with `mutate`, the
    file's mutations that CPython rejects fed from the start of the changed line (the tokens
    before it are the original file's) and rolled back. Results as readable lines."""

    CHUNK = 2000  # characters of a mutated file encoded at a time (most are refused early)

    def __init__(self, tokenizer: str, sources, masks_per_file: int, mutate: bool) -> None:
        self.tokenizer = tokenizer
        self.info = tokenizer_info(tokenizer)
        self.m = syncode.GrammarMatcher(compiled("python", tokenizer))
        self.failures: list[str] = []
        self.mutation_failures: list[str] = []
        self.counts = {"checked": 0, "still compiles": 0, "not a grammar error": 0}
        for name, src in sources:
            self.walk_file(name, src, masks_per_file, mutate)

    def walk_file(self, name: str, src: str, masks_per_file: int, mutate: bool) -> None:
        info, m = self.info, self.m
        ids = encoded(self.tokenizer, src)
        ends = list(itertools.accumulate(len(info.token_bytes[t]) for t in ids))
        rng = random.Random(f"{SEED}:{name}")  # the same mutations and steps whatever else runs
        branches = sorted(self.branches(name, src, ends, rng) if mutate else [], reverse=True)
        masked = set(rng.sample(range(len(ids)), min(masks_per_file, len(ids))))
        bitmask = new_bitmask(info)
        m.reset()
        for k, t in enumerate(ids):
            while branches and branches[-1][0] == k:
                self.branch(*branches.pop())
            if k in masked:
                m.fill_next_token_bitmask(bitmask, 0)
                if not is_allowed(bitmask[0], t):
                    self.failures.append(f"{name}: token {k} {info.token_bytes[t]!r} accepted but not in the mask")
                    return
            if not m.accept_token(t):
                line = spelled(info, ids[:k]).count(b"\n") + 1
                self.failures.append(f"{name}: token {k} {info.token_bytes[t]!r} (line {line}) refused")
                return
        eos = int(info.stop_token_ids[0])
        if masks_per_file:
            m.fill_next_token_bitmask(bitmask, 0)
        if not m.is_accepting() or (masks_per_file and not is_allowed(bitmask[0], eos)):
            self.failures.append(f"{name}: EOS not allowed at the end")

    def branches(self, name: str, src: str, ends: list[int], rng: random.Random):
        """(original tokens to accept first, name, kind, byte offset of the change, mutated
        text from there on, its byte offset) for each mutation CPython rejects."""
        data = src.encode()
        for kind, at, mutated in mutations(src, rng):
            error = cpython_error(mutated)
            if error is None:
                self.counts["still compiles"] += 1
                continue
            if any(part in error for part in NOT_GRAMMAR_ERRORS):
                self.counts["not a grammar error"] += 1
                continue
            line_start = len(src[:src.rfind("\n", 0, at) + 1].encode())
            n = bisect.bisect_right(ends, line_start)  # original tokens ending by the line start
            while n and ends[n - 1] < len(data) and data[ends[n - 1]] & 0xC0 == 0x80:
                n -= 1  # byte-level tokens may split a character: start at a whole one
            boundary = ends[n - 1] if n else 0
            rest = mutated[len(data[:boundary].decode()):]
            yield n, name, kind, len(mutated[:at].encode()), rest, boundary

    def branch(self, n: int, name: str, kind: str, at: int, rest: str, pos: int) -> None:
        """Feed the mutated text after `n` original tokens: it must be refused by a token that
        reaches the change (everything before is a prefix of the valid original) or at the
        end, never accepted whole; then roll back."""
        info, m = self.info, self.m
        self.counts["checked"] += 1
        fed = 0
        for start in range(0, len(rest), self.CHUNK):
            for t in encode(self.tokenizer, rest[start:start + self.CHUNK]):
                if not m.accept_token(t):
                    if pos + len(info.token_bytes[t]) <= at:
                        self.mutation_failures.append(f"{name}: {kind} at byte {at}: refused before it, at byte {pos}")
                    m.rollback(fed)
                    return
                fed += 1
                pos += len(info.token_bytes[t])
        if m.is_accepting():
            self.mutation_failures.append(f"{name}: {kind} at byte {at}: the mutated file is accepted whole")
        m.rollback(fed)


@functools.lru_cache(maxsize=None)
def walk(tokenizer: str, limit: int | None, mutate: bool) -> Walk:
    return Walk(tokenizer, compiling_sources(limit), MASKS_PER_FILE if limit else 0, mutate)


# ------------------------------------------------------------------ the standard library


def test_sample_is_large_enough() -> None:
    assert len(compiling_sources(SAMPLE)) == SAMPLE


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_stdlib_sample_accepted(tokenizer: str) -> None:
    failures = walk(tokenizer, SAMPLE, tokenizer == "qwen3").failures
    assert not failures, "\n".join(failures[:10])


@pytest.mark.slow
@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_stdlib_every_file_accepted(tokenizer: str) -> None:
    result = walk(tokenizer, None, False)
    assert len(compiling_sources(None)) > 1700
    assert not result.failures, "\n".join(result.failures[:10])


@pytest.mark.parametrize("tokenizer", ["qwen3", pytest.param("mistral7b", marks=pytest.mark.slow)])
def test_mutations_rejected_at_or_after_the_change(tokenizer: str) -> None:
    result = walk(tokenizer, SAMPLE, True)
    print(tokenizer, result.counts)
    assert not result.mutation_failures, "\n".join(result.mutation_failures[:10])
    assert result.counts["checked"] >= 2 * SAMPLE


# ------------------------------------------------------------------ small cases


def accepts(src: str, tokenizer: str = "qwen3") -> bool:
    """Whether the matcher takes `src` byte by byte and then allows EOS."""
    m = syncode.GrammarMatcher(compiled("python", tokenizer))
    return all(m.accept_bytes(bytes([b])) for b in src.encode()) and m.is_accepting()


LAYOUT = [
    "", "\n", "\n\n", "# only a comment", "# comment\n", "   \nx = 1\n", "\n\n\nx = 1\n\n\n",
    "x = 1", "x = 1  # no final newline", "x = 1\n  # indented comment at the end",
    "if x:\n    y\n", "if x:\n  y\n z\n", "if x:\n    y\n  z\n", "if x:\n    y\n      z\n",
    "if x:\n    if y:\n        z\n    w\nv\n", "if x:\n    if y:\n        z\nv\n", "if x:\ny\n", "if x: y\n",
    "  x = 1\n", "\tx = 1\n", "if x:\n\ty\n\tz\n", "if x:\n\ty\n        z\n", "if x:\n        y\n\tz\n",
    "if x:\n    y\n\n    \n\t\n    z\n", "if x:\n    y\n# comment at column 0\n    z\n",
    "if x:\n    y\n        # deeper comment\n    z\n",
    "if x:\n    pass\n# c\nelse:\n    pass\n", "if x:\n    pass\nelse:\npass\n",
    "x = (1,\n2,\n        3)\n", "x = [\n    1,\n  # c\n]\n", "x = {\n}\n", "x = (1\n", "x = 1)\n", "x = (1]\n",
    "f(a\n  , b)\n", "x = 1 + \\\n    2\n", "if x and \\\n        y:\n    pass\n", "x = 1 \\ \n",
    "x = '''a\n  b\nc'''\n", "if x:\n    y = '''\nz'''\n    w\n", "x\r\ny\r\n", "if x:\r\n    y\r\n",
    "\x0cx = 1\n", "\x0c  x = 1\n", "if x:\n    y\n\x0c    z\n",
    "def f(a, /, b=1, *c, d, **e) -> None:\n    return a\n", "class A(B, metaclass=M):\n    x: int = 1\n",
    "@dec\nasync def f():\n    async with a as b:\n        await c\n        return [y async for y in z]\n",
    "x = if", "x = 1 if y\n", "if = 1\n", "def class(): pass\n", "x.if = 1\n", "import if\n", "lambda: (yield)\n",
    "a, *b = c\n", "*a, *b = c\n", "f() = 1\n", "x + 1 = 2\n", "del f()\n", "for x() in y: pass\n",
    "x := 1\n", "(x := 1)\n", "f(a=1, b)\n", "def f(a=1, b): pass\n", "print 'x'\n", "x = 0777\n", "x = b'\u00e9'\n",
    "match x:\n    case [1, *_] | {'k': _}:\n        pass\n    case Point(x=0) if y:\n        pass\n",
    "match = 1\ncase = 2\n_ = 3\nmatch.group(1)\n", "match x:\n    case _.y:\n        pass\n",
    "\u00e9t\u00e9 = 1\n", "x\u20ac = 1\n",
    "x = f'{'a'}'\n", "type X = int\n", "def f[T](x: T): pass\n",  # 3.12 syntax, refused by 3.11 too
]


@pytest.mark.parametrize("src", LAYOUT)
def test_small_cases_agree_with_cpython(src: str) -> None:
    assert accepts(src) == (cpython_error(src) is None), cpython_error(src)


@pytest.mark.parametrize("src", [
    "x = 1\n   ",          # CPython ignores a last line of whitespace, so does the indenter at the end of input
    "x = 1\n" + " " * 40,
    "   ",
    "if x:\n    y = 1\n        ",
    "if x:\n    ",         # still an empty block
])
def test_trailing_whitespace_line_at_end(src: str) -> None:
    assert accepts(src) == (cpython_error(src) is None)


@pytest.mark.parametrize("src, why", [
    ("match(x)\n", "`match` then ( begins a match statement"),
    ("match[i] = v\n", "`match` then [ begins a match statement"),
    ("match - 1\n", "`match` then - begins a match statement"),
    ("x = 1\ry = 2\n", "a lone carriage return is not a line end"),
    ("if x:\n" + " " * 300 + "y\n", "blocks open at widths up to 255 only"),
])
def test_documented_rejections_of_valid_code(src: str, why: str) -> None:
    assert cpython_error(src) is None
    assert not accepts(src), why


@pytest.mark.parametrize("src, why", [
    ("return 1\n", "return outside a function is a compiler error"),
    ("def f(a, a): pass\n", "duplicate parameters are a symbol-table error"),
    ("x = [y async for y in z]\n", "an async comprehension outside async def is a compiler error"),
    ("x = '\\N{NO SUCH NAME}'\n", "\\N{...} names are not checked"),
    ("x = f'{'\n", "f-string replacement fields are not parsed"),
    ("match x:\n    case y as _:\n        pass\n", "a capture name after 'as' cannot exclude _"),
    ("x = 1 \\\n", "a line continuation at the end of input is ignored whitespace"),
])
def test_documented_acceptances_of_invalid_code(src: str, why: str) -> None:
    assert cpython_error(src) is not None
    assert accepts(src), why


def token_id(tokenizer: str, text: str) -> int:
    (t,) = hf_tokenizer(tokenizer).encode(text, add_special_tokens=False)
    return t


@pytest.mark.parametrize("prefix, widths", [
    ("if x:\n", range(1, 20)),                                   # any deeper width opens the block
    ("if x:\n    if y:\n        z\n", (0, 4, 8)),                # or closes blocks to an enclosing level
    ("if x:\n\tif y:\n\t\tz\n", (0, 8, 16)),
    ("x = (1,\n", range(0, 20)),                                 # inside brackets anything goes
])
def test_indentation_widths_allowed_exactly(prefix: str, widths) -> None:
    c = compiled("python", "qwen3")
    w = token_id("qwen3", "w")
    bitmask = new_bitmask(c.tokenizer_info)
    allowed = set()
    for width in range(0, 20):
        m = syncode.GrammarMatcher(c)
        indent = "\t" * (width // 8) + " " * (width % 8) if "\t" in prefix else " " * width
        assert m.accept_bytes((prefix + indent).encode())
        m.fill_next_token_bitmask(bitmask, 0)
        if is_allowed(bitmask[0], w):
            allowed.add(width)
        assert is_allowed(bitmask[0], w) == m.accept_token(w)
    assert allowed == set(widths)


def test_grammar_has_only_the_documented_conflicts() -> None:
    """Six shift/reduce conflicts, all on `match` at the start of a statement."""
    import io as _io
    import logging

    import lark
    from syncode.grammar import _TablesOnly

    stream = _io.StringIO()
    handler = logging.StreamHandler(stream)
    lark.logger.addHandler(handler)
    level = lark.logger.level
    lark.logger.setLevel(logging.DEBUG)
    try:
        text = (Path(__file__).resolve().parent.parent / "grammars" / "python.lark").read_text(encoding="utf-8")
        lark.Lark(text, parser="lalr", lexer=_TablesOnly, debug=True)
    finally:
        lark.logger.removeHandler(handler)
        lark.logger.setLevel(level)
    log = stream.getvalue()
    conflicts = sorted(line.split("terminal ")[1].split(":")[0] for line in log.splitlines() if "Shift/Reduce" in line)
    assert conflicts == ["LPAR", "LSQB", "MINUS", "NOT", "PLUS", "STAR"]
    assert log.count("<_name : MATCH>") == 6


def test_identifier_characters_follow_unicode() -> None:
    """NAME's character classes are exactly the characters that can start or continue an
    identifier after NFKC normalization, as this Python's unicodedata says."""
    import re
    import sys
    import unicodedata

    text = (Path(__file__).resolve().parent.parent / "grammars" / "python.lark").read_text(encoding="utf-8")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("NAME:")]
    name = re.compile(line[len("NAME: /"):-1])
    for cp in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        norm = unicodedata.normalize("NFKC", ch)
        assert bool(name.fullmatch(ch)) == norm.isidentifier(), hex(cp)
        assert bool(name.fullmatch("a" + ch)) == ("a" + norm).isidentifier(), hex(cp)
