"""Numeric schema keywords as regexes / DFAs, checked against exact Decimal arithmetic."""
from __future__ import annotations

import re
from decimal import Context, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncode.schema.numbers import (
    NotRegularError,
    integer_regex,
    multiple_of_dfa,
    number_regex,
)

try:  # Python >= 3.11
    import re._parser as re_parser
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as re_parser

RFC_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
INTEGER_SYNTAX = re.compile(r"-?(0|[1-9][0-9]*)(\.0+)?")
INVALID_TEXTS = [
    "", "-", "01", "-01", "1.", ".5", "+1", "--1", "1e", "1e+", "0x1", " 1", "1 ", "1..0", "00", "-.5", "1.0.0",
]
ALLOWED_OPS = {"LITERAL", "IN", "BRANCH", "SUBPATTERN", "MAX_REPEAT"}
EXACT = 1000  # decimal precision that keeps every test computation exact
EXACT_CONTEXT = Context(prec=EXACT)

SETTINGS = settings(max_examples=150, deadline=None)


# ---------------------------------------------------------------- helpers


def assert_restricted_syntax(regex: str) -> None:
    """The regex uses only literals, classes, alternation, groups and greedy quantifiers."""
    for forbidden in ("^", "$", "\\b", "(?=", "(?!", "(?<", "\\A", "\\Z", "\\d"):
        assert forbidden not in regex, (forbidden, regex)

    def walk(items) -> None:
        for op, arg in items:
            name = str(op)
            assert name in ALLOWED_OPS, (name, regex)
            if name == "IN":
                assert all(str(member) in {"LITERAL", "RANGE"} for member, _ in arg), regex
            elif name == "BRANCH":
                for branch in arg[1]:
                    walk(branch)
            elif name == "SUBPATTERN":
                walk(arg[-1])
            elif name == "MAX_REPEAT":
                walk(arg[2])

    walk(re_parser.parse(regex))


def spellings(value: Decimal) -> list[str]:
    """Several JSON spellings (and exponent forms) of one exact value."""
    with localcontext() as ctx:
        ctx.prec = EXACT
        plain = format(value, "f")
        out = [plain, format(value.normalize(), "f")]
        out.append(plain + ("00" if "." in plain else ".000"))
        if value == 0:
            out += ["0", "-0", "-0.0", "0.00", "-0.000"]
        if value == value.to_integral_value():
            out.append(format(value.to_integral_value(), "f"))
        out += [plain + "e0", format(value.scaleb(-2), "f") + "E+2", format(value.scaleb(1), "f") + "e-1"]
    return out


def near(bound: Decimal, scales: list[int]) -> list[str]:
    """Spellings of values at and around a bound."""
    with localcontext() as ctx:
        ctx.prec = EXACT
        deltas = [Decimal(0), Decimal(1), Decimal("0.5")] + [Decimal(f"1E-{k}") for k in scales]
        values = [bound + s * d for d in deltas for s in (1, -1)] + [-bound]
    return [text for v in values for text in spellings(v)]


def in_range(value: Decimal, low, high, ex_low: bool = False, ex_high: bool = False) -> bool:
    above = low is None or value > low or (value == low and not ex_low)
    below = high is None or value < high or (value == high and not ex_high)
    return above and below


def matches(regex: str, text: str) -> bool:
    return re.fullmatch(regex, text) is not None


def run_dfa(dfa: tuple[int, dict[int, dict[str, int]], set[int]], text: str) -> bool:
    _, transitions, accepting = dfa
    state = 0
    for char in text:
        state = transitions.get(state, {}).get(char, -1)
        if state < 0:
            return False
    return state in accepting


def is_integral(value: Decimal) -> bool:
    return value == value.to_integral_value()


def decimal_from(integer: int, places: int) -> Decimal:
    return Decimal(f"{integer}E-{places}")


json_numbers = st.from_regex(RFC_NUMBER, fullmatch=True)
small_ints = st.integers(-30, 30)
big_ints = st.integers(-(10**25), 10**25)
decimal_bounds = st.one_of(
    small_ints.map(Decimal),
    big_ints.map(Decimal),
    st.builds(decimal_from, st.integers(-(10**7), 10**7), st.integers(0, 8)),
    st.builds(decimal_from, big_ints, st.integers(0, 30)),
    st.sampled_from(
        [Decimal(x) for x in ("0", "0.5", "99.95", "-1.25", "1E+20", "-9007199254740993.5", "0.50000000001",
                              "1E-30", "-0", "0.09", "9.99", "-0.001", "100", "10")]
    ),
)
scales = st.lists(st.integers(1, 40), min_size=1, max_size=3)


# ---------------------------------------------------------------- integer_regex


