"""The built-in Go grammar (grammars/go.lark) on real code: the non-test .go files of Go's own
source tree, judged by gofmt.

Every file gofmt accepts is accepted token by token with EOS at the end (except documented
unsupported constructs, counted), every file it rejects is rejected, and mutated files that
gofmt rejects are rejected at or after the mutation, never accepted whole. Needs Go's sources
and gofmt (Debian: golang-src, golang-go; scripts/setup.sh installs them); skips without them.
"""
from __future__ import annotations

import functools
import logging
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import lark
import numpy as np
import pytest

import syncode
from syncode.bitmask import bitmask_to_ids

from conftest import compiled, hf_tokenizer, is_allowed, new_bitmask, tokenizer_info

GRAMMAR_PATH = Path(__file__).resolve().parent.parent / "grammars" / "go.lark"
TOKENIZERS = ("qwen3", "mistral7b")
SAMPLE = 300
MASK_CHECKS_PER_FILE = 4  # steps where the forced token must be in the mask
WHOLE_MASK_FILES = 5  # files where, at those steps, the whole mask must be the accepted tokens

# gofmt parses these, but the spec (and the type checker) rejects them; so does the grammar
# (see its header). Each is recognised by the source text around where the matcher stops
# (it may stop inside the token: "[.." is still viable, as in "[.5]").
UNSUPPORTED = {
    "~x as a value (allowed in constraints only)": re.compile(r"~"),
    "[...]T outside a composite literal": re.compile(r"\.\.\."),
}


# ---------------------------------------------------------------- Go's sources and gofmt

@functools.lru_cache(maxsize=None)
def go_root() -> Path | None:
    """GOROOT with a src folder: `go env GOROOT`, else the usual install places."""
    candidates = []
    go = shutil.which("go")
    if go:
        out = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    candidates += [Path("/usr/lib/go"), Path("/usr/local/go")]
    return next((c for c in candidates if (c / "src").is_dir()), None)


def gofmt() -> str:
    root = go_root()
    path = shutil.which("gofmt") or (str(root / "bin" / "gofmt") if root else None)
    if root is None or path is None or not Path(path).exists():
        pytest.skip("Go's sources or gofmt are absent (Debian: apt-get install golang-src golang-go)")
    return path


@functools.lru_cache(maxsize=None)
def go_files() -> tuple[Path, ...]:
    """Every non-test .go file of the source tree (testdata included), sorted."""
    gofmt()
    src = go_root() / "src"
    return tuple(sorted(p for p in src.rglob("*.go") if p.is_file() and not p.name.endswith("_test.go")))


def gofmt_accepts(paths: list[Path]) -> dict[Path, bool]:
    """gofmt -e's verdict on each file (a syntax check, no type checking). Files are checked in
    batches; one with a //line directive alone, since its errors name another file."""
    tool, verdict = gofmt(), {}
    alone = [p for p in paths if re.search(rb"^//line |/\*line ", p.read_bytes(), re.M)]
    for p in alone:
        verdict[p] = subprocess.run([tool, "-e", "-l", str(p)], capture_output=True).returncode == 0
    batch = [p for p in paths if p not in verdict]
    for i in range(0, len(batch), 400):
        chunk = batch[i:i + 400]
        out = subprocess.run([tool, "-e", "-l", *map(str, chunk)], capture_output=True, text=True)
        failed = {line.split(":", 1)[0] for line in out.stderr.splitlines()}
        for p in chunk:
            verdict[p] = str(p) not in failed
        assert out.returncode == 0 or failed & set(map(str, chunk)), out.stderr[:500]
    return verdict


@functools.lru_cache(maxsize=None)
def all_verdicts() -> dict[Path, bool]:
    return gofmt_accepts(list(go_files()))


@functools.lru_cache(maxsize=None)
def sample() -> tuple[Path, ...]:
    """SAMPLE files gofmt accepts, in a fixed random order."""
    files = [p for p, ok in all_verdicts().items() if ok]
    random.Random(6).shuffle(files)
    return tuple(files[:SAMPLE])


