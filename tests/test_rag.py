import pytest

from utils import rag, strategies
from utils.prices import Item
from utils.tokens import chat_tokens

CORPUS = ["The warranty covers the frame for life.", "Delivery to the EU takes ten working days.",
          "Our support line is open from 8am to 6pm.", "Refunds are paid within five working days."]


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
