"""The approaches table weeks 6 and 7 share, and the decision read off it."""

import numpy as np
import pandas as pd
import pytest

from utils import evaluation as ev
from utils import scoreboard as results
from utils.errors import BadInputError

pytestmark = pytest.mark.unit


def test_the_approaches_table_replaces_rows_per_approach(tmp_path):
    path = tmp_path / "results.csv"
    r1 = ev.score("a", [10, 20], [10, 20])
    r2 = ev.score("a", [10, 20], [0, 0])
    results.record(r1, "baseline", "offline", path=path)
    results.record(ev.score("b", [10], [10]), "baseline", "offline", path=path)
    table = results.record(r2, "baseline", "offline", path=path)
    assert sorted(table["approach"]) == ["a", "b"] and table.set_index("approach").loc["a", "mae"] == 15
    assert len(results.read_approaches(path, profile="full")) == 0
    assert len(results.read_approaches(tmp_path / "none.csv")) == 0


def test_forgetting_families_removes_only_that_profiles_rows_of_them(tmp_path):
    path = tmp_path / "results.csv"
    results.forget(["fine-tuned"], "offline", path=path)  # nothing recorded yet: nothing to do, no file made
    assert not path.exists()
    for name, family, profile in [
        ("old served", "fine-tuned", "offline"),
        ("tuned", "fine-tuned", "full"),
        ("mean", "baseline", "offline"),
        ("base", "base model", "offline"),
    ]:
        results.record(ev.score(name, [10], [10]), family, profile, path=path)
    results.forget(["fine-tuned", "base model"], "offline", path=path)
    table = results.read_approaches(path)
    assert sorted(zip(table["approach"], table["profile"])) == [("mean", "offline"), ("tuned", "full")]


def test_running_cost_is_computed_from_measured_seconds(tmp_path):
    report = ev.score("timed", [10, 20], [10, 20], seconds=3.6)
    row = results.record(report, "baseline", "offline", path=tmp_path / "r.csv", dollars_per_hour=0.05).iloc[0]
    assert row["seconds_per_item"] == pytest.approx(1.8)
    assert row["compute_per_1k"] == pytest.approx(1.8 * 1000 / 3600 * 0.05)
    assert pd.isna(row["api_per_1k"]) and row["mae_lo"] <= row["mae"] <= row["mae_hi"]


def test_dollars_read_as_money_without_exponents():
    assert [results.dollars(x) for x in (1234.5, 0.42, 7.1e-06, 0)] == ["$1,234.50", "$0.42", "$0.0000071", "$0.00"]


@pytest.mark.filterwarnings("error::FutureWarning")  # a one-row family once warned in week 7
def test_the_decision_plot_numbers_every_row_and_greys_what_is_not_compared():
    import matplotlib

    matplotlib.use("Agg")
    rows = pd.DataFrame(
        [
            {
                "approach": "a",
                "family": "baseline",
                "n": 40,
                "unparseable": 0,
                "mae": 100.0,
                "mae_lo": 60.0,
                "mae_hi": 140.0,
                "hit_rate": 0.3,
                "seconds_per_item": 0.01,
                "compute_per_1k": 1e-5,
                "api_per_1k": None,
                "effort_estimate": "m",
            },
            {
                "approach": "b",
                "family": "prompting",
                "n": 40,
                "unparseable": 34,
                "mae": 20.0,
                "mae_lo": 10.0,
                "mae_hi": 30.0,
                "hit_rate": 0.05,
                "seconds_per_item": 0.5,
                "compute_per_1k": 0.0,
                "api_per_1k": 0.02,
                "effort_estimate": "m",
            },
        ]
    )
    ax = results.plot_decision(results.decision_table(rows), "dollars_per_1k", "dollars", "t")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["baseline", "priced under 90% of items: not compared"]  # b: not drawn as prompting
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1"]


