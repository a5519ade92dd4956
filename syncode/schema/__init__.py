"""JSON Schema front-end: a schema (dict, JSON text or pydantic model) in, a `Grammar` out.

Pipeline inside: `language` (per-type value sets and their algebra) built by `compiler` from
the keywords, with `numbers`, `strings` and `formats` turning scalar keywords into automata.
"""
from .compiler import (
    EmptySchemaWarning, LenientApproximationWarning, SchemaOptions, UnknownKeywordWarning, schema_to_grammar,
)
from .language import InvalidSchemaError, SchemaError, UnsupportedSchemaError

__all__ = [
    "EmptySchemaWarning",
    "InvalidSchemaError",
    "LenientApproximationWarning",
    "SchemaError",
    "SchemaOptions",
    "UnknownKeywordWarning",
    "UnsupportedSchemaError",
    "schema_to_grammar",
]
