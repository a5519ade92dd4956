"""JSON Schema `format` keywords as regular languages over the decoded string value.

Owns the translation of a `format` name into a `FormatLanguage`: a regex (full-match
semantics, over code points) plus, where needed, a length limit that the caller
intersects with it. The judge of validity is
`jsonschema.Draft202012Validator.FORMAT_CHECKER` with the `format-nongpl` extras
installed, i.e. the functions in `jsonschema/_format.py` and the backends they call.
Each language is built to be exactly the set of strings that checker accepts,
including its quirks (trailing "\\n" allowed where a backend matches with `^...$`,
case-insensitivity introduced by `str.upper()` / `str.lower()`, non-ASCII decimal
digits accepted by `re`'s `\\d` or by `int()`), unless `note` says otherwise; when it
does, the language is a documented SUBSET of what the checker accepts, never a
superset.

Backend judging each format (and whether the language here is exact):

    date-time      rfc3339_validator.validate_rfc3339(s.upper())                 exact
    date           ASCII re `\\d{4}-\\d{2}-\\d{2}` + datetime.date.fromisoformat    exact
    time           date-time of "1970-01-01T" + s                                 exact
    duration       isoduration.parse_duration + s.endswith(tuple("DMYWHMS"))      subset
    email          "@" in s (idn-email too)                                       exact
    hostname       fqdn.FQDN(s, min_labels=1).is_valid                            subset
    ipv4           ipaddress.IPv4Address(s)                                       exact
    ipv6           ipaddress.IPv6Address(s) without a scope id                    exact
    uuid           uuid.UUID(s) + "-" at positions 8, 13, 18, 23                  subset
    uri            rfc3986_validator.validate_rfc3986(s, rule="URI")              exact
    uri-reference  rfc3986_validator.validate_rfc3986(s, rule="URI_reference")    exact
    json-pointer   jsonpointer.JsonPointer(s)                                     exact

No format needs `max_length` (hostname bounds its labels by position instead). The subsets' notes say what they exclude.
Other formats the checker knows (regex, idn-hostname, iri, iri-reference,
uri-template, relative-json-pointer) raise `UnsupportedFormatError` with the reason.

Regexes use only literals, character classes with ranges (non-ASCII written as
`\\uXXXX` / `\\UXXXXXXXX`, controls as `\\xNN`), `|`, `(?:...)` and the quantifiers
`? * + {m} {m,n}`: no anchors, lookaround, backreferences, inline flags, `\\d`/`\\s`
categories or negated classes. Languages that depend on the running Python's Unicode
database (decimal digits, case mappings) are computed from it at first use, so they
match the checker running in the same interpreter.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Iterable

from ..automata import MAX_CP, Range, category_ranges, merge_ranges


@dataclass(frozen=True)
class FormatLanguage:
    """The language of one `format`: strings `s` with `re.fullmatch(regex, s)` and
    `len(s) <= max_length` (code points) when `max_length` is set. `note` is "" when the
    language equals what the checker accepts; otherwise it names the accepted strings
    this (subset) language excludes."""

    regex: str
    max_length: int | None = None
    note: str = ""


class UnsupportedFormatError(ValueError):
    """A format whose checker language is not (practically) expressible here."""


# ------------------------------------------------------------------ regex building


def _group(*alternatives: str) -> str:
    """A non-capturing group of the alternatives."""
    return "(?:" + "|".join(alternatives) + ")"


def _optional(regex: str) -> str:
    """`regex` zero or one time."""
    return _group(regex) + "?"


def _star(regex: str) -> str:
    """`regex` any number of times."""
    return _group(regex) + "*"


def _escape_code_point(cp: int) -> str:
    """One code point as it may appear inside or outside a class: printable ASCII
    literally (metacharacters escaped), everything else as an escape."""
    if 0x20 <= cp < 0x7F:
        ch = chr(cp)
        # Metacharacters, plus "#", " " (verbose mode) and "&", "~" (doubled, they raise
        # re's FutureWarning about future set operations inside classes).
        return "\\" + ch if ch in "\\^$.|?*+()[]{}-#&~ " else ch
    if cp < 0x80:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _without(ranges: Iterable[Range], cp: int) -> list[Range]:
    """`ranges` minus the code point `cp`."""
    out: list[Range] = []
    for lo, hi in ranges:
        if lo <= cp <= hi:
            out += [r for r in ((lo, cp - 1), (cp + 1, hi)) if r[0] <= r[1]]
        else:
            out.append((lo, hi))
    return out


def _class(ranges: Iterable[Range]) -> str:
    """A character class matching exactly the code points in `ranges`."""
    parts = []
    for lo, hi in merge_ranges(ranges):
        if lo == hi:
            parts.append(_escape_code_point(lo))
        elif hi == lo + 1:
            parts.append(_escape_code_point(lo) + _escape_code_point(hi))
        else:
            parts.append(_escape_code_point(lo) + "-" + _escape_code_point(hi))
    return "[" + "".join(parts) + "]"


def _chars(text: str) -> list[Range]:
    """The code points of `text`, as ranges."""
    return [(ord(c), ord(c)) for c in text]


def _class_of(text: str) -> str:
    """A character class of exactly the characters in `text`."""
    return _class(_chars(text))


def _literal(text: str) -> str:
    """`text` matched literally."""
    return "".join(_escape_code_point(ord(c)) for c in text)


def _ordered(items: list[str], nonempty: bool) -> str:
    """Each item at most once, in the given order; at least one when `nonempty`."""
    if not nonempty:
        return "".join(_optional(item) for item in items)
    alternatives = [items[k] + "".join(_optional(rest) for rest in items[k + 1:]) for k in range(len(items))]
    return _group(*alternatives)


def _repeat(regex: str, lo: int, hi: int | None = None) -> str:
    """`regex` repeated lo..hi times (exactly lo when hi is None); "" for {0}."""
    if hi is None:
        return "" if lo == 0 else (_group(regex) if lo == 1 else f"{_group(regex)}{{{lo}}}")
    return f"{_group(regex)}{{{lo},{hi}}}"


ANY_CHAR = _class([(0, MAX_CP)])
DIGIT = "[0-9]"
HEX_DIGIT = "[0-9A-Fa-f]"
ASCII_LETTER = "[A-Za-z]"
TRAILING_NEWLINE = _optional("\\n")  # what `$` in a `re.match(r"^...$")` check lets through


# ------------------------------------------------------------------ dates and times
# rfc3339_validator: ^(\d{4})-(0[1-9]|1[0-2])-(\d{2})T(?:[01]\d|2[0123]):(?:[0-5]\d):(?:[0-5]\d)
# (?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0123]):[0-5]\d)$ with re.ASCII, on s.upper(); year 0 rejected,
# day checked with calendar.monthrange (proleptic Gregorian). No leap second ("60").
# str.upper() maps only "t" and "z" (besides the targets themselves) into that alphabet.

NONZERO_YEAR = _group("[0-9]{3}[1-9]", "[0-9]{2}[1-9][0-9]", "[0-9][1-9][0-9]{2}", "[1-9][0-9]{3}")
_MULTIPLE_OF_4_NONZERO = _group("0[48]", "[2468][048]", "[13579][26]")  # two digits: 04..96
LEAP_YEAR = _group("[0-9]{2}" + _MULTIPLE_OF_4_NONZERO, _MULTIPLE_OF_4_NONZERO + "00")
MONTH_OF_31 = _group("0[13578]", "1[02]")
MONTH_OF_30 = _group("0[469]", "11")
DAY_TO_31 = _group("0[1-9]", "[12][0-9]", "3[01]")
DAY_TO_30 = _group("0[1-9]", "[12][0-9]", "30")
DAY_TO_28 = _group("0[1-9]", "1[0-9]", "2[0-8]")
FULL_DATE = _group(
    NONZERO_YEAR + "-" + _group(MONTH_OF_31 + "-" + DAY_TO_31, MONTH_OF_30 + "-" + DAY_TO_30, "02-" + DAY_TO_28),
    LEAP_YEAR + "-02-29",
)
HOUR = _group("[01][0-9]", "2[0-3]")
MINUTE = "[0-5][0-9]"
SECOND = "[0-5][0-9]"
PARTIAL_TIME = HOUR + ":" + MINUTE + ":" + SECOND + _optional("\\.[0-9]+")
TIME_OFFSET = _group("[Zz]", "[+\\-]" + HOUR + ":" + MINUTE)
FULL_TIME = PARTIAL_TIME + TIME_OFFSET


def _date() -> FormatLanguage:
    """`date`: ASCII YYYY-MM-DD, year 0001..9999, real calendar days (fullmatch: no "\\n")."""
    return FormatLanguage(FULL_DATE)


def _date_time() -> FormatLanguage:
    """`date-time`: RFC 3339 as rfc3339_validator reads it, "T"/"Z" in either case."""
    return FormatLanguage(FULL_DATE + "[Tt]" + FULL_TIME + TRAILING_NEWLINE)


def _time() -> FormatLanguage:
    """`time`: the time half of `date-time` (offset required, no leap second)."""
    return FormatLanguage(FULL_TIME + TRAILING_NEWLINE)


# ------------------------------------------------------------------ duration
# isoduration.parse_duration: optional "+"/"-", "P", then date designators Y, M, D, W in
# that order (each optional; "W" only while every earlier value is zero), each preceded
# by a run of [+\-0-9.,eE] that Decimal must read ("," read as "."); an optional "T"
# followed by time designators H, M, S likewise. A run before "T" that no designator
# consumes is ignored, unless nothing precedes it and it has no "," -- then the whole rest
# goes to arrow.get (the "PYYYY-MM-DDThh:mm:ss" branch). jsonschema then requires the
# string to end with a designator letter. sign * Decimal(value) raises decimal.Overflow
# (uncaught: the checker crashes) when the value's adjusted exponent exceeds 999999 and
# Decimal rejects exponents beyond about 10**18, so the exact language is not regular.

DURATION_MAX_INTEGER_DIGITS = 32  # significant digits before the decimal point, per value
DURATION_MAX_EXPONENT_DIGITS = 5  # significant digits of an exponent, per value

DURATION_NUMBER_CHAR = _class_of("+-0123456789.,eE")
DURATION_EXPONENT = _optional("[eE][+\\-]?0*[0-9]{1,%d}" % DURATION_MAX_EXPONENT_DIGITS)
DURATION_MANTISSA = _group("0*[0-9]{1,%d}" % DURATION_MAX_INTEGER_DIGITS + _optional("[.,][0-9]*"), "[.,][0-9]+")
DURATION_NUMBER = "[+\\-]?" + DURATION_MANTISSA + DURATION_EXPONENT
DURATION_ZERO = "[+\\-]?" + _group("0+" + _optional("[.,]0*"), "[.,]0+") + DURATION_EXPONENT


def _duration() -> FormatLanguage:
    """`duration`: the designator forms isoduration accepts, with bounded numbers."""
    years, months, days = (DURATION_NUMBER + d for d in "YMD")
    zero_years, zero_months, zero_days = (DURATION_ZERO + d for d in "YMD")
    weeks = DURATION_NUMBER + "W"

    def date_part(nonempty: bool) -> str:
        without_weeks = _ordered([years, months, days], nonempty)
        with_weeks = _ordered([zero_years, zero_months, zero_days], False) + weeks
        return _group(without_weeks, with_weeks)

    time_part = "T" + _ordered([DURATION_NUMBER + d for d in "HMS"], True)
    ignored_run = DURATION_NUMBER_CHAR + "*"
    ignored_run_with_comma = ignored_run + "," + ignored_run  # a leading run without "," goes to arrow
    body = _group(
        date_part(True) + _optional(ignored_run + time_part),
        _optional(ignored_run_with_comma) + time_part,
    )
    note = (
        "Subset. Excludes (1) strings whose text after the optional sign and 'P' starts with "
        "one or more of [+-0-9.eE] (no ',') directly followed by 'T': isoduration hands those "
        "to arrow.get as a date-time (e.g. 'P2020-01-01T10:00:00Z\\tS' is accepted by the "
        "checker); (2) strings in which a number that a designator consumes has more than "
        f"{DURATION_MAX_INTEGER_DIGITS} significant digits before its decimal point, or an "
        f"exponent with more than {DURATION_MAX_EXPONENT_DIGITS} significant digits (the "
        "checker accepts some of these and crashes with decimal.Overflow on others, which "
        "makes its language non-regular)."
    )
    return FormatLanguage("[+\\-]?P" + body, note=note)


# ------------------------------------------------------------------ email


def _email() -> FormatLanguage:
    """`email` / `idn-email`: jsonschema only checks that "@" occurs."""
    return FormatLanguage(ANY_CHAR + "*@" + ANY_CHAR + "*")


# ------------------------------------------------------------------ hostname
# fqdn: s.lower() must match ^((?![-])[-A-Z\d]{1,63}(?<!-)[.])*(?!-)[-A-Z\d]{1,63}(?<!-)[.]?$
# under re.IGNORECASE (so `\d` is every Unicode decimal digit, and "ı", "ſ", and the
# Kelvin sign count as letters), with len(s) - (1 if s ends with ".") <= 253. `$` also
# lets one trailing "\n" through (then the "." is not at the end and counts).

HOSTNAME_LABEL_LIMITS = (63, 63, 63, 11, 11, 11, 11, 11)  # longest label by position: 3 * 63 + 5 * 11 + 7 dots = 251


def _hostname() -> FormatLanguage:
    """`hostname`: dot-separated labels, no "-" at a label's ends, label lengths bounded by
    position (HOSTNAME_LABEL_LIMITS) so that no name can exceed 253 characters: the exact
    format needs a counter over the whole name (an automaton of tens of thousands of states)."""
    edge, inner = "[0-9A-Za-z]", "[-0-9A-Za-z]"  # ASCII: every JSON spelling of a wider class multiplies the states

    def label(longest: int) -> str:
        return edge + _optional(inner + f"{{0,{longest - 2}}}" + edge)

    regex = ""
    for longest in reversed(HOSTNAME_LABEL_LIMITS[1:]):
        regex = _optional("\\." + label(longest) + regex)
    regex = label(HOSTNAME_LABEL_LIMITS[0]) + regex + "\\.?" + TRAILING_NEWLINE
    note = (
        f"Subset. Excludes names of more than {len(HOSTNAME_LABEL_LIMITS)} labels, names whose labels are longer "
        f"than {HOSTNAME_LABEL_LIMITS} by position (valid names can have up to 127 labels and any label of 63), and "
        "names with non-ASCII characters (the checker also takes Unicode digits, 'ı', 'ſ' and the Kelvin sign)."
    )
    return FormatLanguage(regex, note=note)


# ------------------------------------------------------------------ IP addresses
# ipaddress: octets are 1..3 ASCII digits, no leading zero, <= 255. IPv6 hextets are 1..4
# ASCII hex digits; "::" stands for at least one zero hextet; an IPv4 tail counts as two
# hextets; a "%scope" makes jsonschema reject; "/" is rejected.

IPV4_OCTET = _group("25[0-5]", "2[0-4][0-9]", "1[0-9]{2}", "[1-9][0-9]", "[0-9]")
IPV4_ADDRESS = _repeat(IPV4_OCTET + "\\.", 3) + IPV4_OCTET
H16 = HEX_DIGIT + "{1,4}"


def ipv6_regex(ipv4: str) -> str:
    """RFC 3986's IPv6address with `ipv4` as the dotted tail: at most 7 hextets (an IPv4
    tail counting 2) around "::", or exactly 8 without it."""
    ls32 = _group(H16 + ":" + H16, ipv4)
    alternatives = [_repeat(H16 + ":", 6) + ls32, "::" + _repeat(H16 + ":", 5) + ls32]
    for before in range(1, 8):  # up to `before` hextets in front of "::", 7 - before after it
        head = H16 if before == 1 else _group(_repeat(H16 + ":", 0, before - 1) + H16)
        if before <= 5:
            after = _repeat(H16 + ":", 5 - before) + ls32
        else:
            after = H16 if before == 6 else ""
        alternatives.append(_optional(head) + "::" + after)
    return _group(*alternatives)


def _ipv4() -> FormatLanguage:
    """`ipv4`: dotted quad, decimal octets without leading zeros."""
    return FormatLanguage(IPV4_ADDRESS)


def _ipv6() -> FormatLanguage:
    """`ipv6`: ipaddress.IPv6Address syntax without a zone id."""
    return FormatLanguage(ipv6_regex(IPV4_ADDRESS))


# ------------------------------------------------------------------ uuid
# uuid.UUID(s) deletes every "urn:", then every "uuid:", strips "{" / "}" from both ends,
# deletes every "-", and needs int(rest, 16) of exactly 32 characters; jsonschema then
# needs "-" at positions 8, 13, 18 and 23. int() reads any Unicode decimal digit, and
# also tolerates whitespace, a sign, "0x" and "_"; the exact language (insertions of
# "urn:"/"uuid:"/"-" anywhere, counted against fixed positions) is regular but huge.


def _uuid() -> FormatLanguage:
    """`uuid`: the canonical 8-4-4-4-12 form, digits as int(..., 16) reads them."""
    non_ascii_digits = [r for r in category_ranges("d") if r[0] > 0x7F]  # Unicode Nd, as int() reads
    digit = _class(_chars("0123456789abcdefABCDEF") + non_ascii_digits)
    groups = [_repeat(digit, n) for n in (8, 4, 4, 4, 12)]
    note = (
        "Subset: only 36-character strings of 8-4-4-4-12 digit groups joined by '-' (digits: "
        "ASCII hex in either case or any Unicode decimal digit). Excludes the other strings "
        "uuid.UUID tolerates and whose characters 8, 13, 18, 23 are '-': those with extra "
        "'-', 'urn:' or 'uuid:' inserted (e.g. after position 23), leading/trailing '{' or '}', "
        "or whose 32 remaining characters use int()'s whitespace, sign, '0x' prefix or '_' "
        "separators (e.g. '+2345678-1234-1234-1234-123456789abc')."
    )
    return FormatLanguage("-".join(groups), note=note)


# ------------------------------------------------------------------ URIs (RFC 3986)
# A port of rfc3986_validator's URI_RE / RELATIVE_REF_RE (matched with ^...$, so one
# trailing "\n" passes). Its IPv4 octets, unlike ipaddress's, allow leading zeros.

URI_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
URI_SUB_DELIMS = "!$&'()*+,;="
PCT_ENCODED = "%" + HEX_DIGIT + "{2}"
URI_DEC_OCTET = _group("25[0-5]", "2[0-4][0-9]", "[01]?[0-9][0-9]?")
URI_IPV4 = _repeat(URI_DEC_OCTET + "\\.", 3) + URI_DEC_OCTET
USERINFO = _optional(_star(_group(_class_of(URI_UNRESERVED + URI_SUB_DELIMS + ":"), PCT_ENCODED)) + "@")
IP_FUTURE = "v" + HEX_DIGIT + "+\\." + _class_of(URI_UNRESERVED + URI_SUB_DELIMS + ":") + "+"
IP_LITERAL = "\\[" + _group(ipv6_regex(URI_IPV4), IP_FUTURE) + "\\]"
REG_NAME = _star(_group(_class_of(URI_UNRESERVED + URI_SUB_DELIMS), PCT_ENCODED))
PORT = _optional(":[0-9]*")
AUTHORITY = USERINFO + _group(IP_LITERAL, URI_IPV4, REG_NAME) + PORT
PCHAR = _group(_class_of(URI_UNRESERVED + URI_SUB_DELIMS + ":@"), PCT_ENCODED)
PCHAR_NO_COLON = _group(_class_of(URI_UNRESERVED + URI_SUB_DELIMS + "@"), PCT_ENCODED)
SEGMENTS = _star("/" + PCHAR + "*")
PATH_ABEMPTY = SEGMENTS
PATH_ABSOLUTE = "/" + _optional(PCHAR + "+" + SEGMENTS)
PATH_ROOTLESS = PCHAR + "+" + SEGMENTS
PATH_NOSCHEME = PCHAR_NO_COLON + "+" + SEGMENTS
QUERY_OR_FRAGMENT = _star(_group(_class_of(URI_UNRESERVED + URI_SUB_DELIMS + ":@/?"), PCT_ENCODED))
SCHEME = ASCII_LETTER + "[A-Za-z0-9+.\\-]*"
QUERY_AND_FRAGMENT = _optional("\\?" + QUERY_OR_FRAGMENT) + _optional("#" + QUERY_OR_FRAGMENT)
ABSOLUTE_URI = (
    SCHEME + ":" + _group("//" + AUTHORITY + PATH_ABEMPTY, PATH_ABSOLUTE, PATH_ROOTLESS, "") + QUERY_AND_FRAGMENT
)
RELATIVE_REF = _group("//" + AUTHORITY + PATH_ABEMPTY, PATH_ABSOLUTE, PATH_NOSCHEME, "") + QUERY_AND_FRAGMENT


def _uri() -> FormatLanguage:
    """`uri`: RFC 3986 URI (scheme required) as rfc3986_validator reads it."""
    return FormatLanguage(ABSOLUTE_URI + TRAILING_NEWLINE)


def _uri_reference() -> FormatLanguage:
    """`uri-reference`: a URI or a relative reference (including "")."""
    return FormatLanguage(_group(ABSOLUTE_URI, RELATIVE_REF) + TRAILING_NEWLINE)


# ------------------------------------------------------------------ json-pointer


def _json_pointer() -> FormatLanguage:
    """`json-pointer`: "" or "/"-prefixed reference tokens; every "~" followed by 0 or 1."""
    not_tilde = _class(_without([(0, MAX_CP)], ord("~")))
    return FormatLanguage(_star("/" + _star(_group(not_tilde, "~[01]"))))


# ------------------------------------------------------------------ registry

_BUILDERS: dict[str, Callable[[], FormatLanguage]] = {
    "date-time": _date_time,
    "date": _date,
    "time": _time,
    "duration": _duration,
    "email": _email,
    "idn-email": _email,
    "hostname": _hostname,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "uuid": _uuid,
    "uri": _uri,
    "uri-reference": _uri_reference,
    "json-pointer": _json_pointer,
}

_UNSUPPORTED: dict[str, str] = {
    "regex": "the strings re.compile accepts (balanced parentheses and brackets) are not a regular language",
    "idn-hostname": "idna.encode applies IDNA 2008 (NFC check, per-code-point tables, contextual and "
    "Bidi rules, punycode length limits); an exact automaton is impractical",
    "iri": "rfc3987_syntax's RFC 3987 grammar has not been ported",
    "iri-reference": "rfc3987_syntax's RFC 3987 grammar has not been ported",
    "uri-template": "uri_template.validate's grammar has not been ported",
    "relative-json-pointer": "not ported (the checker also raises ValueError on some non-ASCII digits)",
}


def known_formats() -> list[str]:
    """The format names `format_language` supports, sorted."""
    return sorted(_BUILDERS)


@functools.lru_cache(maxsize=None)
def format_language(name: str) -> FormatLanguage:
    """The language of `format: name` as Draft 2020-12's FORMAT_CHECKER judges it.

    Raises UnsupportedFormatError for formats without an exact (or documented subset)
    language, and for names the checker does not check at all."""
    builder = _BUILDERS.get(name)
    if builder is not None:
        return builder()
    if name in _UNSUPPORTED:
        raise UnsupportedFormatError(f"format {name!r} is not supported: {_UNSUPPORTED[name]}")
    raise UnsupportedFormatError(
        f"format {name!r} is not supported: jsonschema's Draft 2020-12 FORMAT_CHECKER does not "
        "check it (it accepts every string), so there is no language to enforce"
    )
