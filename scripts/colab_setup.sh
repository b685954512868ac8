#!/usr/bin/env bash
# Colab: install what the notebooks need on top of Colab's own torch (CUDA) build.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -v -E "^(llama-cpp-python|torch)" requirements.txt > /tmp/llmkit-colab-requirements.txt
pip install -q -r /tmp/llmkit-colab-requirements.txt bitsandbytes
pip install -q --no-deps -r requirements-nodeps.txt
pip install -q --no-deps -e .
echo "kit installed; without keys the local chat model runs on transformers serve (GPU when there is one)."
echo "llama.cpp instead (a C++ build of several minutes): pip install 'llama-cpp-python[server]==0.3.36'"
