"""A JSON schema for the reply: sent in the form each endpoint takes, held to by the ones that say they hold to it."""

import pytest
from pydantic import BaseModel

from utils.client import llm
from utils.client.request_rules import response_format, schema_enforced, strict_schema
from utils.prices import Item
from utils.prompting import ChatPredictor, zero_shot_messages


class PriceReply(BaseModel):
    price: float


SCHEMA = PriceReply.model_json_schema()


@pytest.mark.unit
def test_each_endpoint_gets_the_schema_in_its_own_form():
    assert response_format("local", "llama.cpp", SCHEMA) == {"type": "json_object", "schema": SCHEMA}
    sent = response_format("openai", "", SCHEMA)
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"]["additionalProperties"] is False  # what strict mode asks of every object
    assert strict_schema(SCHEMA)["required"] == ["price"] and "additionalProperties" not in SCHEMA  # not changed
    assert [schema_enforced(p, "") for p in ("openai", "gemini", "groq", "anthropic", "openrouter")] == [
        True,
        True,
        True,
        False,  # Anthropic's OpenAI layer: "response_format: Ignored"
        None,  # depends on the model OpenRouter routes to
    ]
    assert schema_enforced("local", "llama.cpp") and schema_enforced("local", "transformers") is False


@pytest.mark.server
def test_a_schema_held_reply_parses_every_time(at_zoo):
    items = [Item(f"i{i}", text, 10.0, "t") for i, text in enumerate(["A steel kettle.", "A drill.", "A chair."])]
    held = ChatPredictor("local/smollm2", zero_shot_messages, max_tokens=24, schema=SCHEMA)
    assert all(PriceReply.model_validate_json(held(item)).price >= 0 for item in items)  # valid JSON of the schema
    via_openai = ChatPredictor("openai/gpt-5-mini", zero_shot_messages, max_tokens=24, schema=SCHEMA)
    assert PriceReply.model_validate_json(via_openai(items[0])).price >= 0
    llm.chat("anthropic/claude-haiku-4-5", zero_shot_messages(items[0]), max_tokens=24, schema=SCHEMA)
    sent = [body for provider, body in at_zoo.requests if provider == "anthropic"][-1]
    assert sent["response_format"]["type"] == "json_schema"  # the kit sends it; the notebook says it is ignored
