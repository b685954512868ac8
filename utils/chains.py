"""Week 6: a two-call prompt chain and a tool-using predictor for the price task, and answers scored by what they
contain (a value the reply must name), for the knowledge experiments."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .client.llm import ChatResult, chat
from .errors import BadInputError
from .prices import Item
from .prompting import SYSTEM, usage_per_item

FACTS_PROMPT = (
    "List the facts about this product that decide its price: what it is, brand or maker, condition, size or "
    "quantity. Short lines, no price."
)
PRICE_FROM_FACTS = "You estimate the price of products from their key facts. " + SYSTEM.split(". ", 1)[1]
TOOL_SYSTEM = SYSTEM + " You may call similar_items first to see what similar products sold for."
# The same tool offered in plain text, for a model left free to write anything (no tools API, no grammar).
TOOL_IN_PROMPT = (
    TOOL_SYSTEM + ' To call it, reply with only this JSON: {"name": "similar_items", "arguments": '
    '{"description": "<what the product is>"}}. Otherwise reply with the price.'
)
SIMILAR_ITEMS_TOOL = {
    "type": "function",
    "function": {
        "name": "similar_items",
        "description": "Find products similar to a description, with the prices they sold for.",
        "parameters": {
            "type": "object",
            "properties": {"description": {"type": "string", "description": "what the product is"}},
            "required": ["description"],
        },
    },
}


@dataclass
class ToolPredictor:
    """The model may call similar_items (the kit runs it on the vector store), then answers with the results.

    answer_model is where the second turn goes: the same model, except that llama-cpp-python's function-calling
    chat format leaves tool results out of the prompt, so locally the answer turn uses the model's own template."""

    model: str
    store: Any
    train: Sequence[Item]
    k: int = 3
    answer_model: str | None = None
    call_tokens: int = 48
    in_prompt: bool = False  # True: the tool is described in the system prompt and the call read from the reply text
    chat_fn: Callable[..., ChatResult] = chat
    calls: list[list[ChatResult]] = field(default_factory=list)
    tool_log: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def similar_items(self, description: str) -> str:
        """The tool: the k most similar training items and their prices, one per line."""
        _, idx = self.store.search([description], self.k)
        return "\n".join(f"{self.train[i].title}: ${self.train[i].price:,.2f}" for i in idx[0])

    def __call__(self, item: Item) -> str:
        system = TOOL_IN_PROMPT if self.in_prompt else TOOL_SYSTEM
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": item.text}]
        tools = None if self.in_prompt else [SIMILAR_ITEMS_TOOL]
        first = self.chat_fn(self.model, messages, max_tokens=self.call_tokens, tools=tools)
        calls = first.tool_calls
        if self.in_prompt:  # no tools API: a call is JSON the model wrote in its reply
            found = call_in_text(first.text)
            calls = [found] if found else []
        results, entry, text = [first], {"called": bool(calls), "valid": False, "query": None}, first.text
        if calls:
            call = calls[0]
            query = parse_tool_arguments(call, "similar_items", "description")
            entry.update(valid=query is not None, query=query)
            text = ""  # an invalid call is a miss: the model gave no price
            if query is not None:
                found_items = self.similar_items(query)
                if self.in_prompt:  # the result goes back as text, as the call came
                    messages += [
                        {"role": "assistant", "content": first.text},
                        {
                            "role": "user",
                            "content": f"similar_items returned:\n{found_items}\nReply with the price only.",
                        },
                    ]
                else:
                    messages += [
                        {
                            "role": "assistant",
                            "content": "",
                            "tool_calls": [
                                {
                                    "id": call["id"],
                                    "type": "function",
                                    "function": {"name": call["name"], "arguments": call["arguments"]},
                                }
                            ],
                        },
                        {"role": "tool", "tool_call_id": call["id"], "content": found_items},
                    ]
                second = self.chat_fn(self.answer_model or self.model, messages, max_tokens=10)
                results.append(second)
                text = second.text
        with self._lock:
            self.calls.append(results)
            self.tool_log.append(entry)
        return text

    def stats(self, priced_as: str | None = None) -> dict[str, float]:
        """Tokens, seconds and dollars per item, and how the model used the tool."""
        if not self.tool_log:
            raise BadInputError("No calls recorded yet: run the predictor through the harness first.")
        n = len(self.tool_log)
        return {
            **usage_per_item(self.calls, priced_as or self.model),
            "tool_called": sum(e["called"] for e in self.tool_log) / n,
            "valid_calls": sum(e["valid"] for e in self.tool_log) / n,
        }