def rel(path: Path) -> str:
    return str(path.relative_to(go_root() / "src"))


# ---------------------------------------------------------------- matching

def go(tokenizer: str) -> syncode.CompiledGrammar:
    return compiled("go", tokenizer)


def accepts(c: syncode.CompiledGrammar, data: bytes) -> bool:
    m = syncode.GrammarMatcher(c)
    return m.accept_bytes(data) and m.is_accepting()


def viable_length(c: syncode.CompiledGrammar, data: bytes) -> int:
    """Length of the longest prefix of `data` the matcher accepts (viable prefixes are
    prefix-closed, so a binary search finds it)."""
    lo, hi = 0, len(data)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if syncode.GrammarMatcher(c).accept_bytes(data[:mid]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def unsupported_construct(c: syncode.CompiledGrammar, data: bytes) -> str | None:
    """The documented construct at which the matcher stops on `data`, if any."""
    at = viable_length(c, data)
    text = data[max(0, at - 2):at + 3].decode("utf-8", "replace")
    return next((why for why, pattern in UNSUPPORTED.items() if pattern.search(text)), None)


def step(m: syncode.GrammarMatcher, token: int, bitmask, check: bool) -> bool:
    """accept_token(token); when `check`, and always when it is refused, asserts that the mask
    agrees (a refused token leaves the state, hence the mask, unchanged)."""
    if check:
        m.fill_next_token_bitmask(bitmask, 0)
        in_mask = is_allowed(bitmask[0], token)
    accepted = m.accept_token(token)
    if not accepted and not check:
        m.fill_next_token_bitmask(bitmask, 0)
        in_mask, check = is_allowed(bitmask[0], token), True
    if check:
        spelled = m.compiled.tokenizer_info.token_bytes[token]
        assert in_mask == accepted, f"token {token} ({spelled!r}): in the mask {in_mask}, accepted {accepted}"
    return accepted


def eos_allowed(m: syncode.GrammarMatcher, bitmask) -> bool:
    """Whether the mask allows EOS now (asserting it agrees with is_accepting)."""
    m.fill_next_token_bitmask(bitmask, 0)
    eos = is_allowed(bitmask[0], int(m.compiled.tokenizer_info.stop_token_ids[0]))
    assert eos == m.is_accepting()
    return eos


def assert_whole_mask(m: syncode.GrammarMatcher, bitmask) -> None:
    """The mask is exactly the set of tokens (with bytes) accept_token would take now."""
    info = m.compiled.tokenizer_info
    real = real_tokens(info)
    m.fill_next_token_bitmask(bitmask, 0)
    in_mask = np.isin(real, bitmask_to_ids(bitmask[0], info.n_tokens))
    accepted = m.accepts_continuations(real)
    wrong = real[in_mask != accepted]
    assert not len(wrong), f"{len(wrong)} tokens where mask and acceptance differ, e.g. " \
                           f"{[(info.token_bytes[t], bool(accepted[real == t][0])) for t in wrong[:5]]}"


@functools.lru_cache(maxsize=None)
def real_tokens(info: syncode.TokenizerInfo) -> np.ndarray:
    return np.array([t for t in range(info.n_tokens) if info.token_bytes[t]], dtype=np.int64)


def force(c: syncode.CompiledGrammar, tokenizer: str, text: str, mask_steps: int, rng: random.Random,
          whole_mask: bool = False):
    """Feeds `text`'s tokens one by one, checking the mask at `mask_steps` random steps (the
    whole mask when `whole_mask`) and at a refused token. Returns (the byte offset just past
    the refused token, or None when every token is accepted; whether EOS is allowed at the end)."""
    info = c.tokenizer_info
    ids = hf_tokenizer(tokenizer).encode(text, add_special_tokens=False)
    checks = set(rng.sample(range(len(ids)), min(mask_steps, len(ids))))
    m, bitmask, offset = syncode.GrammarMatcher(c), new_bitmask(info), 0
    for k, t in enumerate(ids):
        if whole_mask and k in checks:
            assert_whole_mask(m, bitmask)
        offset += len(info.token_bytes[t])
        if not step(m, t, bitmask, k in checks):
            return offset, False
    return None, eos_allowed(m, bitmask)


def check_files(tokenizer: str, files: tuple[Path, ...]) -> tuple[int, dict[str, int]]:
    """Forces every file; returns (files accepted, counts of documented unsupported constructs)
    and fails listing any other rejection."""
    c, rng = go(tokenizer), random.Random(0)
    passed, unsupported, failures = 0, {}, []
    for i, path in enumerate(files):
        text = path.read_text(encoding="utf-8")
        refused, eos = force(c, tokenizer, text, MASK_CHECKS_PER_FILE, rng, whole_mask=i < WHOLE_MASK_FILES)
        if refused is None and eos:
            passed += 1
            continue
        why = unsupported_construct(c, text.encode())
        if why:
            unsupported[why] = unsupported.get(why, 0) + 1
        else:
            at = refused if refused is not None else len(text.encode())
            failures.append(f"{rel(path)} at byte {at}: {text.encode()[max(0, at - 60):at + 20]!r}")
    assert not failures, f"{len(failures)} gofmt-accepted files rejected:\n" + "\n".join(failures[:20])
    return passed, unsupported


# ---------------------------------------------------------------- the grammar itself

def test_loads_with_keywords_and_semicolons():
    g = syncode.Grammar.builtin("go")
    assert g.layout.keywords.identifier == "NAME"
    assert g.layout.semicolons.insert == "SEMICOLON"
    after = set(g.layout.semicolons.after)
    assert after == {"NAME", "INT_LIT", "FLOAT_LIT", "IMAGINARY_LIT", "RUNE_LIT", "STRING_LIT", "IMPORT_PATH",
                     '")"', '"]"', '"}"', '"break"', '"continue"', '"fallthrough"', '"return"', '"++"', '"--"'}


def test_only_the_documented_conflicts():
    """Shift/reduce conflicts (resolved as shift) only where the header says go/parser shifts
    too: a func type's result ("func() (x)", "func() *T") and qualified type names."""
    from lark import logger

    from syncode.grammar import _TablesOnly

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    level, handlers = logger.level, logger.handlers
    logger.handlers = [handler]
    logger.setLevel(logging.WARNING)
    try:
        lark.Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer=_TablesOnly, debug=True)
    finally:
        logger.handlers = handlers
        logger.setLevel(level)
    found = {(records[i].split()[-4].rstrip(":"), records[i + 1].strip(" *<>"))
             for i in range(len(records) - 1) if records[i].startswith("Shift/Reduce")}
    assert found == {("DOT", "typename : NAME"), ("STAR", "signature : params"), ("LPAR", "signature : params")}
    assert not any("Reduce/Reduce" in r for r in records)


