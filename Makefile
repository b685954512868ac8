# llm-engineering-kit. `make run` executes every notebook (offline profile) into build/; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# The exact versions CI last passed with; `make setup CONSTRAINTS=/dev/null` resolves the newest in range instead.
CONSTRAINTS ?= constraints.txt
export LLMKIT_PROFILE ?= offline
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: setup run test test-fast rehearse lab bench clean lock colab claims

setup: $(VENV)/.installed

# torch first, pinned: a local CPU build; an unpinned torch would pull GB of CUDA wheels. Every other version comes
# from constraints.txt, the exact set CI last passed with (docs/lock.md). llama.cpp is built by
# scripts/build_llama_cpp.sh, portable (AVX2, no AVX-512 or AMX), once per machine into the kit's own wheel folder,
# with llama.cpp's adapter converter from the same source (week 7 serves its fine-tune through it).
$(VENV)/.installed: requirements.txt requirements-nodeps.txt constraints.txt pyproject.toml scripts/build_llama_cpp.sh
	@set -eo pipefail; start=$$(date +%s); quiet() { grep -v "^WARNING: Location" || true; }; \
	if ! command -v bwrap >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing bubblewrap (the week-5 sandbox)"; apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; } || \
	  echo "note: could not install bubblewrap; week 5 runs generated code with resource limits only"; fi; \
	test -x $(PY) || $(PYTHON) -m venv $(VENV); \
	echo "installing torch, then requirements.txt (the first llama.cpp build takes about 5 minutes on 2 cores)"; \
	$(PIP) install -q torch==2.13.0 2>&1 | quiet; \
	wheels=$$(PYTHON=$(PY) bash scripts/build_llama_cpp.sh portable); \
	rm -rf $(VENV)/llama.cpp-convert && cp -r "$$wheels/convert" $(VENV)/llama.cpp-convert; \
	$(PIP) install -q --find-links "$$wheels" -c $(CONSTRAINTS) -r requirements.txt 2>&1 | quiet; \
	$(PIP) install -q --no-deps -c $(CONSTRAINTS) -r requirements-nodeps.txt 2>&1 | quiet; \
	$(PIP) install -q --no-deps --no-build-isolation -e . 2>&1 | quiet; \
	$(PY) scripts/check_install.py; \
	echo "preparing the offline model files (SmolLM2 for llama.cpp and for transformers, once per machine)"; \
	TQDM_DISABLE=1 $(PY) -c "from utils.assets import smollm2_folder as f, smollm2_server_gguf as g; g(); f()"; \
	echo "install finished in $$(( $$(date +%s) - start ))s"; \
	touch $@

# Refresh the lock: rm -rf .venv; make setup CONSTRAINTS=/dev/null; make test; make lock; commit constraints.txt.
lock: setup
	{ echo "# The exact versions \`make test\` passed with, written by \`make lock\` (docs/lock.md)."; \
	  echo "# A marker keeps a release off the Pythons it does not support: there pip takes the newest that runs."; \
	  $(PY) scripts/write_lock.py; } > constraints.txt
	@echo "constraints.txt rewritten: run make test before committing it"

run: setup
	$(PY) scripts/run_notebooks.py

# Python 3.11 with the lock: lint, unit, sandbox, browser, rehearsal, nbval. Then the Colab stand-in: Python 3.13
# with Colab's versions, the Colab set-up checked, the unit tests again there (.ci/run says why this split).
test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest
	bash scripts/colab_standin.sh --tests

# A contributor's quick check, under 3 minutes on 2 cores: lint and the unit tier. Each test has one tier
# (pyproject.toml lists them; tests/conftest.py enforces one each): `$(PY) -m pytest -m server` runs another alone.
test-fast: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -m unit tests

# The full profile's code paths with local stand-ins for every outside service (see utils/standins/rehearsal.py).
rehearse: setup
	$(PY) scripts/run_notebooks.py --rehearse

# The Colab stand-in (scripts/colab_standin.sh), then every notebook in it on the offline profile with transformers
# serve, as Colab without keys runs them, and the full-profile rehearsal in it (not part of `make test`: most of an
# hour more on 2 cores; .ci/run says why).
colab:
	bash scripts/colab_standin.sh
	LLMKIT_LOCAL_BACKEND=transformers .venv-colab/bin/python scripts/run_notebooks.py --out build/colab-standin/notebooks
	LLMKIT_LOCAL_BACKEND=transformers .venv-colab/bin/python scripts/run_notebooks.py --rehearse \
	  --out build/colab-standin/rehearsal

# Every notebook under the variations students' machines bring (llama.cpp threads, torch's AVX2 kernels, the
# transformers backend, another seed): which claims held in every run, and each notebook's time (benchmarks/claims.md).
claims: setup
	$(PY) benchmarks/claims.py

lab: setup
	$(VENV)/bin/jupyter lab

bench: setup
	$(PY) benchmarks/notebook_times.py
	$(PY) benchmarks/local_server.py
	$(PY) benchmarks/local_server.py --builds
	$(PY) benchmarks/client_reuse.py
	$(PY) benchmarks/week5_codegen.py
	$(PY) benchmarks/week7_training.py
	$(PY) benchmarks/sandbox_protection.py
	$(PY) benchmarks/week7_training.py --shapes
	$(PY) benchmarks/week7_training.py --processes
	$(PY) benchmarks/week7_training.py --top

clean:
	rm -rf build data/cache .venv-colab
