#!/usr/bin/env bash
# A stand-in for a student's Colab runtime, on this machine: Python 3.13 with Colab's own versions (from
# ../shared/colab/pip-freeze.gpu.txt, Google's published list) of every package the kit uses that Colab has, its
# Jupyter stack and torch; then the kit's Colab set-up on top, exactly as the notebooks' first cell runs it.
# Writes build/colab-standin/CHANGES.md (what the set-up upgraded, downgraded or added) and fails if it touched a
# package Colab runs on. Usage: bash scripts/colab_standin.sh [--tests]  (--tests: then the unit tests on 3.13)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
FREEZE="${COLAB_FREEZE:-../shared/colab/pip-freeze.gpu.txt}"
VENV="${COLAB_VENV:-.venv-colab}"
OUT=build/colab-standin
if [ -z "${PY313:-}" ]; then  # a Python 3.13 that runs (a pyenv shim for a version not selected does not)
  for candidate in "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /usr/bin/python3.13 /usr/local/bin/python3.13; do
    if [ -x "$candidate" ] && "$candidate" -c "import venv" 2>/dev/null; then PY313=$candidate; fi
  done
fi
missing=""
[ -f "$FREEZE" ] || missing="no Colab package list at $FREEZE (set COLAB_FREEZE)"
[ -n "${PY313:-}" ] || missing="${missing:+$missing; }no Python 3.13 found (pyenv install 3.13, or set PY313)"
if [ -n "$missing" ]; then
  # CI has both (shared/ beside the clone, the machine's pyenv) and fails without them; a student's clone may not
  if [ "${CI:-}" = "true" ]; then echo "$missing"; exit 2; fi
  echo "Colab stand-in skipped on this machine: $missing. CI runs it."
  exit 0
fi
mkdir -p "$OUT"
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
quiet() { grep -v -E "^WARNING: Location|^ERROR: pip's dependency resolver|^[a-z0-9_.-]+ [0-9.]+ requires " || true; }

# Colab's pins: name==version lines only (local files and git URLs, e.g. google-colab, cannot be installed here).
# Colab's torch comes from PyTorch's own index (2.11.0+cu128); the registry here has the same release without the
# +cu128 label, a CUDA build that also runs on a CPU, with the CUDA libraries it names itself: so the local labels
# are dropped and the CUDA library pins (nvidia-*, cuda-*, triton) are left to torch.
grep -E '^[A-Za-z0-9_.-]+==[^ ]+$' "$FREEZE" | sed -E 's/\+[A-Za-z0-9.]+$//' \
  | grep -v -i -E '^(nvidia-|cuda-|triton==)' > "$OUT/colab-pins.txt"
colab_has() { grep -i -q -E "^$(echo "$1" | sed 's/[-_.]/[-_.]/g')==" "$OUT/colab-pins.txt"; }

rm -rf "$VENV"  # always Colab's state to begin with: a kept environment would hide what the set-up adds
"$PY313" -m venv "$VENV"
# 1. The runtime as Google ships it, for what the kit touches: its torch (CUDA build, runs on the CPU here; Colab's
#    is the same version), its Jupyter stack, and its versions of the kit's dependencies.
names="torch ipykernel ipywidgets jupyter_client notebook tornado"
for n in $(python3 scripts/colab_requirements.py | sed -E 's/[\[<>=!~ ;].*//'); do
  if colab_has "$n"; then names="$names $n"; fi
done
echo "installing Colab's versions of: $names"
# shellcheck disable=SC2086
$PIP install -q -c "$OUT/colab-pins.txt" $names 2>&1 | quiet
# ...and Colab's versions of whatever else the set-up would pull in that Colab already has (requests, urllib3, ...)
python3 scripts/colab_requirements.py > "$OUT/setup-requirements.txt"
$PIP install -q --dry-run --ignore-installed --report "$OUT/setup-report.json" -r "$OUT/setup-requirements.txt" \
  2>&1 | quiet
more=$("$VENV/bin/python" scripts/colab_compare.py closure "$OUT/setup-report.json" "$OUT/colab-pins.txt")
# shellcheck disable=SC2086
[ -z "$more" ] || $PIP install -q -c "$OUT/colab-pins.txt" $more 2>&1 | quiet
$PIP freeze | grep -v "^#" | LC_ALL=C sort -f > "$OUT/before.txt"

# 2. The kit's Colab set-up, exactly as the first cell runs it (its `pip` is this environment's).
PATH="$PWD/$VENV/bin:$PATH" bash scripts/colab_setup.sh 2>&1 | quiet
$PIP freeze | grep -v -E "^(#|-e |llm-engineering-kit)" | LC_ALL=C sort -f > "$OUT/after.txt"
# The kernel that ran the set-up imports the kit from site-packages alone (without the editable install's path hook,
# which only a new process reads), and from this folder.
"$VENV/bin/python" - <<'PY'
import importlib.machinery, pathlib, sysconfig
spec = importlib.machinery.PathFinder.find_spec("utils", [sysconfig.get_paths()["purelib"]])
found = spec and pathlib.Path(spec.origin).resolve()
assert found == pathlib.Path("utils/__init__.py").resolve(), f"the set-up left no link to the kit in site-packages: {found}"
PY

# 3. What changed, and whether anything Colab runs on moved.
"$VENV/bin/python" scripts/colab_compare.py changes "$OUT"
echo "stand-in built in $(( $(date +%s) - start ))s"

if [ "${1:-}" = "--tests" ]; then
  # the test runner is not part of Colab: added after the comparison above
  $PIP install -q pytest nbformat 2>&1 | quiet
  t0=$(date +%s)
  LLMKIT_LOCAL_BACKEND=transformers "$VENV/bin/python" -m pytest -p no:nbval -p no:cacheprovider -o addopts="" -q \
    tests --ignore=tests/test_browser.py --ignore=tests/test_notebooks.py \
    --deselect tests/test_rehearsal.py::test_every_notebook_runs_on_the_full_profile_with_stand_ins \
    --deselect tests/test_run_notebooks.py::test_sigterm_stops_the_job_its_kernel_and_the_kernels_server \
    --deselect tests/test_chains.py::test_local_model_calls_a_tool_through_the_tools_api \
    --deselect "tests/test_served_fine_tune.py::test_the_served_adapter_is_asked_its_training_prompt_and_changes_the_answers[llama.cpp]" \
    --deselect tests/test_structured_output.py::test_a_schema_held_reply_parses_every_time
  # (deselected: llama.cpp's function-calling format, its GGUF LoRA and its schema grammar, which Colab without the
  #  C++ build does not have; the 3.11 suite runs them, and the transformers path of the served fine-tune runs here.
  #  The SIGTERM test drives `make run`'s main job, which runs on the kit's own Jupyter stack.)
  echo "unit tests on the Colab stand-in (Python 3.13) in $(( $(date +%s) - t0 ))s"
fi
