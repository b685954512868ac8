"""Week 4: the output encoding of a price, measured on two small networks trained from scratch (no tokenizer, no
pretrained model). Both read a product's description (its sentence embedding) through the same trunk and write the
price either as one symbol out of 1,000 (as Llama 3 writes every number 0-999 as one token) or digit by digit with an
end mark (as Qwen spends a token per digit); their heads differ in size. Both train on the same items for the same
steps and are scored exactly over the 1,000 whole-dollar prices: each price's probability (the digit model's
renormalised over the digit paths that are prices 0-999), the most likely price, the loss on the true one."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .errors import BadInputError

END = 10  # the symbol after a price's last digit (what follows a number: '.', a space, the end of the text)
SYMBOLS = 11  # the digits 0-9 and END
STEPS = 4  # at most three digits, then END
UNIFORM_NATS = math.log(1000)  # the loss of a guess that gives every price 0-999 the same chance


def whole_dollars(prices: Sequence[float]) -> torch.Tensor:
    """Prices rounded to whole dollars, 0-999: the numbers Llama 3 writes as one token."""
    rounded = torch.tensor(np.round(np.asarray(prices, dtype=float)), dtype=torch.long)
    if len(rounded) == 0 or rounded.min() < 0 or rounded.max() > 999:
        raise BadInputError("Prices must be $0-$999 (rounded to whole dollars), at least one of them.")
    return rounded


def digit_targets(prices: torch.Tensor) -> torch.Tensor:
    """(n, STEPS) digit symbols of each price and END, padded with -100 (no loss) after END."""
    targets = torch.full((len(prices), STEPS), -100, dtype=torch.long)
    for row, price in enumerate(prices.tolist()):
        symbols = [int(d) for d in str(price)] + [END]
        targets[row, : len(symbols)] = torch.tensor(symbols)
    return targets


class OneToken(nn.Module):
    """The price as one prediction over 1,000 classes."""

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(dim, hidden), nn.GELU())
        self.head = nn.Linear(hidden, 1000)

    def log_prob(self, x: torch.Tensor, prices: torch.Tensor) -> torch.Tensor:
        """ln p(price) for each item."""
        return self.head(self.trunk(x)).log_softmax(-1).gather(1, prices[:, None]).squeeze(1)

    def price_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """(n, 1000) ln p(price) of every price 0-999."""
        return self.head(self.trunk(x)).log_softmax(-1)


class Digits(nn.Module):
    """The price digit by digit: each step sees the description and the digits written before it."""

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(dim, hidden), nn.GELU())
        self.step = nn.Sequential(nn.Linear(hidden + STEPS * SYMBOLS + STEPS, hidden), nn.GELU(), nn.Linear(hidden, 11))

    def _logits(self, x: torch.Tensor, written: torch.Tensor) -> torch.Tensor:
        """(n, STEPS, SYMBOLS) next-symbol logits, step t seeing the symbols written[:, :t] (-100: none)."""
        n = len(x)
        seen = nn.functional.one_hot(written.clamp(min=0), SYMBOLS).float() * (written >= 0)[..., None].float()
        before = torch.stack([(seen * (torch.arange(STEPS) < t)[None, :, None]).flatten(1) for t in range(STEPS)], 1)
        position = torch.eye(STEPS).expand(n, STEPS, STEPS)
        features = self.trunk(x)[:, None, :].expand(n, STEPS, -1)
        return self.step(torch.cat([features, before, position], dim=-1))

    def log_prob(self, x: torch.Tensor, prices: torch.Tensor) -> torch.Tensor:
        """ln p(price) = the sum over its digits and END of ln p(symbol | description, symbols before it)."""
        targets = digit_targets(prices)
        log_probs = self._logits(x, targets).log_softmax(-1)
        picked = log_probs.gather(2, targets.clamp(min=0)[..., None]).squeeze(2)
        return (picked * (targets >= 0)).sum(1)

    def price_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """(n, 1000) ln p(price) of every price 0-999, renormalised over them: the mass on digit paths that are no
        price (a leading zero, a fourth digit) is left out, so both encodings are distributions over the same prices."""
        n = len(x)
        every = torch.arange(1000).repeat(n)  # each item paired with every price
        raw = self.log_prob(x.repeat_interleave(1000, 0), every).view(n, 1000)
        return raw - raw.logsumexp(1, keepdim=True)


def train(
    model: nn.Module,
    x: torch.Tensor,
    prices: torch.Tensor,
    val_x: torch.Tensor,
    val_prices: torch.Tensor,
    steps: int = 150,
    lr: float = 3e-3,
) -> list[tuple[int, float, float]]:
    """Full-batch Adam on the mean -ln p(price), keeping the weights of the step with the lowest validation loss (the
    same early-stopping rule for both encodings); (step, training loss, validation loss) every 10 steps."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-3)
    history, best, best_state = [], math.inf, None
    for step in range(steps):
        loss = -model.log_prob(x, prices).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == steps - 1:
            with torch.no_grad():
                val = -model.log_prob(val_x, val_prices).mean().item()
            history.append((step, loss.item(), val))
            if val < best:
                best, best_state = val, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return history


ENCODINGS = {"one token per price (Llama 3)": OneToken, "a token per digit (Qwen)": Digits}


def compare_encodings(
    train_x: np.ndarray,
    train_prices: Sequence[float],
    val_x: np.ndarray,
    val_prices: Sequence[float],
    test_x: np.ndarray,
    test_prices: Sequence[float],
    seeds: Sequence[int] = (0, 1, 2),
) -> pd.DataFrame:
    """Both encodings trained from each seed on the same items for the same steps, each stopped at its best
    validation loss; a row per encoding and seed: parameters, predictions per price, the step kept, test loss per
    whole price (nats) and the test error of the most likely price, both over every price 0-999."""
    xs, xv, xt = (torch.tensor(np.asarray(a, dtype=np.float32)) for a in (train_x, val_x, test_x))
    ys, yv, yt = whole_dollars(train_prices), whole_dollars(val_prices), whole_dollars(test_prices)
    rows = []
    for name, build in ENCODINGS.items():
        for seed in seeds:
            torch.manual_seed(seed)
            model = build(xs.shape[1])
            history = train(model, xs, ys, xv, yv)
            with torch.no_grad():
                scores = model.price_log_probs(xt)  # every price 0-999, scored exactly on both sides
                loss = -scores.gather(1, yt[:, None]).mean().item()
                guess = scores.argmax(1)
            steps = 1 if build is OneToken else (digit_targets(yt) >= 0).sum(1).float().mean().item()
            rows.append(
                {
                    "encoding": name,
                    "seed": seed,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "predictions per price": round(steps, 2),
                    "step kept": min(history, key=lambda h: h[2])[0],
                    "test loss per price (nats)": loss,
                    "test error ($)": (guess - yt).abs().float().mean().item(),
                }
            )
    return pd.DataFrame(rows)
