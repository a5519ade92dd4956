"""syncode: grammar-constrained decoding for LLMs with exact token masks.

Pipeline (each module owns one stage; imports point down it):
lalr -> grammar -> parse_table / terminals -> lexer -> mask_store -> kernels -> compiler -> matcher
-> bitmask -> integrations.
"""
from .bitmask import allocate_token_bitmask, apply_token_bitmask_inplace, fill_next_token_bitmasks
from .compiler import CompiledGrammar, compile_grammar
from .grammar import Grammar, GrammarError
from .mask_store import CacheCorruptionWarning
from .matcher import GrammarMatcher
from .terminals import UnsupportedRegexError
from .tokenizer_info import TokenizerError, TokenizerInfo

__version__ = "0.1.0"


_LAZY = {
    "GrammarLogitsProcessor": "hf",
    "generate": "generation",
    "stream": "generation",
    "Generation": "generation",
    "GenerationError": "generation",
    "IncompleteGenerationError": "generation",
    "InvalidOutputError": "generation",
}


def __getattr__(name: str):
    # Integrations import heavy libraries (torch, transformers): loaded on first use only.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'syncode' has no attribute {name!r}")

fill = fill_next_token_bitmasks

__all__ = [
    "CacheCorruptionWarning",
    "CompiledGrammar",
    "Grammar",
    "GrammarError",
    "GrammarLogitsProcessor",
    "Generation",
    "GenerationError",
    "IncompleteGenerationError",
    "InvalidOutputError",
    "GrammarMatcher",
    "TokenizerError",
    "TokenizerInfo",
    "UnsupportedRegexError",
    "allocate_token_bitmask",
    "apply_token_bitmask_inplace",
    "compile_grammar",
    "fill",
    "fill_next_token_bitmasks",
    "generate",
    "stream",
]