def call_in_text(reply: str) -> dict[str, str] | None:
    """A tool call a model wrote as plain JSON ({"name": ..., "arguments": {...}}), as the tools API would return it;
    None when the reply holds no such object."""
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(reply[start : end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict) or "name" not in value:
        return None
    arguments = value.get("arguments", {})
    return {
        "id": "in-text",
        "name": str(value["name"]),
        "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
    }


def parse_tool_arguments(call: dict[str, str], name: str, argument: str) -> str | None:
    """The argument's text when the call names the tool and its JSON holds a non-empty string there, else None."""
    if call.get("name") != name:
        return None
    try:
        value = json.loads(call.get("arguments") or "").get(argument)
    except (json.JSONDecodeError, AttributeError):
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


def contains_answer(reply: str, accepted: Sequence[str]) -> bool:
    """True when the reply names one of the accepted answers (case, spacing and punctuation ignored)."""
    norm = lambda s: re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()  # noqa: E731
    text = f" {norm(reply)} "
    return any(f" {norm(a)} " in text for a in accepted if norm(a))


def words_not_in(text: str, source: str) -> list[str]:
    """The words of `text` (lower case, stop words left out, each once, in order) that `source` does not contain."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    known = set(re.findall(r"[a-z0-9]+", source.lower()))
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ENGLISH_STOP_WORDS and len(w) > 1]
    return list(dict.fromkeys(w for w in words if w not in known))


def answers_right(reply: str, accepted: Sequence[str], options: Sequence[str] = ()) -> bool:
    """True when the reply names an accepted answer and no other of the options its kind of question has (a reply
    naming every finish answers nothing); an option inside an accepted answer ('black' in 'matt black') is not other."""
    others = [o for o in options if o not in accepted and not any(contains_answer(a, [o]) for a in accepted)]
    return contains_answer(reply, accepted) and not contains_answer(reply, others)


def best_constant_guess(questions: Sequence[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """The chance baseline: for each kind of question, the one answer that is right most often, and how often."""
    best: dict[str, tuple[str, int]] = {}
    for kind in sorted({q.get("kind", "") for q in questions}):
        asked = [q for q in questions if q.get("kind", "") == kind]
        counts = {a[0]: sum(contains_answer(a[0], q["answers"]) for q in asked) for a in (q["answers"] for q in asked)}
        answer = max(counts, key=lambda a: (counts[a], a))
        best[kind] = (answer, counts[answer])
    return best


def ask_all(
    model: str, questions: Sequence[dict[str, Any]], context: str | None = None, max_tokens: int = 24
) -> list[dict[str, Any]]:
    """Ask each {"question", "answers"} with or without a context passage; each reply with whether it is right."""
    options: dict[str, list[str]] = {}  # each kind's answers: a reply naming two of them is not right
    for q in questions:
        if q.get("kind"):
            kind = options.setdefault(q["kind"], [])
            kind += [a for a in q["answers"] if a not in kind]
    rows = []
    for q in questions:
        prompt = q["question"] if context is None else f"{context}\n\nQuestion: {q['question']}"
        system = "Answer in a few words." + ("" if context is None else " Use the text above the question.")
        reply = chat(
            model, [{"role": "system", "content": system}, {"role": "user", "content": prompt}], max_tokens=max_tokens
        )
        right = answers_right(reply.text, q["answers"], options.get(q.get("kind", ""), []))
        rows.append({"question": q["question"], "reply": reply.text.strip(), "right": right})
    return rows
