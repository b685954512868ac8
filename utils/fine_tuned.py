"""Week 7's model measured and used: training speed, greedy prices, the harness's predictor, adapter size."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import TrainerCallback

from . import training as ft
from .errors import BadInputError, LLMKitError
from .prices import PRICE_RANGE, Item


def measure_throughput(config: ft.FineTuneConfig, items: Sequence[Item], steps: int = 3) -> dict[str, Any]:
    """Train `steps` LoRA steps of a config on real items; time all but the first (warm-up): tokens per second."""
    import time

    if steps < 2:
        raise BadInputError(f"steps must be at least 2 (the first one warms up and is not timed), got {steps}.")
    config = dataclasses.replace(config, max_steps=steps, save_steps=10_000, run_name=f"{config.run_name}-throughput")
    tok, base = ft.load_base(config)
    dataset = ft.build_dataset(tok, items, config.max_length)
    ends: list[float] = []

    class StepClock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            ends.append(time.perf_counter())

    trainer = ft.make_trainer(ft.lora_model(base, config), tok, dataset, config, callbacks=[StepClock()])
    from transformers.trainer_callback import ProgressCallback
    from transformers.utils.notebook import NotebookProgressCallback

    for progress in (ProgressCallback, NotebookProgressCallback):  # a timing run shows no training table or bar
        trainer.remove_callback(progress)
    share = padding_share(trainer)
    trainer.train()
    shutil.rmtree(config.output_dir, ignore_errors=True)  # nothing to resume from a timing run
    seconds = ends[-1] - ends[0]
    examples = (steps - 1) * config.batch_size * config.grad_accum
    mean_tokens = sum(len(d["input_ids"]) for d in dataset) / len(dataset)
    return {
        "steps": steps,
        "seconds": seconds,
        "examples_per_s": examples / seconds,
        "tokens_per_s": examples * mean_tokens / seconds,
        "tokens_per_item": mean_tokens,
        "padding_share": share,
        "config": config,
    }


def padding_share(trainer: Any) -> float:
    """Share of the tokens in the training batches that are padding, measured on the Trainer's own data loader."""
    real = total = 0
    for batch in trainer.get_train_dataloader():
        mask = batch["attention_mask"]
        real, total = real + int(mask.sum()), total + mask.numel()
    return 1 - real / total


def generate_prices(
    model: Any, tok: Any, items: Sequence[Item], batch_size: int = 16, max_new_tokens: int = 6
) -> list[str]:
    """Greedy continuations of each item's prompt (the text after 'Price is $'), a batch at a time (left padding)."""
    side = tok.padding_side
    tok.padding_side = "left"  # every prompt ends where generation starts
    out: list[str] = []
    try:
        for start in range(0, len(items), batch_size):
            prompts = [it.prompt() for it in items[start : start + batch_size]]
            enc = tok(prompts, return_tensors="pt", padding=True).to(model.device)  # BOS as in training
            with torch.no_grad():
                gen = model.generate(
                    **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id
                )
            out += tok.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    finally:
        tok.padding_side = side
    return out


def generate_price(model: Any, tok: Any, item: Item, max_new_tokens: int = 6) -> str:
    """One item's greedy continuation, alone (the reference the batched path must match)."""
    return generate_prices(model, tok, [item], batch_size=1, max_new_tokens=max_new_tokens)[0]


@dataclasses.dataclass(frozen=True)
class PriceTree:
    """Every whole-dollar price 1..top as the tokenizer writes it, laid out as a tree of shared prefixes: one forward
    pass over the prompt and the tree's inner nodes gives the probability of every price (price_distributions)."""

    prices: list[int]
    inner: torch.Tensor  # the last token of each inner node (a prefix that more prices continue), shortest first
    offset: torch.Tensor  # each inner node's position after the prompt (its length - 1)
    sees: torch.Tensor  # (inner × inner) True where node i may attend to node j: j is a prefix of i, or i itself
    rows: torch.Tensor  # (prices × steps): which distribution scores each step (0: after the prompt, 1+i: inner i)
    tokens: torch.Tensor  # (prices × steps): the token each step writes (a price's tokens, then its end if needed)
    used: torch.Tensor  # (prices × steps): False where a price has fewer steps


