"""`format` languages checked against jsonschema's Draft 2020-12 FORMAT_CHECKER.

For each format: hand-written edge cases (whose verdicts are asserted against the checker
too, so they document its behaviour), exhaustive sweeps where the domain is small, and
hypothesis strings (random text and mutations of valid examples). Exact formats must
agree with the checker; subset formats must never accept what it rejects, and must
agree with it once the strings their `note` excludes are set aside.
"""
from __future__ import annotations

import functools
import random
import re

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncode.schema.formats import (
    DURATION_MAX_EXPONENT_DIGITS,
    DURATION_MAX_INTEGER_DIGITS,
    FormatLanguage,
    UnsupportedFormatError,
    format_language,
    known_formats,
)

try:  # Python >= 3.11
    import re._parser as re_parser
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as re_parser

CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXACT = {"date-time", "date", "time", "email", "idn-email", "ipv4", "ipv6", "uri", "uri-reference", "json-pointer"}
SUBSET = {"duration", "hostname", "uuid"}
ALLOWED_OPS = {"LITERAL", "IN", "BRANCH", "SUBPATTERN", "MAX_REPEAT"}


def checker(s: str, name: str) -> bool:
    """The judge; a crash inside a backend (e.g. decimal.Overflow) is not acceptance."""
    try:
        return CHECKER.conforms(s, name)
    except Exception:  # noqa: BLE001
        return False


@functools.lru_cache(maxsize=None)
def compiled(name: str) -> tuple[re.Pattern[str], FormatLanguage]:
    lang = format_language(name)
    return re.compile(lang.regex), lang


def accepts(name: str, s: str) -> bool:
    """Membership in the language: regex full match and the length limit."""
    pattern, lang = compiled(name)
    return pattern.fullmatch(s) is not None and (lang.max_length is None or len(s) <= lang.max_length)


# ------------------------------------------------------------------ what subsets exclude

_ARROW_BRANCH = re.compile(r"[+\-]?P[+\-0-9.eE]+T")
_DESIGNATED_RUN = re.compile(r"([+\-0-9.,eE]+)(?=[YMDWHS])")
_DECIMAL_PARTS = re.compile(r"[+\-]?([0-9]*)(?:[.,][0-9]*)?(?:[eE][+\-]?([0-9]+))?")


def duration_excluded(s: str) -> bool:
    """The strings the duration note excludes: the arrow date-time branch, and numbers
    read by a designator with too many integer or exponent digits."""
    if _ARROW_BRANCH.match(s):
        return True
    for run in _DESIGNATED_RUN.findall(s):
        m = _DECIMAL_PARTS.fullmatch(run)
        if m and len(m[1].lstrip("0")) > DURATION_MAX_INTEGER_DIGITS:
            return True
        if m and m[2] and len(m[2].lstrip("0")) > DURATION_MAX_EXPONENT_DIGITS:
            return True
    return False


def uuid_canonical(s: str) -> bool:
    """36 characters, '-' exactly at 8/13/18/23, every other one a hex or decimal digit."""
    if len(s) != 36:
        return False
    return all(
        (c == "-") if k in (8, 13, 18, 23) else (c in "0123456789abcdefABCDEF" or c.isdecimal())
        for k, c in enumerate(s)
    )


def hostname_excluded(s: str) -> bool:
    """Valid names outside the subset: too many labels, or a label too long for its position."""
    from syncode.schema.formats import HOSTNAME_LABEL_LIMITS

    labels = s.rstrip("\n").removesuffix(".").split(".")
    return not s.isascii() or len(labels) > len(HOSTNAME_LABEL_LIMITS) or any(
        len(label) > limit for label, limit in zip(labels, HOSTNAME_LABEL_LIMITS))


EXCLUDED = {
    "duration": duration_excluded,
    "hostname": lambda s: hostname_excluded(s),
    "uuid": lambda s: not uuid_canonical(s),
}


def assert_agrees(name: str, s: str) -> None:
    """Exact: same verdict. Subset: never more, and the same once exclusions are set aside."""
    ours, theirs = accepts(name, s), checker(s, name)
    if name in EXACT:
        assert ours == theirs, (name, s, ours, theirs)
    else:
        assert not ours or theirs, (name, s, "accepted by the language, rejected by the checker")
        assert ours == (theirs and not EXCLUDED[name](s)), (name, s, ours, theirs)


# ------------------------------------------------------------------ hand-written cases

