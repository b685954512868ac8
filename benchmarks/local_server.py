"""The offline chat model's server (llama.cpp, SmolLM2-135M) on this machine: how fast, at how many threads.

For each thread count it measures prompt processing (a ~900-token prompt, one output token), generation (64 tokens
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

from utils.assets import smollm2_gguf
from utils.llm import LocalServer


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _chat(server: LocalServer, messages: list[dict], max_tokens: int) -> tuple[float, int, int]:
    from openai import OpenAI

    client = OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    start = time.perf_counter()
    r = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=max_tokens, temperature=0)
    return time.perf_counter() - start, r.usage.prompt_tokens, r.usage.completion_tokens


def measure(threads: int, busy: bool = False, repeats: int = 3) -> dict:
    """One row of the table for a thread count (with one CPU-bound process beside it when busy)."""
    server = LocalServer("smollm2", smollm2_gguf(), threads=threads).start()
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
    finally:
        if hog:
            hog.terminate()
        server.stop()
    return {"threads": threads, "other CPU process": "yes" if busy else "no",
            "prompt tok/s": round(statistics.median(pp)), "generation tok/s": round(statistics.median(tg), 1),
            f"shared {n_in}-token prefix: 1st call s": round(first, 3), "2nd call s": round(second, 3)}  # fmt: skip


def main() -> int:
    import pandas as pd

    rows = []
    for threads in (1, 2, 4):
        rows.append(measure(threads))
    for threads in (1, 2):
        rows.append(measure(threads, busy=True))
    print(f"machine: {os.cpu_count()} cores; model: SmolLM2-135M-Instruct Q4_1 (llama-cpp-python)")
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