def price_tree(tok: Any, top: int = int(PRICE_RANGE[1])) -> PriceTree:
    """The tree of prices 1..top for a tokenizer. A price that is a prefix of a longer one ('14' of '144') also
    scores the token that ends it ('.', as in '14.00'); the others end by the task's range (at most `top`)."""
    seqs = [tuple(tok(str(p), add_special_tokens=False)["input_ids"]) for p in range(1, top + 1)]
    ends = {tok(f"{p}.00", add_special_tokens=False)["input_ids"][len(s)] for p, s in zip(range(1, top + 1), seqs)}
    if len(ends) != 1:
        raise LLMKitError(f"this tokenizer does not end every price with one token (it uses {len(ends)})")
    end = ends.pop()
    inner = sorted({s[:k] for s in seqs for k in range(1, len(s))}, key=lambda n: (len(n), n))
    index = {n: i for i, n in enumerate(inner)}
    steps = max(len(s) for s in seqs) + 1
    rows, tokens, used = (torch.zeros(len(seqs), steps, dtype=t) for t in (torch.long, torch.long, torch.bool))
    for j, s in enumerate(seqs):
        path = [(index[s[:k]] + 1 if k else 0, s[k]) for k in range(len(s))]
        path += [(index[s] + 1, end)] if s in index else []
        for k, (row, token) in enumerate(path):
            rows[j, k], tokens[j, k], used[j, k] = row, token, True
    sees = torch.zeros(len(inner), len(inner), dtype=torch.bool)
    for n, i in index.items():
        for k in range(1, len(n) + 1):
            sees[i, index[n[:k]]] = True
    last = torch.tensor([n[-1] for n in inner], dtype=torch.long)
    offset = torch.tensor([len(n) - 1 for n in inner], dtype=torch.long)
    prices = list(range(1, top + 1))
    return PriceTree(prices=prices, inner=last, offset=offset, sees=sees, rows=rows, tokens=tokens, used=used)


def price_distributions(
    model: Any, tok: Any, prompts: Sequence[list[int]], tree: PriceTree, batch_size: int = 8
) -> torch.Tensor:
    """P(price | prompt) for every price of the tree (rows: prompts), from one forward pass per batch: each inner node
    attends to the prompt and to its own prefix only (a 4-D attention mask), as if each were a separate sequence."""
    m, pad = len(tree.inner), tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    dtype = next(p.dtype for p in model.parameters() if p.is_floating_point())
    out = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        width = max(map(len, chunk)) + m
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        position = torch.zeros((len(chunk), width), dtype=torch.long)
        allowed = torch.eye(width, dtype=torch.bool).repeat(len(chunk), 1, 1, 1)  # padding sees itself only
        for b, prompt in enumerate(chunk):
            n, left = len(prompt), width - m - len(prompt)  # left padding: every prompt ends where the tree starts
            ids[b, left:] = torch.cat([torch.tensor(prompt, dtype=torch.long), tree.inner])
            position[b, left:] = torch.cat([torch.arange(n), n + tree.offset])
            allowed[b, 0, left : left + n, left : left + n] = torch.ones(n, n, dtype=torch.bool).tril()
            allowed[b, 0, left + n :, left : left + n] = True
            allowed[b, 0, left + n :, left + n :] = tree.sees
        mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
        with torch.no_grad():
            logits = model(
                input_ids=ids.to(model.device),
                attention_mask=mask.to(model.device),
                position_ids=position.to(model.device),
                logits_to_keep=m + 1,
            ).logits
        logp = torch.log_softmax(logits.float(), -1).cpu()  # row 0: after the prompt; row 1 + i: after inner node i
        for row in logp:
            out.append(torch.softmax((row[tree.rows, tree.tokens] * tree.used).sum(1), 0))
    return torch.stack(out)


def median_prices(probs: torch.Tensor, prices: Sequence[int]) -> list[int]:
    """Each row's median price: the first price where the cumulative probability reaches one half."""
    first = (probs.cumsum(1) >= 0.5).int().argmax(1)
    return [prices[i] for i in first.tolist()]


def prompt_ids(tok: Any, item: Item, max_length: int | None = None) -> list[int]:
    """The item's prompt as token ids, cut as training cut it when max_length is given (the price is not included)."""
    if max_length is None:
        return tok(item.prompt())["input_ids"]
    example, _ = ft.encode_example(tok, item, max_length)
    return example["input_ids"][: example["labels"].count(-100)]


READOUTS = ("median", "greedy")


