#!/usr/bin/env bash
# Build llama-cpp-python once per machine kind into the kit's own wheel folder and print that folder.
#
# Why not pip's default build: pip compiles llama.cpp with -march=native (GGML_NATIVE), so the server uses whatever
# this CPU has, AMX included, whose kernels crash llama.cpp on some Intel Xeons (ggml-org/llama.cpp#20824); and pip
# caches that wheel under the package's name, so a native build made on one CPU is reused on another that lacks its
# instructions (an illegal-instruction crash). So the kit builds one portable variant itself, names the folder after
# the variant, and installs from it: pip's cache never decides which build a student gets.
#
#   portable (default): x86-64 with AVX2/FMA/F16C (Intel Haswell 2013+, AMD Zen and later), no AVX-512, no AMX;
#                       on ARM the compiler's baseline for the architecture.
#   avx512:             portable plus AVX-512 (no AMX): for benchmarks/README.md only; crashes on CPUs without it.
#   native:             pip's default (-march=native): for benchmarks only.
# Measured (benchmarks/README.md, "Which llama.cpp build"): the portable build reads and generates as fast as the
# others on SmolLM2 within a few per cent.
set -euo pipefail
VARIANT="${1:-portable}"
PINNED="$(sed -n 's/^llama-cpp-python[^=]*==\([^ #]*\).*/\1/p' "$(dirname "$0")/../requirements.txt")"  # its one home
VERSION="${LLAMA_CPP_VERSION:-$PINNED}"
PYTHON="${PYTHON:-python3}"
ARCH="$(uname -m)"
# LLAVA_BUILD=OFF: llama.cpp's multimodal library (tools/mtmd: 54 of the build's ~260 C/C++ files), which
# llama-cpp-python imports only for image chat formats the kit never uses, is not compiled.
COMMON="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAVA_BUILD=OFF"
case "$ARCH:$VARIANT" in
  x86_64:portable) FLAGS="$COMMON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
  x86_64:avx512) FLAGS="$COMMON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
  *:portable) FLAGS="$COMMON" ;;
  *:native) FLAGS="-DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAVA_BUILD=OFF" ;;
  *) echo "unknown llama.cpp build variant '$VARIANT' for $ARCH: use portable, avx512 (x86_64) or native" >&2; exit 2 ;;
esac
ROOT="${LLMKIT_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/llm-engineering-kit/wheels}"
DIR="$ROOT/llama-cpp-python-$VERSION-$ARCH-$VARIANT"  # the wheel loads its library with ctypes: any CPython
SDIST="llama_cpp_python-$VERSION.tar.gz"
# The source release, once: the wheel is built from it and week 7's converter is taken from it. --no-binary names the
# package alone: ":all:" would also build pip's build tools (scikit-build-core and what it needs) from source, one
# nested build after another, which without a pip cache took about 5 minutes before llama.cpp's compile began.
fetch_source() {
  "$PYTHON" -m pip --disable-pip-version-check download -q --no-deps --no-cache-dir --no-binary llama-cpp-python \
    "llama-cpp-python==$VERSION" -d "$DIR.tmp" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  test -f "$DIR.tmp/$SDIST" || { echo "could not download llama-cpp-python $VERSION's source" >&2; exit 1; }
}
if ! ls "$DIR"/llama_cpp_python-"$VERSION"-*.whl >/dev/null 2>&1; then
  mkdir -p "$DIR"
  echo "building llama.cpp ($VARIANT, $ARCH) once into $DIR: about 5 minutes on 2 cores" >&2
  start=$(date +%s)
  fetch_source
  tar xzf "$DIR.tmp/$SDIST" -C "$DIR.tmp"
  SRC="$DIR.tmp/llama_cpp_python-$VERSION"
  # llama-cpp-python forces llama.cpp's common library on (chat parsers and an HTTP server: a third of the build),
  # which only its multimodal library links and the wheel does not ship: with LLAVA_BUILD=OFF it is not compiled.
  sed -i 's/set(LLAMA_BUILD_COMMON ON CACHE/set(LLAMA_BUILD_COMMON OFF CACHE/' "$SRC/CMakeLists.txt"
  # --no-cache-dir: never take (or leave) a wheel in pip's cache, where another CPU's build could come from.
  CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc 2>/dev/null || echo 2)" \
    "$PYTHON" -m pip --disable-pip-version-check wheel -q --no-deps --no-cache-dir "$SRC" -w "$DIR.tmp" >&2
  rm -rf "$SRC"
  mv "$DIR.tmp"/llama_cpp_python-*.whl "$DIR"/
  echo "$FLAGS" > "$DIR/CMAKE_ARGS"
  echo "built in $(( $(date +%s) - start ))s" >&2
fi
if [ ! -f "$DIR/convert/convert_lora_to_gguf.py" ] && [ ! -f "$DIR.tmp/$SDIST" ]; then  # built before it was kept
  mkdir -p "$DIR.tmp" && fetch_source
fi
if [ -f "$DIR.tmp/$SDIST" ]; then  # week 7's adapter converter, from the same source: its script, models and gguf-py
  tar xzf "$DIR.tmp/$SDIST" -C "$DIR.tmp" --wildcards "*/vendor/llama.cpp/convert_lora_to_gguf.py" \
    "*/vendor/llama.cpp/conversion/*" "*/vendor/llama.cpp/gguf-py/*"
  rm -rf "$DIR/convert" && mv "$DIR.tmp"/llama_cpp_python-"$VERSION"/vendor/llama.cpp "$DIR/convert"
fi
rm -rf "$DIR.tmp"
echo "$DIR"
