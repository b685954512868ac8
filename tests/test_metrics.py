import math

import pytest
import torch

from utils import metrics
from utils.errors import BadInputError

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def tiny(tiny_llama):
    """A tiny Llama over 97 token ids: real transformer maths."""
    return tiny_llama(97).eval()


def test_worked_examples():
    assert metrics.loss_of_probability(1.0) == 0 and metrics.perplexity(0) == 1
    assert f"{metrics.loss_of_probability(1.0):.4f}" == "0.0000"  # a sure model's loss is printed without a sign
    assert metrics.perplexity(metrics.loss_of_probability(0.5)) == pytest.approx(2)
    assert metrics.perplexity(metrics.loss_of_probability(0.25)) == pytest.approx(4)
    with pytest.raises(BadInputError):
        metrics.loss_of_probability(0)


class CharTokenizer:
    """Characters as token ids, enough for the sliding-window code."""

    def __call__(self, text, return_tensors=None, add_special_tokens=False):
        return {"input_ids": torch.tensor([[ord(c) % 97 for c in text]])}

    def decode(self, ids):
        return "".join(chr(65 + i % 26) for i in ids)


def test_sliding_window_matches_full_pass_when_it_fits(tiny):
    text = "the cat sat on the mat and looked at the hat"
    full, n_full = metrics.sliding_window_loss(tiny, CharTokenizer(), text, window=128, stride=128)
    with torch.no_grad():
        ids = CharTokenizer()(text)["input_ids"]
        direct = tiny(ids, labels=ids).loss.item()
    assert full == pytest.approx(direct, abs=1e-5) and n_full == len(text) - 1
    windowed, n = metrics.sliding_window_loss(tiny, CharTokenizer(), text, window=16, stride=8)
    assert n == len(text) - 1 and math.isfinite(windowed)
    with pytest.raises(BadInputError):
        metrics.sliding_window_loss(tiny, CharTokenizer(), text, window=8, stride=16)


def test_surprises_and_bits_per_character(tiny):
    s = metrics.token_surprises(tiny, CharTokenizer(), "abcdef")
    assert len(s) == 6 and math.isnan(s[0][1]) and all(b > 0 for _, b in s[1:])
    assert "<span" in metrics.surprise_html(s)
    assert metrics.bits_per_character(math.log(2), tokens=10, characters=5) == pytest.approx(2)
