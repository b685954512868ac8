import math

import pytest

from utils import evaluation as ev
from utils.errors import BadInputError
from utils.prices import Item


@pytest.mark.parametrize("reply, price", [
    ("around $45", 45), ("45.99 USD", 45.99), ("$1,299.00", 1299), ("Price is $12", 12), ("  17", 17),
    ("I cannot say", None), ("no idea, sorry", None), ("", None), (None, None), (float("nan"), None), (19.5, 19.5),
    ("It costs about $30 to $40", 30),
])
def test_parse_price_on_messy_replies(reply, price):
    assert ev.parse_price(reply) == (None if price is None else pytest.approx(price))


def test_grade_follows_the_course_colours():
    assert ev.grade(100, 130) == "hit"      # within $40
    assert ev.grade(1000, 1150) == "hit"    # within 20%
    assert ev.grade(100, 170) == "near"     # within $80
    assert ev.grade(1000, 1300) == "near"   # within 40%
    assert ev.grade(100, 300) == "miss"


def test_score_on_a_hand_checked_example():
    r = ev.score("toy", truths=[100, 200, 50], guesses=[110, None, 50])
    assert r.mae == pytest.approx((10 + 200 + 0) / 3)
    assert r.hit_rate == pytest.approx(2 / 3) and r.unparseable == 1
    expected = math.sqrt((math.log(111 / 101) ** 2 + math.log(1 / 201) ** 2 + 0) / 3)
    assert r.rmsle == pytest.approx(expected)
    assert r.mae_ci95[0] < r.mae < r.mae_ci95[1]
    with pytest.raises(BadInputError):
        ev.score("empty", [], [])


def items(prices):
    return [Item(f"item {i}", f"description {i}", p, "test") for i, p in enumerate(prices)]


def test_harness_on_a_constant_predictor():
    r = ev.evaluate(lambda it: 100.0, items([90, 100, 160]), "constant $100", progress=False)
    assert r.mae == pytest.approx(70 / 3) and r.n == 3 and r.unparseable == 0
    assert list(r.table["grade"]) == ["hit", "hit", "near"]


def test_harness_survives_predictors_that_fail_or_ramble():
    def flaky(it):
        if it.price > 150:
            raise RuntimeError("API down")
        return "I would say roughly $" + str(it.price)

    r = ev.evaluate(flaky, items([90, 100, 160]), "flaky", progress=False, workers=2)
    assert r.unparseable == 1 and r.table["parsed"].tolist() == [True, True, False] and "failures" in r.extra


def test_results_file_replaces_rows_per_approach(tmp_path):
    path = tmp_path / "results.csv"
    r1 = ev.score("a", [10, 20], [10, 20])
    r2 = ev.score("a", [10, 20], [0, 0])
    ev.record(r1, "baseline", "offline", path=path)
    ev.record(ev.score("b", [10], [10]), "baseline", "offline", path=path)
    table = ev.record(r2, "baseline", "offline", path=path)
    assert sorted(table["approach"]) == ["a", "b"] and table.set_index("approach").loc["a", "mae"] == 15
    assert len(ev.read_results(path, profile="full")) == 0 and len(ev.read_results(tmp_path / "none.csv")) == 0