def test_name_terminal_is_generated_from_unicode_data():
    sys.path.insert(0, str(GRAMMAR_PATH.parent.parent / "scripts"))
    import go_unicode_classes

    lines = GRAMMAR_PATH.read_text(encoding="utf-8").split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(go_unicode_classes.VERSION_PREFIX))
    version = lines[at][len(go_unicode_classes.VERSION_PREFIX):]
    if version != unicodedata.unidata_version:
        pytest.skip(f"grammar's NAME is from Unicode {version}, this Python has {unicodedata.unidata_version}")
    assert lines[at:at + 2] == go_unicode_classes.name_lines()
    name = re.compile([t for t in syncode.Grammar.builtin("go").terminals if t.name == "NAME"][0].regex)
    assert name.fullmatch("µs") and name.fullmatch("θ1") and name.fullmatch("_x٣")
    assert not name.fullmatch("x²") and not name.fullmatch("٣x") and not name.fullmatch("a→b")


# ---------------------------------------------------------------- the source tree

def test_every_file_as_gofmt_judges_it():
    """Bytes of every file (fast): accepted iff gofmt accepts, but for documented constructs."""
    c = go("mistral7b")
    wrongly_accepted, unsupported, wrongly_rejected = [], {}, []
    for path, ok in all_verdicts().items():
        data = path.read_bytes()
        mine = accepts(c, data)
        if mine and not ok:
            wrongly_accepted.append(rel(path))
        elif ok and not mine:
            why = unsupported_construct(c, data)
            if why:
                unsupported[why] = unsupported.get(why, 0) + 1
            else:
                wrongly_rejected.append(rel(path))
    assert not wrongly_accepted, f"gofmt rejects, the grammar accepts: {wrongly_accepted}"
    assert not wrongly_rejected, f"gofmt accepts, the grammar rejects: {wrongly_rejected}"
    total = sum(all_verdicts().values())
    print(f"\nGo files gofmt accepts: {total}; the grammar accepts {total - sum(unsupported.values())}; "
          f"unsupported: {unsupported}; gofmt rejects {len(all_verdicts()) - total}, all rejected")


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_sampled_files_token_by_token(tokenizer):
    files = sample()
    assert len(files) == SAMPLE
    passed, unsupported = check_files(tokenizer, files)
    print(f"\n{tokenizer}: {passed}/{len(files)} sampled files accepted with EOS; unsupported: {unsupported}")


