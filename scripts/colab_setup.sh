#!/usr/bin/env bash
# Colab: install what the notebooks need on top of Colab's own packages, and change nothing Colab runs on.
# Colab's Jupyter stack (ipykernel, jupyter_client, notebook, tornado, ipywidgets) and its CUDA torch are held at the
# versions the runtime has (a runtime whose ipykernel was upgraded can crash repeatedly: googlecolab/colabtools#2837,
# #5580); the kit's test and lint tools (nbval, pytest, ruff, playwright, jupyterlab) are not installed at all.
set -euo pipefail
cd "$(dirname "$0")/.."
keep=/tmp/llmkit-colab-keep.txt
pip freeze 2>/dev/null | grep -i -E "^(ipykernel|jupyter[-_]client|notebook|tornado|ipywidgets|widgetsnbextension|jupyterlab[-_]widgets|torch|torchvision|torchaudio)==" > "$keep" || true
python3 scripts/colab_requirements.py > /tmp/llmkit-colab-requirements.txt
pip install -q -c "$keep" -r /tmp/llmkit-colab-requirements.txt
pip install -q --no-deps -r requirements-nodeps.txt
pip install -q --no-deps -e .
# The kernel that ran this started before the install, so it has not read the editable install's path: a link in
# site-packages lets it import the kit now, without a restart (the link resolves to this folder, so the kit's files
# are found from it).
site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ -L "$site/utils" ] || [ ! -e "$site/utils" ]; then ln -sfn "$PWD/utils" "$site/utils"; fi
echo "kit installed; Colab's Jupyter stack and torch untouched ($(wc -l < "$keep") packages held)."
echo "Without keys the local chat model runs on transformers serve (GPU when there is one)."
llama=$(sed -n 's/^\(llama-cpp-python[^ #]*\).*/\1/p' requirements.txt)  # the version lives there alone
echo "llama.cpp instead (a C++ build of several minutes): pip install '$llama'"