H63, H64 = "a" * 63, "b" * 64
LONG_253 = ".".join([H63] * 3) + "." + "c" * 61
VALID: dict[str, list[str]] = {
    "date": ["2024-02-29", "2000-02-29", "0004-02-29", "0001-01-01", "9999-12-31", "2023-04-30", "2023-01-31"],
    "date-time": [
        "2024-02-29T23:59:59Z", "2024-02-29t23:59:59z", "1985-04-12T23:20:50.52Z", "1996-12-19T16:39:57-08:00",
        "2000-01-01T00:00:00.000000001+23:59", "2000-01-01T00:00:00Z\n", "0001-01-01T00:00:00-00:00",
    ],
    "time": ["23:59:59Z", "00:00:00z", "08:30:06.283185Z", "12:00:00+05:30", "12:00:00-23:59", "12:00:00Z\n"],
    "duration": [
        "P1W", "P1Y2M", "P1Y2M3DT4H5M6S", "PT1H", "PT1S", "P1D", "-P1Y", "+PT0S", "P0.5Y", "P0,5Y", "P1.Y",
        "P.5D", "P1e3Y", "P1E-3D", "P-1Y", "P0Y1W", "P0Y0M0D3W", "P1WT1H", "P1Y5T1H", "P1,5T1H", "P1YeT1S",
        "PT1H1S", "P" + "9" * DURATION_MAX_INTEGER_DIGITS + "Y",
    ],
    "email": ["a@b", "@", "joe.bloggs@example.com", "x@", "@y", "\n@\n", "é@ü"],
    "idn-email": ["實例@實例.測試"],
    "hostname": [
        "example.com", "example.com.", "a", "a.", "xn--bcher-kva.example", "a-b.c-d", "1.2.3.4", H63, H63 + ".com",
        "a\n", "a.\n", "A.B", H63 + "." + H63 + "." + H63 + ".ccccccccccc.a.b.c.d",
        "a.b.c.d.e.f.g.h.",
    ],
    "ipv4": ["0.0.0.0", "1.2.3.4", "255.255.255.255", "192.168.0.10", "10.0.0.1"],
    "ipv6": [
        "::", "::1", "1::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
        "1:2:3::5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5::1.2.3.4", "FFFF::abcd", "0000:0000::0",
        "fe80::1", "::0.0.0.0",
    ],
    "uuid": [
        "12345678-1234-1234-1234-123456789abc", "12345678-1234-1234-1234-123456789ABC",
        "00000000-0000-0000-0000-000000000000", "١٢٣٤٥٦٧٨-1234-1234-1234-123456789abc",
    ],
    "uri": [
        "http://example.com", "http://a/b?c#d", "a:", "urn:isbn:0451450523", "mailto:joe@example.com",
        "http://[::1]:80/", "http://[v1.x]/", "http://192.168.0.1/", "http://u:p@h:8080/p/a/t/h?q=1&r#frag",
        "http://a/%20%aF", "file:///etc/passwd", "http://a\n", "x:/", "x://", "s+.-:rest",
    ],
    "uri-reference": [
        "", "/", "//a", "a", "a/b:c", "?q", "#f", "../x", "http://a/b", "%41", "//[::1]", "./a:b", "x\n",
    ],
    "json-pointer": ["", "/", "//", "/a~0", "/a~1b", "/~01", "/ ", "/\n", "/é/0"],
}
INVALID: dict[str, list[str]] = {
    "date": [
        "2023-02-29", "1900-02-29", "0000-01-01", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00",
        "2024-1-01", "24-01-01", "2024-01-01\n", "2024-01-01T00:00:00Z", "２０２４-01-01", "",
    ],
    "date-time": [
        "2024-02-29T23:59:60Z", "2023-02-29T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00",
        "2024-01-01T24:00:00Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+24:00", "2024-01-01T00:00:00+0100",
        "0000-01-01T00:00:00Z", "2024-01-01T00:00:00Z\n\n", " 2024-01-01T00:00:00Z", "",
    ],
    "time": ["23:59:60Z", "24:00:00Z", "12:00:00", "12:00Z", "12:00:00+5:30", "T12:00:00Z", "12:00:00Zz", ""],
    "duration": [
        "PT", "P", "", "P1", "1Y", "p1Y", "P1y", "P1YT", "P1M1Y", "P1Y1W", "P1D1W", "PT1S1H", "P1H", "PT1D",
        "P1Y5", "P1W1D", "P--1Y", "P1-2Y", "PY", "P.Y", "P2020T1H", "P 1Y", "P1Y ", "P1,5.3Y", "P10e999999Y",
        "P2020-01-01T10:00:00Z", ".P1Y", "P1YT1HT1S", "PT1HM",
    ],
    "email": ["", "a", "example.com"],
    "idn-email": ["實例"],
    "hostname": [
        "", "-a.com", "a-.com", "a..b", ".a", H64, H64 + ".com", "a_b", "a b", "a.com..", "a\n\n", "é.com",
        "İ", LONG_253 + "d", LONG_253 + "\n.", ".",
    ],
    "ipv4": ["01.2.3.4", "1.2.3.04", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1.2.3.4\n", " 1.2.3.4", "1.2.3.4/32",
             "١.2.3.4", "1..2.3", "", "0x1.2.3.4"],
    "ipv6": [
        "", ":", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4::5:6:7:8", "1::2::3", ":1::", "1:2:3:4:5:6:7:8::",
        "fe80::1%eth0", "fe80::1%", "::01.2.3.4", "::256.1.1.1", "1:2:3:4:5:6:7:1.2.3.4", "12345::",
        "1.2.3.4", "1.2.3.4::", "g::", "::1/128", "1:2:3:4:5:6:7", ":1:2:3:4:5:6:7:8", "1:2:3:4:5:6::1.2.3.4",
    ],
    "uuid": [
        "{12345678-1234-1234-1234-123456789abc}", "123456781234123412341234567890ab",
        "12345678-1234-1234-1234-123456789ab", "12345678-1234-1234-1234-123456789abcd",
        "g2345678-1234-1234-1234-123456789abc", "urn:uuid:12345678-1234-1234-1234-123456789abc", "",
    ],
    "uri": [
        "", "//a", "a", "1a:", "http://a/%zz", "http://a b", "http://[::1", "http://a\n\n", "http://é", ":x",
        "http://[1.2.3.4]/",
    ],
    "uri-reference": ["a b", "%zz", "a:b c", "\n\n", "http://[::1", "[", "é"],
    "json-pointer": ["a", "/~2", "/~", "~0", "/a~", "/a~\n", " /"],
}
EXCLUDED_BUT_VALID: dict[str, list[str]] = {
    "duration": [
        "P2020-01-01T10:00:00Z\tS", "P1" + "0" * DURATION_MAX_INTEGER_DIGITS + "Y", "PT1e123456S", "P1e-000123456Y",
    ],
    "hostname": ["١٢٣", "\u212a.com", "ıſ", LONG_253, LONG_253[:-1] + ".", LONG_253 + ".", "a.b.c.d.e.f.g.h.i", "a.b.c.dddddddddddd"],
    "uuid": [
        "+2345678-1234-1234-1234-123456789abc", " 2345678-1234-1234-1234-123456789ab ",
        "0x345678-1234-1234-1234-123456789abc", "12345678-1234-1234-1234-123456789abc}",
        "12345678-1234-1234-1234-1234-56789abc", "1_345678-1234-1234-1234-123456789abc",
        "12345678-1234-1234-1234-1234urn:56789abc",
    ],
}