@pytest.mark.slow
@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_all_files_token_by_token(tokenizer):
    files = tuple(p for p, ok in all_verdicts().items() if ok)
    passed, unsupported = check_files(tokenizer, files)
    print(f"\n{tokenizer}: {passed}/{len(files)} files accepted with EOS; unsupported: {unsupported}")


# ---------------------------------------------------------------- mutations

_LEXEME = re.compile(r'//[^\n]*|/\*.*?\*/|`[^`]*`|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|\w+|\+\+|--|\S', re.S)
# Not "chan": "chan T" makes types where gofmt parses any call argument list but the spec does
# not (f(a, chan T), chan T()); the header documents those as stricter than gofmt.
_KEYWORDS = ("func", "return", "else", "case", "package", "import", "range", "go", "var", "type", "struct", "map")
_TRIGGER = re.compile(r"\w+|\+\+|--|[)\]}]")
_CONTINUES = re.compile(r"[)\],.({+*/%&|^=<>:]")  # tokens that cannot start a statement (mostly)


def mutants(text: str, rng: random.Random) -> list[tuple[str, int, str]]:
    """(kind, offset, mutated text): a bracket deleted, a keyword inserted before a word, and a
    newline inserted after a token that triggers a semicolon, before one that continues."""
    lexemes = [m for m in _LEXEME.finditer(text) if not m.group().startswith(("//", "/*"))]
    out = []
    brackets = [m for m in lexemes if m.group() in "(){}[]"]
    if brackets:
        m = rng.choice(brackets)
        out.append(("delete bracket", m.start(), text[:m.start()] + text[m.end():]))
    words = [m for m in lexemes if m.group()[0].isalpha()]
    if words:
        m = rng.choice(words)
        out.append(("insert keyword", m.start(), text[:m.start()] + rng.choice(_KEYWORDS) + " " + text[m.start():]))
    pairs = [(a, b) for a, b in zip(lexemes, lexemes[1:])
             if _TRIGGER.fullmatch(a.group()) and _CONTINUES.match(b.group()) and "\n" not in text[a.end():b.start()]]
    if pairs:
        a, _ = rng.choice(pairs)
        out.append(("newline", a.end(), text[:a.end()] + "\n" + text[a.end():]))
    return out


