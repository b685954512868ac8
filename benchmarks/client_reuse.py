"""One client per provider against a new client per call: latency and time to first token of the same short chats.

A new `openai.OpenAI` client per call opens a new connection each time (on a real provider, a new TLS handshake too);
the kit keeps one client per provider (utils/endpoints.client_for). On loopback to the local server, with calls
interleaved so that both ways see the same machine state. Prints one table.
"""

from __future__ import annotations

import statistics
import sys
import time

from utils.client import endpoints, llm
from utils.client.local_server import running_server


def one_call(new_client: bool) -> tuple[float, float, float]:
    """(seconds to build the client, time to first token, total latency) of one streamed one-token chat."""
    if new_client:
        endpoints._clients.clear()  # as before: a client made for this call alone
    start = time.perf_counter()
    endpoints.client_for("local", "smollm2")
    build_s = time.perf_counter() - start
    r = llm.chat("local/smollm2", "Say yes.", stream=True, max_tokens=1, on_token=lambda piece: None)
    return build_s, r.ttft_s, r.latency_s


def main(calls: int = 30) -> int:
    import pandas as pd

    running_server("smollm2")
    one_call(False)  # warm-up
    rows = {"one client per provider (the kit)": [], "a new client per call": []}
    for _ in range(calls):
        rows["one client per provider (the kit)"].append(one_call(False))
        rows["a new client per call"].append(one_call(True))
    table = pd.DataFrame(
        {
            way: {
                "client set-up ms": 1000 * statistics.median(r[0] for r in runs),
                "time to first token ms": 1000 * statistics.median(r[1] for r in runs),
                "latency ms": 1000 * statistics.median(r[2] for r in runs),
            }
            for way, runs in rows.items()
        }
    ).T.round(2)
    print(f"{calls} streamed one-token chats each way, interleaved, local/smollm2 on loopback (medians)")
    print(table.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