def _cases(table: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(name, s) for name, xs in table.items() for s in xs]


@pytest.mark.parametrize("name,s", _cases(VALID))
def test_valid_examples(name: str, s: str) -> None:
    assert checker(s, name), (name, s, "the checker should accept this")
    assert accepts(name, s), (name, s)


@pytest.mark.parametrize("name,s", _cases(INVALID))
def test_invalid_examples(name: str, s: str) -> None:
    assert not checker(s, name), (name, s, "the checker should reject this")
    assert not accepts(name, s), (name, s)


@pytest.mark.parametrize("name,s", _cases(EXCLUDED_BUT_VALID))
def test_documented_exclusions(name: str, s: str) -> None:
    assert checker(s, name), (name, s, "the checker should accept this")
    assert EXCLUDED[name](s), (name, s)
    assert not accepts(name, s), (name, s)


# ------------------------------------------------------------------ exhaustive sweeps


def test_february_29_of_every_year() -> None:
    for year in range(10000):
        s = f"{year:04d}-02-29"
        assert accepts("date", s) == checker(s, "date"), s
        t = s + "T12:00:00Z"
        assert accepts("date-time", t) == checker(t, "date-time"), t


@pytest.mark.parametrize("year", ["2023", "2024", "1900", "2000", "0001"])
def test_every_month_and_day(year: str) -> None:
    for month in range(14):
        for day in range(33):
            s = f"{year}-{month:02d}-{day:02d}"
            assert accepts("date", s) == checker(s, "date"), s


