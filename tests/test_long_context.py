"""Week 4's needle in a haystack: the needle lands where it is asked to, lengths respect the window, and a cell is
found only when the reply holds that cell's code."""

import pytest
from transformers import AutoTokenizer

from utils import long_context, tokens
from utils.assets import smollm2_folder
from utils.client.llm import ChatResult
from utils.errors import BadInputError
from utils.tokens import get_tokenizer

pytestmark = pytest.mark.unit

NEEDLE = "The secret code for the lighthouse is 1234."


@pytest.fixture(scope="module")
def filler():
    tok = AutoTokenizer.from_pretrained(smollm2_folder())
    text = " ".join(f"Sentence number {i} says nothing much." for i in range(400))
    return tok, tok(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("depth", [0.0, 0.25, 0.5, 1.0])
def test_the_needle_is_placed_at_its_depth_on_a_sentence_boundary(filler, depth):
    tok, ids = filler
    text = long_context.haystack(ids, tok, 1024, depth, NEEDLE)
    where = text.index(NEEDLE) / len(text)
    assert abs(where - depth) < 0.05 and (depth == 0 or text[: text.index(NEEDLE)].endswith(". "))
    assert text.replace(NEEDLE + " ", "") == tok.decode(ids[:1024])  # nothing else changed


def test_lengths_stay_inside_the_profile_and_the_window():
    assert long_context.haystack_lengths("local/smollm2", 1024) == [256, 512, 1024]
    assert long_context.haystack_lengths("local/smollm2", 131_072)[-1] == 2048  # 8,192 leaves no room
    assert long_context.haystack_lengths("openai/gpt-5-mini", 131_072)[-1] == 131_072  # a 400k window
    with pytest.raises(BadInputError, match="fewer than"):
        long_context.haystack([1, 2, 3], None, 10, 0.5, NEEDLE)


def test_a_cell_is_found_only_when_the_reply_holds_its_own_code(filler, monkeypatch):
    """A model that reads only the first third of its context: the grid finds the needles there, misses the rest."""
    tok, ids = filler

    def first_half_reader(model, prompt, **kwargs):
        context = prompt.split("\n", 1)[1]
        seen = context[: len(context) // 3]
        code = seen.split("lighthouse is ")[1][:4] if "lighthouse is " in seen else "none"
        return ChatResult(f"It is {code}.", model, 10, 3, 0.01 * len(prompt) / 1000, 0.02, 0.0)

    monkeypatch.setattr(long_context, "chat", first_half_reader)
    grid = long_context.needle_grid("local/smollm2", ids, tok, [256, 1024], [0.0, 0.5, 1.0], progress=False)
    assert list(grid["found"]) == [True, False, False, True, False, False]  # found at 0% only
    assert grid.loc[grid["tokens"] == 1024, "ttft_s"].min() > grid.loc[grid["tokens"] == 256, "ttft_s"].max()


def test_the_full_profiles_longest_haystack_is_distinct_text():
    """131,072 Llama 3 tokens of real text in which no paragraph repeats: the needle is never the only new sentence."""
    llama3 = get_tokenizer("llama3")
    ids = long_context.filler_ids(llama3, 131_072)
    paragraphs = [p for p in llama3.decode(ids[:131_072]).split("\n") if len(p) > 80]
    assert len(ids) >= 131_072 and len(paragraphs) > 300 and len(set(paragraphs)) == len(paragraphs)
    with pytest.raises(BadInputError, match="fewer than"):
        long_context.filler_ids(llama3, 10**8)


@pytest.mark.parametrize(
    "model, tokenizer, own",
    [
        ("local/smollm2", "smollm2", True),
        ("openai/gpt-5-mini", "gpt-4o (o200k)", True),
        ("openai/gpt-4-turbo", "gpt-4 (cl100k)", True),
        ("groq/llama-3.1-8b-instant", "llama3", True),
        ("openrouter/qwen/qwen3-32b", "qwen2.5/3", True),
        ("openrouter/openai/o4-mini", "gpt-4o (o200k)", True),
        ("groq/meta-llama/llama-4-scout-17b-16e-instruct", "gpt-4o (o200k)", False),  # not Llama 3's vocabulary
        ("anthropic/claude-sonnet-4-5", "gpt-4o (o200k)", False),  # no tokenizer of its own here: an estimate
    ],
)
def test_lengths_are_counted_with_the_asked_models_tokenizer_where_the_kit_has_it(model, tokenizer, own):
    counter, exact = tokens.tokenizer_for(model)
    assert (counter.name, exact) == (tokenizer, own)


def test_each_cell_records_its_prompts_length_the_servers_count_first(filler, monkeypatch):
    """The time-to-first-token plot reads the prompt's own length: the server's count, else the prompt text counted."""
    tok, ids = filler
    reported = iter([None, 777])

    def server(model, prompt, **kwargs):
        return ChatResult("It is 0000.", model, next(reported), 3, 0.1, 0.2, 0.0)

    monkeypatch.setattr(long_context, "chat", server)
    grid = long_context.needle_grid("local/smollm2", ids, tok, [256], [0.0, 1.0], progress=False)
    assert grid["prompt_tokens"].iloc[1] == 777 and 256 < grid["prompt_tokens"].iloc[0] < 300
