"""Prints the character classes of Go identifiers for grammars/go.lark's NAME terminal.

Go's letters are Unicode categories Lu, Ll, Lt, Lm, Lo plus "_"; its digits are category Nd.
The classes come from Python's `unicodedata` (its Unicode version is printed with them);
paste them into the NAME terminal when that version changes.
"""
from __future__ import annotations

import unicodedata

LETTER_CATEGORIES = ("Lu", "Ll", "Lt", "Lm", "Lo")


def code_point_ranges(categories: tuple[str, ...]) -> list[tuple[int, int]]:
    """Maximal ranges of non-ASCII code points whose category is in `categories`."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x80, 0x110000):
        if unicodedata.category(chr(cp)) in categories:
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return ranges


def escape(cp: int) -> str:
    return f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def class_body(ranges: list[tuple[int, int]]) -> str:
    """The ranges as the inside of a regex character class, with \\u/\\U escapes (Lark reads them)."""
    return "".join(escape(a) if a == b else f"{escape(a)}-{escape(b)}" for a, b in ranges)


def terminal_lines(name: str, ranges: list[tuple[int, int]], width: int = 1500) -> list[str]:
    """Lark terminal definitions NAME_1, NAME_2, ... splitting the class into lines of about `width`."""
    chunks: list[list[tuple[int, int]]] = [[]]
    for r in ranges:
        if chunks[-1] and len(class_body(chunks[-1] + [r])) > width:
            chunks.append([])
        chunks[-1].append(r)
    return [f"{name}_{i}: /[{class_body(c)}]/" for i, c in enumerate(chunks, 1)]


def main() -> None:
    print(f"// Unicode {unicodedata.unidata_version}")
    print("\n".join(terminal_lines("_UNICODE_LETTER", code_point_ranges(LETTER_CATEGORIES))))
    print("\n".join(terminal_lines("_UNICODE_DIGIT", code_point_ranges(("Nd",)))))


if __name__ == "__main__":
    main()
