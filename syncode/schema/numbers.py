"""Numeric JSON Schema keywords as regular languages over JSON number text.

Owns the translation of `minimum` / `maximum` / `exclusiveMinimum` / `exclusiveMaximum`
(for `integer` and `number`) and `multipleOf` into regular expressions (or, for
`multipleOf`, a DFA) whose full matches are exactly the JSON number texts (RFC 8259) with
the constrained value. Regexes use only literals, character classes, `|`, `(?:...)` and
the quantifiers `? * + {m} {m,n} {m,}`; their size grows with the number of digits of
the bounds, not with their magnitude.

Documented restrictions (texts excluded although their value qualifies):
- `integer_regex` never matches exponent forms ("1e2").
- `number_regex` matches exponent forms only when every given bound is 0 (or there is
  no bound); with any non-zero bound, exponent forms are excluded, because comparing
  the exponent with the position of the mantissa's digits is not regular.
"""
from __future__ import annotations

import json
from decimal import Decimal

DIGIT = "[0-9]"
ANY_FRACTION = r"(?:\.[0-9]+)?"
ZERO_FRACTION = r"(?:\.0+)?"
EXPONENT = "(?:[eE][+-]?[0-9]+)?"
UNSIGNED_INTEGER = "(?:0|[1-9][0-9]*)"
JSON_NUMBER = "-?" + UNSIGNED_INTEGER + ANY_FRACTION + EXPONENT  # every JSON number text
JSON_INTEGER = "-?" + UNSIGNED_INTEGER + ZERO_FRACTION  # integer texts without exponent
ZERO_MANTISSA = "0" + ZERO_FRACTION
NONZERO_MANTISSA = r"(?:[1-9][0-9]*(?:\.[0-9]+)?|0\.0*[1-9][0-9]*)"
# One text per value: no exponent, no trailing fraction zeros (and "-0" stands apart).
CANONICAL_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?"

# A bound on an unsigned value: (value, strict); strict excludes the value itself.
Bound = tuple[Decimal, bool]


class NotRegularError(ValueError):
    """The requested set of number texts cannot be expressed exactly by this construction."""


# ---------------------------------------------------------------- regex assembly
# A piece is a regex string; "" is the language {""} and None the empty language.


def _alternatives(piece: str) -> list[str]:
    """The top-level alternatives of a piece that is one unquantified group, else [piece]."""
    if not (piece.startswith("(?:") and _is_atom(piece)):
        return [piece]
    out, depth, start = [], 0, 3
    for i, char in enumerate(piece[3:-1], start=3):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            out.append(piece[start:i])
            start = i + 1
    return out + [piece[start:-1]]


def _alt(parts: list[str | None]) -> str | None:
    """Union of pieces, grouped so that it can be concatenated or quantified."""
    unique = list(dict.fromkeys(a for p in parts if p is not None for a in _alternatives(p)))
    if not unique:
        return None
    if "" in unique:
        rest = _alt([p for p in unique if p != ""])
        return "" if rest is None else _optional(rest)
    return unique[0] if len(unique) == 1 else "(?:" + "|".join(unique) + ")"


def _cat(*parts: str | None) -> str | None:
    """Concatenation of pieces; empty if any piece is empty."""
    return None if any(p is None for p in parts) else "".join(filter(None, parts))


def _is_atom(piece: str) -> bool:
    """Whether a quantifier applies to the whole piece without grouping it."""
    if len(piece) == 1 or (len(piece) == 2 and piece[0] == "\\"):
        return True
    if piece.startswith("[") and piece.index("]") == len(piece) - 1:
        return True
    if piece.startswith("(?:") and piece.endswith(")"):
        depth = 0
        for i, char in enumerate(piece):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                return i == len(piece) - 1
    return False


def _optional(piece: str) -> str:
    """The piece or nothing."""
    return (piece if _is_atom(piece) else "(?:" + piece + ")") + "?"