def test_decision_table_prices_and_concludes():
    rows = pd.DataFrame(
        [
            {
                "approach": "cheap",
                "family": "baseline",
                "n": 40,
                "mae": 100.0,
                "mae_lo": 60.0,
                "mae_hi": 140.0,
                "hit_rate": 0.3,
                "seconds_per_item": 0.001,
                "compute_per_1k": 0.00001,
                "api_per_1k": None,
                "effort_estimate": "m",
            },
            {
                "approach": "best",
                "family": "RAG",
                "n": 40,
                "mae": 90.0,
                "mae_lo": 50.0,
                "mae_hi": 130.0,
                "hit_rate": 0.4,
                "seconds_per_item": 0.7,
                "compute_per_1k": 0.01,
                "api_per_1k": 0.04,
                "effort_estimate": "d",
            },
            {
                "approach": "worse",
                "family": "prompting",
                "n": 40,
                "mae": 300.0,
                "mae_lo": 200.0,
                "mae_hi": 400.0,
                "hit_rate": 0.1,
                "seconds_per_item": 0.0,
                "compute_per_1k": 0.000001,
                "api_per_1k": None,
                "effort_estimate": "m",
            },  # the cheapest of all, but measurably worse: never the pick
            {
                "approach": "mute",
                "family": "prompting",
                "n": 40,
                "mae": 20.0,
                "mae_lo": 10.0,
                "mae_hi": 30.0,
                "hit_rate": 0.05,
                "seconds_per_item": 0.1,
                "compute_per_1k": 0.0,
                "api_per_1k": None,
                "effort_estimate": "m",
                "unparseable": 34,
            },  # priced 6 of 40: its low error is not comparable
        ]
    ).fillna({"unparseable": 0})
    table = results.decision_table(rows)
    assert list(table["approach"]) == ["best", "cheap", "worse", "mute"]  # not compared: last, whatever its error
    assert table.set_index("approach").loc["mute", "answered"] == pytest.approx(6 / 40)
    assert table.set_index("approach").loc["best", "dollars_per_1k"] == 0.04  # the API's price, not machine time
    assert table.set_index("approach").loc["cheap", "priced_by"].startswith("machine time")
    decision = results.conclude(table)
    assert decision["best"]["approach"] == "best" and decision["pick"]["approach"] == "cheap"
    assert decision["best_llm"]["approach"] == "best" and "cheap" in decision["text"]
    assert "Not compared, having priced under 90% of their items: mute (15%)" in decision["text"]
    with pytest.raises(BadInputError):
        results.decision_table(rows.iloc[0:0])


def test_the_approaches_chart_names_unparseable_replies(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    path = tmp_path / "r.csv"
    results.record(ev.score("chatty", [10, 20, 30], [10, None, None]), "prompting", "offline", path=path)
    table = results.record(ev.score("steady", [10, 20, 30], [12, 18, 33]), "baseline", "offline", path=path)
    ax = results.plot_results(table)
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == [" $0, priced 1 of 3: not compared", " $2"]  # 1 of 3 is under 90%: grey, and last
    assert [t.get_text() for t in ax.get_yticklabels()] == ["chatty", "steady"]  # barh: the first row is the bottom


def test_points_that_would_coincide_are_nudged_apart_and_no_others():
    x = pd.Series([2.4e-4, 2.41e-4, 2.4e-4, 1e-5])
    y = pd.Series([106.0, 110.0, 360.0, 263.0])  # the second sits on the first; the third is far above both
    out = results.dodged(x, y)
    assert np.log10(out[1] / out[0]) >= 0.06 - 1e-9  # apart on the log axis
    assert out[0] == x[0] and out[2] == x[2] and out[3] == x[3]


def test_each_row_is_set_against_the_constant_guess_by_intervals_and_few_priced_rank_nothing():
    mean = {"mae": 263.0, "mae_lo": 223.0, "mae_hi": 305.0}

    def row(mae, lo, hi, unparseable=0):
        return pd.Series({"approach": "x", "mae": mae, "mae_lo": lo, "mae_hi": hi, "n": 40, "unparseable": unparseable})

    assert "better than always guessing" in results.against_the_mean(row(140, 90, 210), mean)
    assert "worse than always guessing" in results.against_the_mean(row(400, 320, 480), mean)
    assert "not told apart from" in results.against_the_mean(row(280, 220, 340), mean)  # worse by point only
    assert "too few to set its error" in results.against_the_mean(row(73, 29, 130, unparseable=35), mean)
    assert "no price in any reply" in results.against_the_mean(row(float("nan"), 0, 0, unparseable=40), mean)