def test_mutations_rejected_at_or_after_the_error():
    """The prefix before a mutation is accepted; from there the mutated text is fed token by
    token (a window, then the rest as bytes), and must be refused, or end without EOS, when
    gofmt rejects it."""
    c, tokenizer, rng = go("qwen3"), "qwen3", random.Random(1)
    cases = []
    for path in sample():
        text = path.read_text(encoding="utf-8")
        cases += [(path, kind, offset, mutated) for kind, offset, mutated in mutants(text, rng)]
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, (_, _, _, mutated) in enumerate(cases):
            paths.append(Path(folder) / f"m{i}.go")
            paths[-1].write_text(mutated, encoding="utf-8")
        verdict = gofmt_accepts(paths)
    bitmask, rejected, problems = new_bitmask(tokenizer_info(tokenizer)), 0, []
    for (path, kind, offset, mutated), p in zip(cases, paths):
        data, at = mutated.encode(), len(mutated[:offset].encode())
        where = f"{rel(path)} ({kind} at byte {at})"
        if verdict[p]:
            if not accepts(c, data) and not unsupported_construct(c, data):
                problems.append(f"{where}: gofmt accepts, the grammar rejects")
            continue
        rejected += 1
        m = syncode.GrammarMatcher(c)
        assert m.accept_bytes(data[:at]), f"{where}: the prefix before the mutation is refused"
        window = mutated[offset:offset + 400]
        ids = hf_tokenizer(tokenizer).encode(window, add_special_tokens=False)
        if all(step(m, t, bitmask, k == 0) for k, t in enumerate(ids)):
            if m.accept_bytes(mutated[offset + len(window):].encode()) and eos_allowed(m, bitmask):
                problems.append(f"{where}: gofmt rejects, the grammar accepts it with EOS")
    assert not problems, "\n".join(problems[:20])
    assert rejected >= len(sample()), f"only {rejected} of {len(cases)} mutants are invalid Go"
    print(f"\n{len(cases)} mutants, {rejected} rejected by gofmt and by the grammar")


# ---------------------------------------------------------------- semicolons, targeted

def _file(body: str) -> str:
    return "package p\n\nfunc f() {\n" + body + "\n}\n"


SEMICOLON_CASES = [
    # (source, valid): a newline after these tokens ends the statement
    (_file("x := g(1)\ny := x[0]\nz := []int{1}\nw := z"), True),
    (_file("i++\ni--\nreturn"), True),
    (_file("x := 1\ny := 2.5\nz := 3i\nr := 'a'\ns := \"s\"\nt := `raw\nstring`"), True),
    (_file("for {\nbreak\n}\nfor {\ncontinue\n}\nswitch {\ncase true:\nfallthrough\ndefault:\n}"), True),
    # ... so the expression cannot continue on the next line
    (_file("f(a\n)"), False),
    (_file("f(a,\n)"), True),
    (_file("x := a\n/ b"), False),
    (_file("x := a\n+ b"), True),  # "x := a; +b"
    (_file("x := a +\nb"), True),
    (_file("x := a\n.b"), False),
    (_file("x := a.\nb"), True),
    (_file("x := []int{1, 2\n}"), False),
    (_file("x := []int{1, 2,\n}"), True),
    (_file("return\n1"), True),  # "return; 1": a return, then an expression statement
    (_file("x := y\n++"), False),
    (_file("x++\n++"), False),
    # comments: a line comment keeps its newline; a block comment counts as a newline only if it spans lines
    (_file("x := 1 // one\ny := 2"), True),
    (_file("x := 1 /* one */ y := 2"), False),
    (_file("x := 1 /* one\n */ y := 2"), True),
    (_file("x := 1 /* one */\ny := 2"), True),
    (_file("x := g(1, /* a\n */ 2)"), True),
    (_file("x := g(1 /* a\n */, 2)"), False),
    # else must follow the closing brace on the same line; so must a block's opening brace
    (_file("if x {\n} else {\n}"), True),
    (_file("if x {\n}\nelse {\n}"), False),
    (_file("if x\n{\n}"), False),
    (_file("for i := 0; i < n; i++\n{\n}"), False),
    ("package p\n\nfunc f()\n{\n}\n", False),
    # the end of input ends the last declaration, with or without a newline or comment
    ("package p\n\nfunc f() {}", True),
    ("package p\n\nvar x = 1", True),
    ("package p\n\nvar x = 1 // c", True),
    ("package p\n\nvar x = 1 /* c */", True),
    ("package p\n\nvar x = 1 +", False),
    ("package p", True),
    ("package p;", True),
    # explicit semicolons still work, and may be left out before ")" and "}"
    ("package p; import \"fmt\"; func f() { fmt.Println(1); return }", True),
    ("package p; var (a = 1; b = 2)", True),
    # keywords are reserved
    (_file("x := break"), False),
    (_file("type := 1"), False),
    (_file("breakfast, types := 1, 2"), True),
]


