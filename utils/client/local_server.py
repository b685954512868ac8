"""The kit's own model server: one local model behind the OpenAI API on 127.0.0.1, started on first use, proved by
one short generation before any lesson call, and replaced by transformers serve (said once) if llama.cpp crashes or
cannot start.

llama.cpp (llama-cpp-python, a GGUF file) where it is installed, else `transformers serve` (the same model as a
folder, no C++ build: Colab without keys). benchmarks/local_server.py compares them.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import BadInputError, ContextTooLongError, LocalServerCrashedError, ServerUnreachableError
from ..paths import cache_dir, requirement
from ..settings import setting, setting_int

LOCAL_CONTEXT = 8192  # the window the kit gives SmolLM2 (its model card: 8k)


@dataclass(frozen=True)
class FineTune:
    """A fine-tuned adapter served as local/<alias> in the format it was trained on (`template`, a tokenizer config
    whose chat template renders the user's message as the whole prompt): llama.cpp applies `lora_gguf` to the base's
    GGUF (none: the base alone, in that format); transformers serve loads `folder`, a model saved with that template."""

    folder: Path
    template: Path
    base_gguf: Path | None = None
    lora_gguf: Path | None = None


_fine_tunes: dict[str, FineTune] = {}  # the aliases fine_tuned.serve() added, this process


def _local_models() -> dict[str, dict[str, Callable[[], Path]]]:
    """alias -> backend -> the function giving the model's files for that server (GGUF file or transformers folder)."""
    from ..assets import smollm2_folder, smollm2_server_gguf

    files = {"llama.cpp": smollm2_server_gguf, "transformers": smollm2_folder}
    models = {"smollm2": files, "smollm2-tools": files}  # the same model; -tools is served with function calling
    for alias, tune in _fine_tunes.items():
        models[alias] = {"transformers": lambda t=tune: t.folder}
        if tune.base_gguf is not None:
            models[alias]["llama.cpp"] = lambda t=tune: t.base_gguf
    return models


def add_fine_tune(alias: str, tune: FineTune) -> None:
    """Serve a fine-tune as local/<alias> from the next call on (a server already running for the alias is stopped)."""
    with _servers_lock:
        _fine_tunes[alias] = tune
        old = _servers.pop(alias, None)
    if old is not None:
        old.stop()


def served_fine_tune(alias: str) -> FineTune | None:
    """The fine-tune served as local/<alias> in this process (None: no such fine-tune)."""
    return _fine_tunes.get(alias)


def local_aliases() -> list[str]:
    """The names of the models the kit serves itself (local/<alias>)."""
    return list(_local_models())


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
    chosen = setting("LLMKIT_LOCAL_BACKEND").lower()
    if chosen and chosen not in LOCAL_BACKENDS:
        raise BadInputError(f"LLMKIT_LOCAL_BACKEND={chosen!r} is not a backend; use {' or '.join(LOCAL_BACKENDS)}.")
    if chosen == "llama.cpp" and importlib.util.find_spec("llama_cpp") is None:
        raise BadInputError(
            "LLMKIT_LOCAL_BACKEND=llama.cpp but llama-cpp-python is not installed: "
            f"pip install '{requirement('llama-cpp-python')}', or unset it to use transformers' server."
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
    why = {
        "SIGSEGV": " (a crash)",
        "SIGILL": " (an instruction this CPU lacks)",
        "SIGBUS": " (a crash)",
        "SIGABRT": " (it aborted)",
        "SIGKILL": " (killed from outside, often for memory)",
    }.get(name, "")
    return f"was killed by {name}{why}"


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
        fine_tune: FineTune | None = None,
    ):
        if backend not in LOCAL_BACKENDS:
            raise BadInputError(f"backend must be one of {', '.join(LOCAL_BACKENDS)}, got {backend!r}.")
        self.alias, self.model_path, self.n_ctx, self.backend = alias, Path(model_path), n_ctx, backend
        self.chat_format = chat_format  # llama.cpp only; None: the template in the GGUF file
        self.fine_tune = fine_tune  # llama.cpp: its GGUF LoRA on the base, in its training format
        # one generation thread, every core for prompts: the defaults benchmarks/README.md measured
        self.threads = threads or setting_int("LLMKIT_LOCAL_THREADS", 1)
        self.batch_threads = batch_threads or setting_int("LLMKIT_LOCAL_BATCH_THREADS", os.cpu_count() or 1)
        self.port = free_port()
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
            return [
                *child,
                "transformers.cli.transformers:main",
                "serve",
                str(self.model_path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--default-seed",
                "42",
            ]
        return [
            *child,
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_threads",
            str(self.threads),
            "--n_threads_batch",
            str(self.batch_threads),
            "--n_ctx",
            str(self.n_ctx),
            "--verbose",
            "False",
            *(["--chat_format", self.chat_format] if self.chat_format else []),
            *self._fine_tune_args(),
        ]

    def _fine_tune_args(self) -> list[str]:
        """llama.cpp's arguments for a fine-tune: its LoRA on the base, and the prompt format it was trained on."""
        if self.fine_tune is None:
            return []
        tune = self.fine_tune
        lora = ["--lora_path", str(tune.lora_gguf)] if tune.lora_gguf is not None else []
        return [
            *lora,
            "--chat_format",
            "hf-tokenizer-config",
            "--hf_tokenizer_config_path",
            str(tune.template),
        ]

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
            if self.dead():
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
        body = {
            "model": self.served_model,
            "messages": [{"role": "user", "content": "Say the word ready."}],
            "max_tokens": 2,
            "temperature": 0,
        }
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
        return (
            f"The local model server ({self.backend}, local/{self.alias}) {describe_exit(self.proc.returncode)} "
            f"{when}. {self.tail()}"
        )

    def tail(self, lines: int = 3) -> str:
        """The log's last non-empty lines on one line, for an error sentence."""
        last = [line.strip() for line in self.log_tail(40).splitlines() if line.strip()][-lines:]
        return f"Last log lines: {' | '.join(last)[-400:]}" if last else "Its log is empty."

    def check_fits(self, messages: list[dict[str, str]], max_tokens: int) -> None:
        """ContextTooLongError when prompt and answer exceed the window (llama.cpp checks this itself; transformers
        serve does not, so the kit counts the tokens for it)."""
        if self.backend == "llama.cpp":
            return
        from ..tokens import chat_tokens

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


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_servers: dict[str, LocalServer] = {}
_servers_lock = threading.Lock()
_recover_lock = threading.Lock()


def running_server(alias: str = "smollm2") -> LocalServer:
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
            served = _local_models()[alias]
            backend = backend if backend in served else "transformers"  # a fine-tune with no GGUF base
            tune = _fine_tunes.get(alias) if backend == "llama.cpp" else None
            try:
                server = LocalServer(
                    alias, served[backend](), backend=backend, chat_format=LOCAL_CHAT_FORMATS.get(alias), fine_tune=tune
                ).start()
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
        why = (
            f"LLMKIT_LOCAL_BACKEND={forced} is set, so the kit stops here: unset it to let the kit fall back to "
            "transformers serve"
            if forced
            else "No other local backend is left"
        )
        raise LocalServerCrashedError(f"{sentence} {why} (docs/local-server.md).") from None
    print(
        f"{sentence} The kit now serves the same model with transformers serve (about 4x slower generation on a "
        "CPU); the lesson goes on.",
        flush=True,
    )


def recover(model_id: str) -> bool:
    """After a connection error on a local model: True when its server had died and a replacement now runs (the call
    can be sent again); False when the server is alive (an ordinary connection problem). Raises when it cannot."""
    server = _servers.get(model_id)
    if server is None or not server.dead(wait_s=1.0):
        return False
    with _recover_lock:  # calls from a worker pool meet the same death: one says so and restarts, the rest retry
        if _servers.get(model_id) is server:
            _give_up_on(server.backend, server.death("while answering a request"))
            running_server(model_id)
    return True
