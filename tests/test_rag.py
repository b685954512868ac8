import pytest

from utils import prompting as strategies
from utils import rag
from utils.prices import Item
from utils.tokens import chat_tokens

pytestmark = pytest.mark.unit

CORPUS = [
    "The warranty covers the frame for life.",
    "Delivery to the EU takes ten working days.",
    "Our support line is open from 8am to 6pm.",
    "Refunds are paid within five working days.",
]


def test_retrieval_finds_the_gold_document(tmp_path, monkeypatch):
    monkeypatch.setattr(rag, "cache_dir", lambda *p: tmp_path)
    store = rag.VectorStore("tiny", CORPUS, progress=False)
    questions = ["When can I call support?", "How long is the frame guaranteed?", "When do I get my money back?"]
    _, idx = store.search(questions, k=2)
    assert [2, 0, 3] == [row[0] for row in idx]
    assert rag.VectorStore("tiny", CORPUS, progress=False).reused  # second build loads from disk


def test_retrieval_metrics_by_hand():
    ranked = [["a", "b", "c"], ["b", "a", "c"], ["c", "b", "a"]]
    assert rag.hit_at_k(ranked, ["a", "a", "z"], 1) == pytest.approx(1 / 3)
    assert rag.hit_at_k(ranked, ["a", "a", "z"], 2) == pytest.approx(2 / 3)
    assert rag.mean_reciprocal_rank(ranked, ["a", "a", "z"]) == pytest.approx((1 + 0.5 + 0) / 3)


def test_prompt_builder_never_exceeds_its_limit():
    examples = [Item(f"t{i}", f"Product number {i} with a long description " * 5, 10.0 + i, "s") for i in range(40)]
    item = Item("q", "The product to price.", 1.0, "s")
    for limit in (150, 400, 1000):
        msgs = strategies.few_shot_messages(item, examples, limit, chat_tokens)
        assert chat_tokens(msgs) <= limit and msgs[-1]["content"] == item.text
    assert len(strategies.few_shot_messages(item, examples[:3])) == 2 + 2 * 3


def test_chat_predictor_records_calls_and_prices_them():
    from utils.client.llm import ChatResult

    seen = []

    def scripted(model, messages, **kw):  # a test double with chat's signature, not a model
        seen.append((model, messages, kw))
        return ChatResult("$42", model, 100, 3, 0.1, 0.2, None)

    item = Item("q", "A red kettle.", 40.0, "s")
    predictor = strategies.ChatPredictor("openai/gpt-4o-mini", strategies.zero_shot_messages, chat_fn=scripted)
    assert predictor(item) == "$42" and predictor(item) == "$42"
    assert seen[0][1][-1]["content"] == "A red kettle." and seen[0][2]["max_tokens"] == 10
    stats = predictor.stats()
    assert stats["input_tokens"] == 100 and stats["latency_s"] == pytest.approx(0.2)
    from utils.client.costs import cost_usd

    assert stats["cost_per_1k"] == pytest.approx(cost_usd("openai/gpt-4o-mini", 100, 3) * 1000)


def test_chat_predictor_without_calls_is_a_clear_error():
    from utils.errors import BadInputError

    with pytest.raises(BadInputError, match="No calls"):
        strategies.ChatPredictor("local/smollm2", strategies.zero_shot_messages).stats()


def test_the_store_gives_back_the_vectors_it_holds(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv("LLMKIT_CACHE", str(tmp_path))
    texts = ["a red kettle", "a blue bicycle", "a steel kettle"]
    store = rag.VectorStore("vectors-test", texts, progress=False)
    assert np.allclose(store.vectors(), rag.embed(texts), atol=1e-5)  # in the texts' order, as embedded
