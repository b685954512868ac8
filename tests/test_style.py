"""Week 7's style experiment: the style checked by a function, and a LoRA whose loss is on the answer alone."""

import copy

import pytest
import torch

from utils import style
from utils.errors import BadInputError
from utils.tokens import smollm2_tokenizer


@pytest.mark.unit
def test_the_style_is_checked_by_a_function():
    assert style.in_style("a steel kettle for anyone who boils water.")
    assert not style.in_style("A steel kettle.") and not style.in_style("42 ...")  # no letters: no style shown


@pytest.mark.training
def test_style_lora_loss_is_the_answer_tokens_loss_and_falls(tiny_llama):
    """Its first loss equals transformers' own loss with the prompt and padding masked (LoRA starts as the identity:
    B is zero), so the logits it skips were never needed; then the loss falls."""
    tok = smollm2_tokenizer()
    model = tiny_llama(len(tok)).eval()
    questions = [f"What is item {i}?" for i in range(8)]
    answers = [f"item {i} is a {'small ' * (i % 3)}thing." for i in range(8)]
    reference = copy.deepcopy(model)
    rows = []
    for q, a in zip(questions, answers):
        prompt = tok(style.chat_text(tok, q), add_special_tokens=False)["input_ids"]
        reply = tok(a, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        rows.append((prompt + reply, [-100] * len(prompt) + reply))
    width = max(len(ids) for ids, _ in rows)
    ids = torch.tensor([[tok.pad_token_id] * (width - len(x)) + x for x, _ in rows])
    labels = torch.tensor([[-100] * (width - len(y)) + y for _, y in rows])
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x, _ in rows])  # the pad id is also <|im_end|>
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask, labels=labels).loss.item()
    _, losses = style.train_style_lora(model, tok, questions, answers, steps=12, lr=1e-2)
    assert losses[0] == pytest.approx(expected, rel=1e-4)
    assert losses[-1] < losses[0]
    with pytest.raises(BadInputError):
        style.train_style_lora(tiny_llama(len(tok)), tok, questions[:3], answers[:3])
