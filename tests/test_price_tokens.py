"""Week 4's measured tokenizer rationale: two encodings of a price, each a proper distribution over prices."""

import numpy as np
import pytest
import torch

from utils import price_tokens as pt
from utils.errors import BadInputError

pytestmark = pytest.mark.unit

ALL = torch.arange(1000)


def test_digit_targets_end_each_price_and_pad_after():
    assert pt.digit_targets(torch.tensor([7, 45, 999])).tolist() == [
        [7, pt.END, -100, -100],
        [4, 5, pt.END, -100],
        [9, 9, 9, pt.END],
    ]
    with pytest.raises(BadInputError):
        pt.whole_dollars([1000.2])


@pytest.mark.parametrize("build", [pt.OneToken, pt.Digits])
def test_each_encoding_is_a_distribution_over_prices_so_their_nats_compare(build):
    """The loss of a price is -ln p(price) in both: p summed over 0-999 is 1 for one token; for digits at most 1 (a
    leading zero or a fourth digit is a path to no price 0-999), never more."""
    torch.manual_seed(0)
    model = build(8)
    x = torch.randn(1, 8).expand(1000, 8)
    with torch.no_grad():
        total = model.log_prob(x, ALL).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-4) if build is pt.OneToken else 0.05 < total <= 1.0 + 1e-6


@pytest.mark.parametrize("build", [pt.OneToken, pt.Digits])
def test_both_are_scored_over_the_same_1000_prices(build):
    """Scoring is exact on both sides: every price 0-999 gets a probability, they sum to 1 (the digit model's mass on
    paths that are no price is left out), and each one is the model's own log_prob up to that one constant."""
    torch.manual_seed(0)
    model = build(8)
    x = torch.randn(3, 8)
    with torch.no_grad():
        scores = model.price_log_probs(x)
        own = model.log_prob(x[1:2].expand(1000, 8), ALL)
    assert scores.shape == (3, 1000)
    assert scores.exp().sum(1).tolist() == pytest.approx([1.0] * 3, abs=1e-4)
    assert (scores[1] - own).std().item() < 1e-4  # the same ranking of prices, shifted by one log-normaliser


def test_both_learn_a_price_that_the_description_decides():
    """Two kinds of item at $12 and $480: after training, each encoding writes the right price for each."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(1, 0.1, (40, 8)), rng.normal(-1, 0.1, (40, 8))]).astype("float32")
    prices = [12.0] * 40 + [480.0] * 40
    runs = pt.compare_encodings(x, prices, x[::4], prices[::4], x[1::4], prices[1::4], seeds=(0,))
    assert (runs["test error ($)"] == 0).all() and (runs["test loss per price (nats)"] < 0.5).all()
    assert runs.set_index("encoding")["predictions per price"].tolist() == [1, 3.5]  # "12" + END, "480" + END