def test_every_time_of_day_shape() -> None:
    for hour in range(26):
        for minute in (0, 59, 60):
            for second in (0, 59, 60, 61):
                s = f"{hour:02d}:{minute:02d}:{second:02d}Z"
                assert accepts("time", s) == checker(s, "time"), s


def test_every_ipv4_octet() -> None:
    for octet in [str(k) for k in range(300)] + [f"{k:02d}" for k in range(100)] + [f"{k:03d}" for k in range(300)]:
        s = f"1.{octet}.3.4"
        assert accepts("ipv4", s) == checker(s, "ipv4"), s


def test_ipv6_shapes_around_double_colon() -> None:
    """Every split of up to 9 hextets / an IPv4 tail around '::' or without it."""
    for before in range(9):
        for after in range(9):
            for tail in ("", "1.2.3.4"):
                head_parts = [f"{k + 1:x}" for k in range(before)]
                tail_parts = [f"{k + 10:x}" for k in range(after)] + ([tail] if tail else [])
                for s in (":".join(head_parts) + "::" + ":".join(tail_parts), ":".join(head_parts + tail_parts)):
                    assert accepts("ipv6", s) == checker(s, "ipv6"), s


SWEEP = [chr(cp) for cp in range(0x3000)] + ["\u212a", "\uff10", "\U0001d7ce", "\U0001e950", "\U0010ffff"]


@pytest.mark.parametrize("name,template", [
    ("date-time", "2024-01-01{}00:00:00Z"), ("date-time", "2024-01-01T00:00:00{}"),
    ("date-time", "2024-01-01T00:00:00Z{}"),
    ("date-time", "2024-01-01T00:00:0{}Z"), ("date", "2024-01-0{}"), ("time", "00:00:00{}"), ("time", "0{}:00:00Z"),
    ("hostname", "a{}b"), ("hostname", "{}"), ("hostname", "a.{}"), ("ipv4", "1.2.3.{}"), ("ipv6", "::{}"),
    ("uuid", "12345678-1234-1234-1234-123456789ab{}"), ("uuid", "{}2345678-1234-1234-1234-123456789abc"),
    ("uri", "http://a/{}"), ("uri", "{}:x"), ("uri-reference", "{}"), ("json-pointer", "/~{}"), ("json-pointer", "/{}"),
    ("duration", "P1{}"), ("duration", "PT1{}"), ("duration", "P{}Y"),
])
def test_every_character_in_one_position(name: str, template: str) -> None:
    """One position swept over the first 12288 code points and a few notable others."""
    for c in SWEEP:
        assert_agrees(name, template.format(c))


# ------------------------------------------------------------------ hypothesis

SEEDS: dict[str, list[str]] = {name: VALID.get(name, []) + EXCLUDED_BUT_VALID.get(name, []) for name in known_formats()}
ALPHABETS: dict[str, str] = {
    "date-time": "0123456789-:.TtZz+ \n",
    "date": "0123456789-",
    "time": "0123456789-:.Zz+\n",
    "duration": "PYMWDTHS0123456789.,eE+-",
    "email": "@a.\n",
    "idn-email": "@a",
    "hostname": "ab-.019\nK_",
    "ipv4": "0123456789.",
    "ipv6": "0123456789abcdefABCDEF:.%",
    "uuid": "0123456789abcdef-{}:urnid_x+ ",
    "uri": "ab1:/?#[]@%!$&'()*+,;=-._~vF\n ",
    "uri-reference": "ab1:/?#[]@%!$&'()*+,;=-._~vF\n ",
    "json-pointer": "/~01a\n",
}


@st.composite
def mutated(draw: st.DrawFn, name: str) -> str:
    """A valid example with a few characters deleted, inserted or replaced."""
    s = draw(st.sampled_from(SEEDS[name]))
    chars = st.one_of(st.sampled_from(ALPHABETS[name]), st.characters())
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        k = draw(st.integers(0, len(s)))
        if op == "insert":
            s = s[:k] + draw(chars) + s[k:]
        elif op == "duplicate":
            j = draw(st.integers(k, len(s)))
            s = s[:k] + s[k:j] * 2 + s[j:]
        elif s and k < len(s):
            s = s[:k] + ("" if op == "delete" else draw(chars)) + s[k + 1:]
    return s


def random_text(name: str) -> st.SearchStrategy[str]:
    """Strings over the format's own characters (mostly) and arbitrary ones."""
    return st.text(st.one_of(st.sampled_from(ALPHABETS[name]), st.characters()), max_size=40)


@pytest.mark.parametrize("name", known_formats())
@SETTINGS
@given(data=st.data())
def test_mutations_agree(name: str, data: st.DataObject) -> None:
    assert_agrees(name, data.draw(mutated(name)))


