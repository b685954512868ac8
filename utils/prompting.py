"""Week 6: price predictors built from a chat model: zero-shot, few-shot (long context) and RAG prompts."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from statistics import mean
from typing import Any, Callable, Sequence

from .client.costs import cost_usd
from .client.llm import ChatResult, chat
from .client.providers import PROVIDERS, split_model
from .errors import BadInputError, ContextTooLongError
from .prices import Item

SYSTEM = "You estimate the price of products. Answer with the price only, for example: $45."
Messages = list[dict[str, str]]


def chat_settings(profile: Any) -> tuple[str, str, int]:
    """(model, priced_as, workers) for a profile: its first chat model; the prices to show (an API's where the model
    is local and free); parallel calls for APIs, one at a time for the local server's single CPU model."""
    model = profile.chat_models[0]
    priced_as = f"openai/{PROVIDERS['openai'].default_model}"  # the free local model's calls at a frontier price
    return model, priced_as if profile.offline else model, 1 if profile.offline else 8


def zero_shot_messages(item: Item) -> Messages:
    """The system prompt and the description: no examples."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": item.text}]


def example_turns(examples: Sequence[Item]) -> Messages:
    """Examples as earlier turns of the chat: the description, then the price answered in the wanted format."""
    turns: Messages = []
    for ex in examples:
        turns += [{"role": "user", "content": ex.text}, {"role": "assistant", "content": f"${round(ex.price)}"}]
    return turns


def few_shot_messages(
    item: Item,
    examples: Sequence[Item],
    limit: int | None = None,
    count_tokens: Callable[[Messages], int] | None = None,
) -> Messages:
    """System prompt, examples, then the item; the examples furthest from the question are dropped to fit `limit`."""
    examples = list(examples)
    while True:
        messages = [
            {"role": "system", "content": SYSTEM},
            *example_turns(examples),
            {"role": "user", "content": item.text},
        ]
        if limit is None or count_tokens is None or count_tokens(messages) <= limit:
            return messages
        if not examples:
            raise ContextTooLongError(f"Even with no examples the prompt takes more than {limit} tokens.")
        examples.pop(0)


@dataclass
class ChatPredictor:
    """An item -> reply function backed by a chat model, recording every call's tokens, time and cost."""

    model: str
    build: Callable[[Item], Messages]
    max_tokens: int = 10
    chat_fn: Callable[..., ChatResult] = chat  # a test can pass a scripted function with chat's signature
    calls: list[ChatResult] = field(default_factory=list)
    schema: dict[str, Any] | None = None  # a JSON schema the reply is asked to follow (chat's `schema`)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, item: Item) -> str:
        extra = {"schema": self.schema} if self.schema else {}
        result = self.chat_fn(self.model, self.build(item), max_tokens=self.max_tokens, temperature=0.0, **extra)
        with self._lock:
            self.calls.append(result)
        return result.text

    def stats(self, priced_as: str | None = None) -> dict[str, float]:
        """Mean tokens in/out and latency per call, and dollars per 1,000 predictions (at another model's prices)."""
        return usage_per_item([[c] for c in self.calls], priced_as or self.model)


@dataclass
class RecordedPredictor:
    """A function item -> (reply, the calls it made) as the harness's predictor, keeping each item's calls: a chain
    written in a notebook cell gets the same tokens, seconds and dollars as the kit's own predictors."""

    model: str
    steps: Callable[[Item], tuple[str, list[ChatResult]]]
    log: list[tuple[Item, list[ChatResult]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, item: Item) -> str:
        reply, calls = self.steps(item)
        with self._lock:
            self.log.append((item, calls))
        return reply

    def stats(self, priced_as: str | None = None) -> dict[str, float]:
        """Tokens, seconds and dollars per item (its calls together)."""
        return usage_per_item([calls for _, calls in self.log], priced_as or self.model)


def usage_per_item(calls: Sequence[Sequence[ChatResult]], price_model: str) -> dict[str, Any]:
    """Mean tokens in/out, seconds and calls per item (an item's calls summed), and dollars per 1,000 items."""
    if not calls:
        raise BadInputError("No calls recorded yet: run the predictor through the harness first.")
    n_in = mean(sum(c.input_tokens or 0 for c in group) for group in calls)
    n_out = mean(sum(c.output_tokens for c in group) for group in calls)
    costs = [cost_usd(price_model, c.input_tokens or 0, c.output_tokens) for group in calls for c in group]
    return {
        "input_tokens": n_in,
        "output_tokens": n_out,
        "latency_s": mean(sum(c.latency_s for c in group) for group in calls),
        "calls": mean(len(group) for group in calls),
        "cost_per_1k": None if None in costs else sum(costs) / len(calls) * 1000,
    }


def api_dollars_per_1k(predictor: Any, model: str) -> float | None:
    """What 1,000 items cost at the model's own API prices, for the decision table; None for a local model, whose
    cost there is its measured machine time (one pricing rule per row: what that model would really cost)."""
    return None if split_model(model)[0] == "local" else predictor.stats(model)["cost_per_1k"]


def nearest_neighbour_predictor(store: Any, train: Sequence[Item], k: int = 1) -> Callable[[Item], float]:
    """No LLM: the mean price of the k most similar training items (the baseline RAG must beat)."""

    def predict(item: Item) -> float:
        _, idx = store.search([item.text], k)
        return float(mean(train[i].price for i in idx[0]))

    return predict