def _decl(text: str) -> str:
    return "package p\n\n" + text + "\n"


# Generics, and the "type T[" ambiguity: an array length or type parameters (go/parser decides
# by the shape of the expression after the first name; gofmt accepts both readings before "]").
GENERIC_CASES = [
    (_decl("type List[T any] struct { next *List[T]; val T }"), True),
    (_decl("type Map[K comparable, V any] map[K]V"), True),
    (_decl("type Pair[K, V any] struct{}"), True),
    (_decl("type T[P any,] int"), True),
    (_decl("type Number interface { ~int | ~int64 | ~float64 }"), True),
    (_decl("type T[P interface{ ~[]E }, E any] struct{}"), True),
    (_decl("func Map[S ~[]E, E, R any](s S, f func(E) R) []R { return nil }"), True),
    (_decl("func (l *List[T]) Push(v T) {}"), True),
    (_decl("var x = Map[[]int, int, string](nil, nil)"), True),
    (_decl("var x = Pair[string, int]{}"), True),
    (_decl("func F[]() {}"), False),
    (_decl("func (r *T) M[P any]() {}"), False),
    (_decl("type I interface { M[P any]() }"), False),
    (_decl("type T[P] int"), True),  # an array of length P
    (_decl("type T[N * 2 + 1] int"), True),
    (_decl("type T[P *C] int"), True),  # an array of length P*C (or a parameter: same text)
    (_decl("type T[P *C,] int"), True),  # a type parameter
    (_decl("type T[P *C | ~D, Q any] int"), True),
    (_decl("type T[P (C), Q any] int"), True),
    (_decl("type T[N + 1, Q any] int"), False),  # an array length cannot be followed by ","
    (_decl("type T[P, Q] int"), False),  # type parameters need constraints
    (_decl("type T[P[0]] int"), False),  # "P[" starts a constraint, as in go/parser
    (_decl("type T[len(x)] int"), True),
    (_decl("type T[...] int"), False),
]


def _gofmt_agrees(source: str, valid: bool) -> None:
    """The expected verdict is gofmt's (when gofmt is installed)."""
    if shutil.which("gofmt"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "x.go"
            path.write_text(source, encoding="utf-8")
            gofmt_ok = gofmt_accepts([path])[path]
        # [...] outside a literal: gofmt parses it, the spec (and this grammar) does not
        assert gofmt_ok == valid or (gofmt_ok and "[...]" in source), "the expected verdict disagrees with gofmt"


@pytest.mark.parametrize("source,valid", SEMICOLON_CASES + GENERIC_CASES)
def test_targeted_cases(source, valid):
    assert accepts(go("qwen3"), source.encode()) == valid
    _gofmt_agrees(source, valid)


def test_newline_token_masked_where_it_inserts_a_bad_semicolon():
    c, info = go("qwen3"), tokenizer_info("qwen3")
    newline = hf_tokenizer("qwen3").encode("\n", add_special_tokens=False)
    assert len(newline) == 1
    bitmask = new_bitmask(info)
    for prefix, allowed in [("f(a", False), ("x := a", True), ("x := a +", True), ("x := a.b(c", False),
                            ("x := []int{1", False), ("x := []int{1,", True), ("return", True), ("if x", True)]:
        m = syncode.GrammarMatcher(c)
        assert m.accept_bytes(("package p\nfunc f() {\n" + prefix).encode())
        m.fill_next_token_bitmask(bitmask, 0)
        assert is_allowed(bitmask[0], newline[0]) == allowed, prefix
        assert m.accept_token(newline[0]) == allowed, prefix