@SETTINGS
@given(
    st.one_of(st.none(), small_ints, big_ints),
    st.one_of(st.none(), small_ints, big_ints),
    st.lists(json_numbers, max_size=8),
    st.lists(st.integers(-(10**26), 10**26), max_size=5),
)
def test_integer_regex_matches_exact_membership(low, high, random_texts, random_ints):
    if low is not None and high is not None and low > high:
        with pytest.raises(ValueError, match="empty range"):
            integer_regex(low, high)
        return
    regex = integer_regex(low, high)
    assert_restricted_syntax(regex)
    texts = INVALID_TEXTS + random_texts + ["1e2", "0E0", "3.50", "3.05"]
    for value in [b for b in (low, high) if b is not None] + random_ints + [0]:
        for v in (value - 2, value - 1, value, value + 1, value + 2, -value):
            texts += [str(v), f"{v}.0", f"{v}.000", f"{v}.5", f"{v}.01", f"{v}e0"]
    texts += ["-0", "-0.0", "0.00"]
    for text in texts:
        expected = INTEGER_SYNTAX.fullmatch(text) is not None and in_range(Decimal(text), low, high)
        assert matches(regex, text) == expected, (low, high, text, regex)


def test_integer_regex_examples():
    regex = integer_regex(-5, 17)
    assert all(matches(regex, t) for t in ["-5", "-0", "0", "17", "17.00", "-5.0", "9"])
    assert not any(matches(regex, t) for t in ["-6", "18", "1.5", "1e1", "017", "-"])
    assert integer_regex(3, 3) and matches(integer_regex(3, 3), "3.0")
    with pytest.raises(ValueError, match="empty range"):
        integer_regex(2, 1)


def test_integer_regex_size_grows_with_digits():
    assert len(integer_regex(-(10**30) + 7, 10**30 - 3)) < 5000
    assert len(integer_regex(123456789012345678901234567890, None)) < 5000
    assert len(integer_regex(None, -98765432109876543210987654321)) < 5000


# ---------------------------------------------------------------- number_regex


def expected_number(text: str, low, high, ex_low: bool, ex_high: bool) -> bool:
    if RFC_NUMBER.fullmatch(text) is None:
        return False
    mantissa, _, exponent = text.lower().partition("e")
    if exponent:  # only bounds at 0 allow exponents; then the mantissa's sign decides
        return all(b is None or b == 0 for b in (low, high)) and in_range(Decimal(mantissa), low, high, ex_low, ex_high)
    return in_range(Decimal(text), low, high, ex_low, ex_high)


@SETTINGS
@given(
    st.one_of(st.none(), decimal_bounds),
    st.one_of(st.none(), decimal_bounds),
    st.booleans(),
    st.booleans(),
    scales,
    st.lists(json_numbers, max_size=8),
)
def test_number_regex_matches_exact_membership(low, high, ex_low, ex_high, scale_list, random_texts):
    if low is not None and high is not None and (low > high or (low == high and (ex_low or ex_high))):
        with pytest.raises(ValueError, match="empty range"):
            number_regex(low, high, ex_low, ex_high)
        return
    regex = number_regex(low, high, ex_low, ex_high)
    assert_restricted_syntax(regex)
    texts = INVALID_TEXTS + random_texts + spellings(Decimal(0)) + ["1e400", "-1E-400", "0.0e5"]
    for bound in (low, high):
        if bound is not None:
            texts += near(bound, scale_list)
    for text in texts:
        assert matches(regex, text) == expected_number(text, low, high, ex_low, ex_high), (
            low, high, ex_low, ex_high, text, regex)


@pytest.mark.parametrize(
    "low,high,ex_low,ex_high",
    [(0, None, False, False), (0, None, True, False), (None, 0, False, False), (None, 0, False, True),
     (0, 0, False, False), (None, None, False, False), (-3, None, False, False)],
)
def test_number_regex_zero_bounds_allow_exponents(low, high, ex_low, ex_high):
    low = None if low is None else Decimal(low)
    high = None if high is None else Decimal(high)
    regex = number_regex(low, high, ex_low, ex_high)
    texts = ["0e5", "-0.0E-3", "1e-400", "-1e400", "0.000e1", "-2.5E+3", "0.001e0", "-0.0010e2", "7", "-0"]
    for text in texts:
        assert matches(regex, text) == expected_number(text, low, high, ex_low, ex_high), (low, high, text, regex)


def test_number_regex_examples():
    regex = number_regex(Decimal("0.5"), Decimal("99.95"))
    assert all(matches(regex, t) for t in ["0.5", "0.5000", "0.50000000001", "99.95", "99.950", "42", "1.50"])
    assert not any(matches(regex, t) for t in ["0.4999999", "99.9500001", "100", "-1", "5e1", "0.5e0"])
    regex = number_regex(None, Decimal("-1.25"), exclusive_maximum=True)
    assert matches(regex, "-1.2500001") and not matches(regex, "-1.25") and not matches(regex, "-1.2")
    for low, high, ex_low, ex_high in [(2, 1, False, False), (1, 1, True, False), (0, 0, False, True)]:
        with pytest.raises(ValueError, match="empty range"):
            number_regex(Decimal(low), Decimal(high), ex_low, ex_high)