class PricePredictor:
    """The fine-tuned (or base) model as the harness's item -> reply function, batched when the harness can. Its
    price is the median of the model's distribution over whole-dollar prices (readout='median'), or the digits
    greedy generation writes (readout='greedy', as a served model answers)."""

    def __init__(
        self, model: Any, tok: Any, batch_size: int = 16, readout: str = "median", max_length: int | None = None
    ):
        if readout not in READOUTS:
            raise BadInputError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
        self.model, self.tok, self.batch_size = model.eval(), tok, batch_size
        self.readout, self.max_length = readout, max_length
        self.tree = price_tree(tok) if readout == "median" else None

    def __call__(self, item: Item) -> str:
        return self.predict_batch([item])[0]

    def predict_batch(self, items: Sequence[Item]) -> list[str]:
        """Replies for many items, batch_size at a time."""
        if self.tree is None:
            return [r.lstrip() for r in generate_prices(self.model, self.tok, items, self.batch_size)]
        prompts = [prompt_ids(self.tok, item, self.max_length) for item in items]
        probs = price_distributions(self.model, self.tok, prompts, self.tree, self.batch_size)
        return [str(p) for p in median_prices(probs, self.tree.prices)]


def checkpoint_errors(model: Any, tok: Any, config: ft.FineTuneConfig, items: Sequence[Item]) -> list[tuple[int, Any]]:
    """The learning curve in dollars: (training examples seen, the harness's Report on `items`) at each of the run's
    checkpoints before its last step, each loaded into `model` in turn; the trained weights are put back after."""
    from .evaluation import evaluate

    per_step = config.batch_size * config.grad_accum
    predictor = PricePredictor(model, tok, max_length=config.max_length)
    final = {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k}
    points = []
    try:
        for step, folder in ft.checkpoints(config):
            if config.max_steps > 0 and step >= config.max_steps:  # the trained model itself: evaluated already
                continue
            ft.load_adapter_weights(model, folder)
            points.append((step * per_step, evaluate(predictor, items, f"checkpoint {step}")))
    finally:
        model.load_state_dict(final, strict=False)
    return points


def folder_megabytes(folder: Path, pattern: str = "*.safetensors") -> float:
    """Size of the weight files in a folder, in MB."""
    return sum(p.stat().st_size for p in Path(folder).glob(pattern)) / 1e6


def model_files_megabytes(name_or_path: str) -> float:
    """Size of a loaded model's weight files, in MB: its folder, or the Hugging Face cache's copy of a hub id."""
    folder = Path(name_or_path)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(name_or_path, local_files_only=True, allow_patterns=["*.safetensors"]))
    return folder_megabytes(folder)


# ----------------------------------------------------------------------------------------------------------------
# The fine-tune served like any model: local/<alias> through chat()
# ----------------------------------------------------------------------------------------------------------------
def lora_converter() -> Path | None:
    """llama.cpp's convert_lora_to_gguf.py, which `make setup` copies from the llama.cpp source it builds into the
    virtual environment; None where the kit has no llama.cpp (Colab: transformers serve loads the adapter itself)."""
    script = Path(sys.prefix) / "llama.cpp-convert" / "convert_lora_to_gguf.py"
    return script if script.exists() and importlib.util.find_spec("llama_cpp") else None


def lora_to_gguf(adapter_dir: Path, out: Path) -> Path:
    """A peft adapter as a GGUF LoRA that llama.cpp applies to its base model (the one the adapter names) when it
    loads it."""
    script = lora_converter()
    if script is None:
        raise LLMKitError("llama.cpp's LoRA converter is not installed here: run `make setup` (it keeps it).")
    base = base_folder(adapter_dir)
    cmd = [sys.executable, str(script), "--base", str(base), "--outfile", str(out), "--outtype", "f32"]
    done = subprocess.run([*cmd, str(adapter_dir)], capture_output=True, text=True)
    if done.returncode != 0:
        last = "\n".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise LLMKitError(f"llama.cpp could not convert the adapter in {adapter_dir} to GGUF:\n{last}")
    return out


def training_format(tok: Any) -> str:
    """The chat template that renders a chat as the fine-tune's training prompt: the user's message, nothing else
    (with the tokenizer's BOS where training added one), so chat() asks exactly what training taught."""
    adds_bos = tok.bos_token_id is not None and tok("x")["input_ids"][:1] == [tok.bos_token_id]
    bos = "{{ bos_token }}" if adds_bos else ""
    return bos + "{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}{% endif %}{% endfor %}"


