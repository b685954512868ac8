"""Baselines on hand-made items whose right answers are known."""

import pytest

from utils import baselines as bl
from utils.errors import BadInputError
from utils.prices import Item

pytestmark = pytest.mark.unit


def items(rows):
    return [Item(f"t{i}", text, price, src) for i, (text, price, src) in enumerate(rows)]


TRAIN = items(
    [
        (f"A {w} kettle, {n} litre.", p, s)
        for n, (w, p, s) in enumerate(
            [
                ("cheap", 10.0, "a"),
                ("cheap", 12.0, "a"),
                ("cheap", 11.0, "a"),
                ("luxury", 300.0, "b"),
                ("luxury", 310.0, "b"),
                ("luxury", 290.0, "b"),
            ]
            * 4
        )
    ]
)


def test_constant_is_the_training_mean():
    predict = bl.constant_predictor(TRAIN)
    assert predict(TRAIN[0]) == pytest.approx(sum(i.price for i in TRAIN) / len(TRAIN))


def test_random_is_in_range_and_repeatable():
    predict = bl.random_predictor(TRAIN, seed=1)
    guesses = [predict(i) for i in TRAIN]
    assert all(10 <= g <= 310 for g in guesses) and guesses == [predict(i) for i in TRAIN] and len(set(guesses)) > 3


@pytest.mark.parametrize(
    "name", ["linear regression (simple features)", "bag of words + linear regression", "random forest (tf-idf)"]
)
def test_learned_baselines_separate_cheap_from_luxury(name):
    predict = bl.BASELINES[name](TRAIN)
    cheap, luxury = Item("x", "A cheap kettle, 3 litre.", 0, "a"), Item("y", "A luxury kettle, 3 litre.", 0, "b")
    assert predict(cheap) < 100 < predict(luxury) and predict(cheap) >= 0


def test_too_few_training_items_is_a_clear_error():
    with pytest.raises(BadInputError, match="at least 2"):
        bl.constant_predictor(TRAIN[:1])


def test_simple_features_count_numbers_and_sources():
    f = bl.simple_features(Item("t", "Size 12 and 300 mm", 1.0, "b"), ["a", "b"])
    assert f[2] == 2 and f[-2:] == [0.0, 1.0]