@pytest.mark.parametrize("name", known_formats())
@SETTINGS
@given(data=st.data())
def test_random_text_agrees(name: str, data: st.DataObject) -> None:
    assert_agrees(name, data.draw(random_text(name)))


HEXTET = st.sampled_from(["", "0", "1", "ab", "FFFF", "0000", "12345", "g", "1.2.3.4", "01.2.3.4"])


@SETTINGS
@given(parts=st.lists(HEXTET, min_size=1, max_size=10))
def test_ipv6_structured(parts: list[str]) -> None:
    assert_agrees("ipv6", ":".join(parts))


DURATION_PIECE = st.sampled_from(
    ["1", "0", "12", ".5", ",5", "1.", "1e3", "1E-2", "-1", "+0", "00", "e", ".", ",", "-"]
    + list("YMDWTHS")
)


@SETTINGS
@given(sign=st.sampled_from(["", "+", "-"]), pieces=st.lists(DURATION_PIECE, max_size=10))
def test_duration_structured(sign: str, pieces: list[str]) -> None:
    assert_agrees("duration", sign + "P" + "".join(pieces))


LABEL = st.sampled_from(["a", "a" * 63, "a" * 64, "b-c", "-b", "b-", "1", "x" * 62 + "9", ""])


@SETTINGS
@given(labels=st.lists(LABEL, min_size=1, max_size=6), end=st.sampled_from(["", ".", "\n", ".\n"]))
def test_hostname_structured(labels: list[str], end: str) -> None:
    assert_agrees("hostname", ".".join(labels) + end)


# ------------------------------------------------------------------ API and regex syntax


def test_known_formats_and_notes() -> None:
    assert set(known_formats()) == EXACT | SUBSET
    for name in known_formats():
        lang = format_language(name)
        assert isinstance(lang, FormatLanguage)
        assert (lang.note == "") == (name in EXACT), name
        assert lang.max_length is None, name


@pytest.mark.parametrize("name", ["regex", "idn-hostname", "iri", "iri-reference", "uri-template",
                                  "relative-json-pointer", "no-such-format", "Date"])
def test_unsupported_formats_raise(name: str) -> None:
    with pytest.raises(UnsupportedFormatError, match=re.escape(repr(name))):
        format_language(name)
    assert issubclass(UnsupportedFormatError, ValueError)


def assert_restricted_syntax(regex: str) -> None:
    """Only literals, classes of literals/ranges, alternation, non-capturing groups and
    greedy quantifiers: no anchors, lookaround, backreferences, flags or categories."""
    re.compile(regex)
    assert "(?i" not in regex and "\\d" not in regex

    def walk(items) -> None:
        for op, arg in items:
            name = str(op)
            assert name in ALLOWED_OPS, (name, regex[:200])
            if name == "IN":
                assert all(str(member) in {"LITERAL", "RANGE"} for member, _ in arg), regex[:200]
            elif name == "BRANCH":
                for branch in arg[1]:
                    walk(branch)
            elif name == "SUBPATTERN":
                group, add_flags, del_flags, sub = arg
                assert group is None and not add_flags and not del_flags, regex[:200]
                walk(sub)
            elif name == "MAX_REPEAT":
                walk(arg[2])

    walk(re_parser.parse(regex))


@pytest.mark.parametrize("name", known_formats())
def test_regex_syntax_is_restricted(name: str) -> None:
    assert_restricted_syntax(format_language(name).regex)


@pytest.mark.parametrize("name", known_formats())
def test_project_compiler_agrees(name: str) -> None:
    """syncode's own regex compiler builds the same language as `re` (hand-written cases and
    a fixed sample of mutations)."""
    from syncode import automata
    dfa = automata.from_regex(format_language(name).regex)
    pattern, _ = compiled(name)
    rng = random.Random(0)
    samples = VALID.get(name, []) + INVALID.get(name, []) + EXCLUDED_BUT_VALID.get(name, [])
    for _ in range(300):
        s = rng.choice(SEEDS[name])
        for _ in range(rng.randint(1, 3)):
            k, c = rng.randint(0, len(s)), rng.choice(ALPHABETS[name])
            s = rng.choice([s[:k] + c + s[k:], s[:k] + s[k + 1:], s[:k] + c + s[k + 1:]])
        samples.append(s)
    wrong = [s for s in samples if dfa.accepts(s) != (pattern.fullmatch(s) is not None)]
    assert not wrong, (name, wrong[:10])
