import pytest

from utils import tokens
from utils.errors import BadInputError, ContextTooLongError

pytestmark = pytest.mark.unit


def test_llama3_writes_every_number_below_1000_as_one_token():
    counts = tokens.number_token_counts(tokens.get_tokenizer("llama3"))
    assert len(counts) == 1000 and set(counts) == {1}
    assert tokens.get_tokenizer("llama3").count("1000") == 2


@pytest.mark.parametrize("name", ["qwen2.5/3", "smollm2"])
def test_per_digit_tokenizers(name):
    counts = tokens.number_token_counts(tokens.get_tokenizer(name), range(0, 1000, 7))
    assert counts == [len(str(n)) for n in range(0, 1000, 7)]


def test_unknown_tokenizer():
    with pytest.raises(BadInputError, match="llama3"):
        tokens.get_tokenizer("gpt-5")


def test_chat_template_and_fit_to_context():
    chat = [{"role": "system", "content": "Be brief."}]
    for i in range(30):
        chat += [{"role": "user", "content": f"question {i} " * 20}, {"role": "assistant", "content": "answer " * 20}]
    chat.append({"role": "user", "content": "last question"})
    assert "<|im_start|>assistant" in tokens.render_chat(chat[:2])
    kept = tokens.fit_to_context(chat, limit=300, reserve_for_answer=50)
    assert tokens.chat_tokens(kept) <= 250 and kept[0] == chat[0] and kept[-1] == chat[-1] and len(kept) < len(chat)
    with pytest.raises(ContextTooLongError):
        tokens.fit_to_context([{"role": "user", "content": "long " * 500}], limit=100)


def test_llama3_chat_format_uses_single_special_tokens():
    chat = [{"role": "user", "content": "Hi there"}]
    text = tokens.render_llama3_chat(chat)
    assert text.startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>")
    # begin + (header start, role, header end, blank line) x2 + content + eot: special tokens are one id each
    assert tokens.llama3_chat_tokens(chat) == 1 + 4 + 2 + 1 + 4
    assert tokens.get_tokenizer("llama3").count("<|eot_id|>") > 1  # as plain text it is several tokens