def test_number_regex_size_grows_with_digits():
    low = Decimal("-12345678901234567890.1234567890123")
    high = Decimal("98765432109876543210.9876543210987")
    for ex_low in (False, True):
        assert len(number_regex(low, high, ex_low, not ex_low)) < 5000
    assert len(number_regex(Decimal("-9007199254740993.5"), Decimal(10**20))) < 5000


def test_regexes_compile_with_the_project_dfa_compiler():
    terminals = pytest.importorskip("syncode.terminals")
    cases = [
        number_regex(Decimal("0.5"), Decimal("99.95")),
        number_regex(Decimal("-1.25"), None, exclusive_minimum=True),
        number_regex(Decimal(0), None, exclusive_minimum=True),
        integer_regex(-5, 1234),
    ]
    texts = ["0.5", "99.95", "-1.25", "-1.2", "1234", "1234.5", "1.23", "1.230", "1e2", "-0", "100"]
    for regex in cases:
        dfa = terminals.regex_to_dfa(regex)
        for text in texts:
            assert dfa.matches(text.encode()) == matches(regex, text), (regex, text)


# ---------------------------------------------------------------- multipleOf


def divides(step: Decimal, text: str) -> bool:
    """The exact judgement: `text` is a JSON number without exponent, a multiple of `step`."""
    if RFC_NUMBER.fullmatch(text) is None or "e" in text.lower():
        return False
    with localcontext(EXACT_CONTEXT):
        return is_integral(Decimal(text) / step)


@SETTINGS
@given(
    st.one_of(st.integers(1, 60), st.sampled_from([97, 100, 1000, 1024])),
    st.lists(st.integers(-(10**12), 10**12), max_size=6),
    st.lists(json_numbers, max_size=5),
)
def test_multiple_of_dfa_integer_steps(k, numbers, random_texts):
    dfa = multiple_of_dfa(k)
    n_states, transitions, accepting = dfa
    assert set(transitions) <= set(range(n_states)) and accepting <= set(range(n_states))
    for edges in transitions.values():
        assert set(edges) <= set("-0123456789.") and set(edges.values()) <= set(range(n_states))
    texts = INVALID_TEXTS + random_texts + ["-0", "0.0", "-0.00", "1.", "10.5"]
    for n in numbers + [0, 1, 7]:
        for v in (n * k, n * k + 1, n * k - 1, n):
            texts += [str(v), f"{v}.0", f"{v}.00", f"{v}.10", f"{v}e0"]
    for text in texts:
        assert run_dfa(dfa, text) == divides(Decimal(k), text), (k, text)


@SETTINGS
@given(
    st.integers(1, 60),
    st.integers(0, 4),
    st.lists(st.tuples(st.integers(-(10**9), 10**9), st.integers(0, 9)), max_size=10),
    st.lists(json_numbers, max_size=5),
)
def test_multiple_of_dfa_decimal_steps(p, q, numbers, random_texts):
    """Any decimal step p / 10**q (0.01, 1.5, 0.25, 0.3, ...), exactly."""
    step = Decimal(p).scaleb(-q)
    dfa = multiple_of_dfa(step)
    texts = INVALID_TEXTS + random_texts + spellings(Decimal(0))
    for n, k in numbers:
        texts += spellings(decimal_from(n, k))
        texts += spellings(step * n) + spellings(step * n + decimal_from(1, k + 1))
    for text in texts:
        assert run_dfa(dfa, text) == divides(step, text), (step, text)


def test_multiple_of_dfa_states_can_all_accept():
    for step in (7, Decimal("1.5"), Decimal("0.01")):
        n_states, transitions, accepting = multiple_of_dfa(step)
        alive = set(accepting)
        while True:
            more = {s for s, edges in transitions.items() if set(edges.values()) & alive} - alive
            if not more:
                break
            alive |= more
        assert alive >= set(transitions)


def test_multiple_of_dfa_examples_and_errors():
    dfa = multiple_of_dfa(Decimal("0.010"))
    assert all(run_dfa(dfa, t) for t in ["1.230", "-4", "0.01", "-0.0", "12.3400000"])
    assert not any(run_dfa(dfa, t) for t in ["1.234", "0.001", "1e-2"])
    dfa = multiple_of_dfa(Decimal("1.5"))
    assert all(run_dfa(dfa, t) for t in ["0", "4.5", "-3", "1.50", "15"]) and not run_dfa(dfa, "35")
    with pytest.raises(NotRegularError):  # 123456789 remainders
        multiple_of_dfa(Decimal("0.123456789"))
    for step in (Decimal(0), Decimal("-0.1"), 0, -3):
        with pytest.raises(ValueError):
            multiple_of_dfa(step)