def serve(adapter_dir: Path, tok: Any, base_gguf: Path | None = None, alias: str = "price-ft") -> str:
    """Serve a saved adapter like any model and return its name for chat(): llama.cpp loads the base's GGUF with the
    adapter converted to a GGUF LoRA; where the local backend is transformers serve (no llama.cpp, no GGUF base, or
    LLMKIT_LOCAL_BACKEND=transformers), it loads the base with the adapter merged in. Either way the prompt format
    is the training one (`training_format`). The base is the one the adapter names in its config."""
    from .client.local_server import FineTune, add_fine_tune, local_backend

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").exists():
        raise BadInputError(f"{adapter_dir} holds no saved adapter: save it first with model.save_pretrained(folder).")
    tok.chat_template = training_format(tok)
    template = adapter_dir / "served_format.json"  # llama.cpp reads the template from a tokenizer config
    keys = {"chat_template": tok.chat_template, "bos_token": tok.bos_token or "", "eos_token": tok.eos_token}
    template.write_text(json.dumps(keys))
    if base_gguf is not None and local_backend() == "llama.cpp" and lora_converter() is not None:
        lora = lora_to_gguf(adapter_dir, adapter_dir / "adapter.gguf")
        write_modelfile(adapter_dir / "Modelfile", base_gguf, lora, tok.eos_token)
        add_fine_tune(alias, FineTune(adapter_dir, template, base_gguf, lora))
    else:
        add_fine_tune(alias, FineTune(merged_folder(adapter_dir, tok), template))
    return f"local/{alias}"


def served_prompt_ids(model: str, messages: list[dict[str, str]]) -> list[int]:
    """The token ids a served fine-tune (local/<alias>, its server running) is fed for these messages: its template
    rendered and tokenized by the server's own code and files (llama.cpp: its Jinja formatter and the GGUF's
    vocabulary, as its chat handler does; transformers serve: the saved tokenizer's chat template)."""
    from .client.local_server import running_server, served_fine_tune

    alias = model.removeprefix("local/")
    tune = served_fine_tune(alias)
    if tune is None:
        raise BadInputError(
            f"{model} is not a fine-tune served by this kernel: serve it first with fine_tuned.serve()."
        )
    server = running_server(alias)
    if server.backend == "llama.cpp":
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        keys = json.loads(tune.template.read_text())
        prompt = Jinja2ChatFormatter(keys["chat_template"], keys["eos_token"], keys["bos_token"])(messages=messages)
        with suppress_stdout_stderr(disable=False):  # llama.cpp's C code warns of a context it does not make
            vocab = Llama(str(server.model_path), vocab_only=True, verbose=False)
        return vocab.tokenize(prompt.prompt.encode(), add_bos=not prompt.added_special, special=True)
    from transformers import AutoTokenizer

    saved = AutoTokenizer.from_pretrained(server.model_path)
    return list(
        saved.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    )


def write_modelfile(path: Path, base_gguf: Path, lora_gguf: Path, stop: str) -> Path:
    """An Ollama Modelfile for the same model: the base GGUF, the GGUF LoRA on top, the prompt passed as it is (the
    training format), greedy. `ollama create price-ft -f Modelfile` makes it an Ollama model."""
    lines = [
        f"FROM {Path(base_gguf).resolve()}",
        f"ADAPTER {Path(lora_gguf).resolve()}",
        'TEMPLATE """{{ .Prompt }}"""',
        "PARAMETER temperature 0",
        f"PARAMETER stop {stop}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def base_folder(adapter_dir: Path) -> Path:
    """The base model an adapter was trained on, as its adapter_config.json names it."""
    return Path(json.loads((Path(adapter_dir) / "adapter_config.json").read_text())["base_model_name_or_path"])


def merged_folder(adapter_dir: Path, tok: Any) -> Path:
    """The adapter merged into its base (loaded in the dtype of its files), saved with the tokenizer and its template
    in a folder beside it: what transformers serve loads like any model (it reads no adapter folder itself)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = Path(adapter_dir) / "merged"
    base = AutoModelForCausalLM.from_pretrained(base_folder(adapter_dir), dtype="auto")
    PeftModel.from_pretrained(base, adapter_dir).merge_and_unload().save_pretrained(out)
    tok.save_pretrained(out)
    return out


def training_prompt(item: Item) -> list[dict[str, str]]:
    """An item as the served fine-tune is asked it: its training prompt, as one user message."""
    return [{"role": "user", "content": item.prompt()}]