def _repeat(atom: str, low: int, high: int | None) -> str:
    """`atom` repeated low..high times (high None: unbounded)."""
    if high is None:
        suffix = {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    elif low == high:
        return {0: "", 1: atom}.get(low, f"{atom}{{{low}}}")
    else:
        suffix = "?" if (low, high) == (0, 1) else f"{{{low},{high}}}"
    return atom + suffix


def _digit_class(digits: list[int]) -> str:
    """A character class (or single digit) for a set of digits."""
    digits = sorted(set(digits))
    if len(digits) == 1:
        return str(digits[0])
    runs: list[list[int]] = []
    for d in digits:
        if runs and runs[-1][1] == d - 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    body = "".join(f"{a}" if a == b else f"{a}{b}" if b == a + 1 else f"{a}-{b}" for a, b in runs)
    return "[" + body + "]"


def _branch(continuations: dict[int, str | None]) -> str | None:
    """Union over digits d of `d` followed by continuations[d]; digits sharing one merge."""
    by_tail: dict[str, list[int]] = {}
    for digit, tail in continuations.items():
        if tail is not None:
            by_tail.setdefault(tail, []).append(digit)
    return _alt([_digit_class(digits) + tail for tail, digits in by_tail.items()])


# ---------------------------------------------------------------- integer parts


def _same_length_range(low: str, high: str) -> str | None:
    """Digit strings of len(low) == len(high) lexicographically within [low, high]."""

    def rest(i: int, tight_low: bool, tight_high: bool) -> str | None:
        tight_low = tight_low and low[i:].strip("0") != ""
        tight_high = tight_high and high[i:].strip("9") != ""
        if not tight_low and not tight_high:
            return _repeat(DIGIT, len(low) - i, len(low) - i)
        if i == len(low):
            return ""
        first = int(low[i]) if tight_low else 0
        last = int(high[i]) if tight_high else 9
        return _branch(
            {d: rest(i + 1, tight_low and d == first, tight_high and d == last) for d in range(first, last + 1)}
        )

    return rest(0, True, True) if low <= high else None


def _unsigned_integer_range(low: int, high: int | None) -> str | None:
    """Texts `0|[1-9][0-9]*` with value in [low, high] (low >= 0, high None: unbounded)."""
    if high is not None and low > high:
        return None
    parts: list[str | None] = []
    if low == 0:
        parts.append("0")
        low = 1
        if high == 0:
            return "0"
    low_len = len(str(low))
    if high is not None and len(str(high)) == low_len:
        parts.append(_same_length_range(str(low), str(high)))
        return _alt(parts)
    full_from = low_len  # first length whose every number is in range
    if low != 10 ** (low_len - 1):
        parts.append(_same_length_range(str(low), "9" * low_len))
        full_from += 1
    if high is None:
        parts.append("[1-9]" + _repeat(DIGIT, full_from - 1, None))
        return _alt(parts)
    high_len = len(str(high))
    full_to = high_len
    high_part = None
    if high != 10**high_len - 1:
        high_part = _same_length_range("1" + "0" * (high_len - 1), str(high))
        full_to -= 1
    if full_from <= full_to:
        parts.append("[1-9]" + _repeat(DIGIT, full_from - 1, full_to - 1))
    parts.append(high_part)
    return _alt(parts)


# ---------------------------------------------------------------- fractions


def _split(value: Decimal) -> tuple[int, str]:
    """Integer part and fraction digits (no trailing zeros) of a non-negative finite decimal."""
    _, digits, exponent = value.as_tuple()
    text = "".join(map(str, digits))
    assert isinstance(exponent, int)
    if exponent >= 0:
        return int(text + "0" * exponent), ""
    places = -exponent
    text = text.zfill(places + 1)
    return int(text[:-places]), text[-places:].rstrip("0")


def _fraction_suffix(low: str | None, low_strict: bool, high: str | None, high_strict: bool) -> str | None:
    """Suffixes `(\\.[0-9]+)?` whose value 0.D lies between 0.low and 0.high.

    `low` / `high` are fraction digits without trailing zeros, or None for no bound.
    """
    low_digits, high_digits = low or "", high or ""

    def may_end(i: int, tight_low: bool, tight_high: bool) -> bool:
        """Whether D may stop after i digits equal to the tight bounds' first i digits."""
        low_ok = not tight_low or (i >= len(low_digits) and not low_strict)
        high_ok = not tight_high or i < len(high_digits) or not high_strict
        return low_ok and high_ok

    def rest(i: int, tight_low: bool, tight_high: bool) -> str | None:
        """Remaining digits of D after i digits equal to the tight bounds' first i digits."""
        at_least = 1 if i == 0 else 0  # D has at least one digit
        low_open = tight_low and i < len(low_digits)
        high_open = tight_high and i < len(high_digits)
        if not low_open and not high_open:
            if tight_high:  # D <= high from here on only with zeros
                return None if high_strict or (tight_low and low_strict) else _repeat("0", at_least, None)
            if tight_low and low_strict:  # D > low needs a non-zero digit
                return "0*[1-9][0-9]*"
            return _repeat(DIGIT, at_least, None)
        first = int(low_digits[i]) if low_open else 0
        last = int(high_digits[i]) if high_open else 9
        branches = _branch(
            {d: rest(i + 1, tight_low and d == first, tight_high and d == last) for d in range(first, last + 1)}
        )
        return _alt(["" if i > 0 and may_end(i, tight_low, tight_high) else None, branches])

    tight_low, tight_high = low is not None, high is not None
    return _alt(["" if may_end(0, tight_low, tight_high) else None, _cat(r"\.", rest(0, tight_low, tight_high))])


def _unsigned_number_range(low: Bound, high: Bound | None) -> str | None:
    """Texts `(0|[1-9][0-9]*)(\\.[0-9]+)?` with value within the bounds (low >= 0)."""
    low_value, low_strict = low
    if high is not None and (low_value > high[0] or (low_value == high[0] and (low_strict or high[1]))):
        return None
    low_int, low_frac = _split(low_value)
    if high is None:
        high_int, high_frac, high_strict = None, None, False
    else:
        high_int, high_frac = _split(high[0])
        high_strict = high[1]
    if low_int == high_int:
        return _cat(str(low_int), _fraction_suffix(low_frac, low_strict, high_frac, high_strict))
    parts: list[str | None] = []
    middle_from = low_int
    if low_frac or low_strict:
        parts.append(_cat(str(low_int), _fraction_suffix(low_frac, low_strict, None, False)))
        middle_from += 1
    middle_to = None if high_int is None else high_int - 1
    parts.append(_cat(_unsigned_integer_range(middle_from, middle_to), ANY_FRACTION))
    if high_int is not None:
        parts.append(_cat(str(high_int), _fraction_suffix(None, False, high_frac, high_strict)))
    return _alt(parts)


# ---------------------------------------------------------------- signs


def _signed(positive: str | None, negative: str | None) -> str:
    """Texts `X` for X in positive and `-X` for X in negative; raises if both are empty."""
    if positive is not None and positive == negative:
        return "-?" + positive
    signed = _alt([positive, _cat("-", negative)])
    if signed is None:
        raise ValueError("empty range")
    return signed


def _to_decimal(value: Decimal | int, name: str) -> Decimal:
    """The bound or step as a finite Decimal (ints are accepted)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{name} must be a Decimal or an int, not {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"{name} must be finite, not {value}")
    return value


# ---------------------------------------------------------------- public API


def integer_regex(minimum: int | None, maximum: int | None) -> str:
    """Regex matching JSON integer texts `-?(0|[1-9][0-9]*)(\\.0+)?` with value in [minimum, maximum].

    None means unbounded; "-0" spells 0. Exponent forms are never matched.
    Raises ValueError("empty range") when minimum > maximum.
    """
    if minimum is not None and maximum is not None and minimum > maximum:
        raise ValueError("empty range")
    positive = None
    if maximum is None or maximum >= 0:
        positive = _unsigned_integer_range(max(minimum or 0, 0), maximum)
    negative = None  # "-X": -X within the bounds
    if minimum is None or minimum <= 0:
        negative = _unsigned_integer_range(max(-maximum, 0) if maximum is not None else 0,
                                           None if minimum is None else -minimum)
    return _signed(positive, negative) + ZERO_FRACTION


def number_regex(
    minimum: Decimal | None,
    maximum: Decimal | None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
) -> str:
    """Regex matching JSON number texts whose exact value satisfies the bounds.

    None means unbounded; the exclusive flags make the corresponding bound strict.
    Exponent forms are matched only when every given bound is 0 (see module docstring).
    Raises ValueError("empty range") when no value satisfies the bounds.
    """
    low = None if minimum is None else _to_decimal(minimum, "minimum")
    high = None if maximum is None else _to_decimal(maximum, "maximum")
    if low is not None and high is not None and (
        low > high or (low == high and (exclusive_minimum or exclusive_maximum))
    ):
        raise ValueError("empty range")
    if all(b is None or b == 0 for b in (low, high)):
        return _zero_bounded(low is not None, high is not None, exclusive_minimum, exclusive_maximum)

    zero = Decimal(0)
    positive = None  # values >= 0
    if high is None or high > 0 or (high == 0 and not exclusive_maximum):
        pos_low: Bound = (low, exclusive_minimum) if low is not None and low >= 0 else (zero, False)
        pos_high = None if high is None else (high, exclusive_maximum)
        positive = _unsigned_number_range(pos_low, pos_high)
    negative = None  # "-X" has value -X
    if low is None or low < 0 or (low == 0 and not exclusive_minimum):
        neg_low: Bound = (high.copy_negate(), exclusive_maximum) if high is not None and high <= 0 else (zero, False)
        neg_high = None if low is None else (low.copy_negate(), exclusive_minimum)
        negative = _unsigned_number_range(neg_low, neg_high)
    return _signed(positive, negative)


def _zero_bounded(has_min: bool, has_max: bool, exclusive_minimum: bool, exclusive_maximum: bool) -> str:
    """JSON number texts (exponents included) within bounds that are all 0 (or absent)."""

    def allowed(sign: int) -> bool:
        """Whether values of this sign (-1, 0, 1) satisfy the bounds."""
        above = not has_min or sign > 0 or (sign == 0 and not exclusive_minimum)
        below = not has_max or sign < 0 or (sign == 0 and not exclusive_maximum)
        return above and below

    if allowed(-1) and allowed(0) and allowed(1):
        return JSON_NUMBER
    # sign prefix of non-zero mantissas, by (positive allowed, negative allowed)
    nonzero_sign = {(True, True): "-?", (True, False): "", (False, True): "-"}.get((allowed(1), allowed(-1)))
    mantissa = _alt(
        [
            "-?" + ZERO_MANTISSA if allowed(0) else None,
            None if nonzero_sign is None else nonzero_sign + NONZERO_MANTISSA,
        ]
    )
    if mantissa is None:
        raise ValueError("empty range")
    return mantissa + EXPONENT


MAX_MULTIPLE_OF_STATES = 20_000


def multiple_of_dfa(step: Decimal | int) -> tuple[int, dict[int, dict[str, int]], set[int]]:
    """DFA over `-0123456789.` matching JSON number texts without exponent whose value is a
    multiple of `step` (any positive decimal, p / 10**q in lowest terms of the digits).

    x is a multiple of p / 10**q iff x * 10**q is an integer divisible by p: at most q
    fraction digits that are not zero, and the digits read so far taken modulo p. The states
    track that remainder and how many fraction digits were read (up to q).
    Returns (n_states, transitions state -> {char -> state}, accepting states); state 0
    starts. States that cannot reach acceptance are omitted. Raises ValueError for a step
    that is not positive and NotRegularError when the automaton would exceed
    `MAX_MULTIPLE_OF_STATES` states.
    """
    d = _to_decimal(step, "multipleOf")
    if not d > 0:
        raise ValueError(f"multipleOf must be positive, not {step!r}")
    exponent = d.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    q = max(0, -exponent)
    p = int(d.scaleb(q))
    if p * (q + 2) > MAX_MULTIPLE_OF_STATES:
        raise NotRegularError(f"multipleOf {d} needs an automaton of about {p * (q + 2)} states "
                              f"(over {MAX_MULTIPLE_OF_STATES})")
    transitions: dict[tuple, dict[str, tuple]] = {}

    def add(state: tuple, char: str, target: tuple) -> None:
        transitions.setdefault(state, {})[char] = target

    add(("start",), "-", ("minus",))
    for first in (("start",), ("minus",)):
        add(first, "0", ("int", 0, True))
        for digit in range(1, 10):
            add(first, str(digit), ("int", digit % p, False))
    add(("int", 0, True), ".", ("dot", 0))
    for r in range(p):
        for digit in range(10):
            add(("int", r, False), str(digit), ("int", (10 * r + digit) % p, False))
        add(("int", r, False), ".", ("dot", r))
        if q:
            for digit in range(10):
                add(("dot", r), str(digit), ("frac", (10 * r + digit) % p, 1))
        else:
            add(("dot", r), "0", ("frac", r, 0))
        for k in range(1 if q else 0, q + 1):
            if k < q:
                for digit in range(10):
                    add(("frac", r, k), str(digit), ("frac", (10 * r + digit) % p, k + 1))
            else:  # q fraction digits read: only trailing zeros may follow
                add(("frac", r, k), "0", ("frac", r, k))

    def accepting(state: tuple) -> bool:
        if state[0] == "int":
            return state[1] * 10 ** q % p == 0
        return state[0] == "frac" and state[1] * 10 ** (q - state[2]) % p == 0

    reached, stack = {("start",)}, [("start",)]
    while stack:
        for t in transitions.get(stack.pop(), {}).values():
            if t not in reached:
                reached.add(t)
                stack.append(t)
    alive = {s for s in reached if accepting(s)}
    while True:
        more = {s for s in reached - alive if set(transitions.get(s, {}).values()) & alive}
        if not more:
            break
        alive |= more
    ids: dict[tuple, int] = {("start",): 0}
    for s in sorted(alive, key=repr):
        ids.setdefault(s, len(ids))
    table = {ids[s]: {c: ids[t] for c, t in transitions[s].items() if t in alive}
             for s in ids if s in transitions}
    return len(ids), {s: row for s, row in table.items() if row}, {ids[s] for s in alive if accepting(s)}


def decimal_spellings(d: Decimal) -> str:
    """A regex for the JSON texts without exponent equal to `d`: its decimal form with any
    number of trailing fraction zeros (and `-0` for zero)."""
    sign = "-" if d < 0 else ""
    d = abs(d)
    if d == 0:
        return r"-?0(?:\.0+)?"
    if d == d.to_integral_value():
        return sign + str(int(d)) + r"(?:\.0+)?"
    return sign + format(d.normalize(), "f").replace(".", r"\.") + "0*"


def number_spellings(value: int | float) -> str:
    """A regex for the JSON texts equal to the number `value`: `decimal_spellings` and
    `json.dumps`'s own form."""
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    own = json.dumps(value).replace(".", r"\.").replace("+", r"\+")
    return f"(?:{decimal_spellings(d)}|{own})"
