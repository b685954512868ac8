"""Week 6: price baselines without an LLM, each a predictor (item -> price) trained on the training items."""

from __future__ import annotations

import math
import random
import re
import zlib
from typing import Callable, Sequence

import numpy as np

from .errors import BadInputError
from .prices import Item

Predictor = Callable[[Item], float]


def _check(train: Sequence[Item]) -> None:
    if len(train) < 2:
        raise BadInputError(f"A baseline needs at least 2 training items, got {len(train)}.")


def random_predictor(train: Sequence[Item], seed: int = 42) -> Predictor:
    """A uniform random price within the training range, the same for the same item on every run."""
    _check(train)
    lo, hi = min(i.price for i in train), max(i.price for i in train)
    return lambda item: random.Random(seed + zlib.crc32(item.text.encode())).uniform(lo, hi)


def constant_predictor(train: Sequence[Item]) -> Predictor:
    """Always the training mean."""
    _check(train)
    mean = float(np.mean([i.price for i in train]))
    return lambda item: mean


def simple_features(item: Item, sources: Sequence[str]) -> list[float]:
    """Hand-made features: text length, words, how many numbers and the largest, and the category (source)."""
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", item.text)]
    return [
        len(item.text),
        len(item.text.split()),
        len(numbers),
        math.log1p(max(numbers, default=0.0)),
        *[float(item.source == s) for s in sources],
    ]


def linear_regression_predictor(train: Sequence[Item]) -> Predictor:
    """Linear regression on simple_features."""
    from sklearn.linear_model import LinearRegression

    _check(train)
    sources = sorted({i.source for i in train})
    model = LinearRegression().fit([simple_features(i, sources) for i in train], [i.price for i in train])
    return lambda item: max(0.0, float(model.predict([simple_features(item, sources)])[0]))


def bag_of_words_predictor(train: Sequence[Item], max_features: int = 2000) -> Predictor:
    """Word counts and a linear regression (ridge-regularised: there are more words than items)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    _check(train)
    model = make_pipeline(CountVectorizer(max_features=max_features, stop_words="english"), Ridge(alpha=1.0))
    model.fit([i.text for i in train], [i.price for i in train])
    return lambda item: max(0.0, float(model.predict([item.text])[0]))


def random_forest_predictor(train: Sequence[Item], trees: int = 100, seed: int = 42) -> Predictor:
    """TF-IDF features and a random forest."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    _check(train)
    model = make_pipeline(
        TfidfVectorizer(max_features=2000, stop_words="english"),
        RandomForestRegressor(n_estimators=trees, random_state=seed, n_jobs=2),
    )
    model.fit([i.text for i in train], [i.price for i in train])
    return lambda item: float(model.predict([item.text])[0])


CONSTANT_GUESS = "constant (training mean)"  # week 6/01's baseline: the bar every approach's row is set against

BASELINES: dict[str, Callable[[Sequence[Item]], Predictor]] = {
    "random": random_predictor,
    CONSTANT_GUESS: constant_predictor,
    "linear regression (simple features)": linear_regression_predictor,
    "bag of words + linear regression": bag_of_words_predictor,
    "random forest (tf-idf)": random_forest_predictor,
}
