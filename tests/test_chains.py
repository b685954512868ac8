"""Chains, tool use, answers scored by content, a document index that re-embeds only what changed, the decision."""

import json

import pytest

from utils import chains
from utils.client.llm import ChatResult, chat
from utils.errors import BadInputError
from utils.prices import Item
from utils.rag import DocumentIndex

ITEMS = [Item("kettle", "A steel kettle, 1.7 litre.", 30.0, "s"), Item("bike", "A cargo bike.", 2500.0, "s")]


class Store:
    """A stand-in vector store that returns the training items in order (the tool's plumbing, not retrieval)."""

    def __init__(self):
        self.queries = []

    def search(self, queries, k):
        self.queries += queries
        return [[1.0] * k], [list(range(k))]


@pytest.mark.unit
def test_tool_predictor_runs_valid_calls_and_counts_invalid_ones():
    store, replies = (
        Store(),
        iter(
            [
                ChatResult(
                    "",
                    "m",
                    80,
                    9,
                    0.1,
                    0.1,
                    None,
                    [{"id": "c1", "name": "similar_items", "arguments": json.dumps({"description": "steel kettle"})}],
                ),
                ChatResult("$29", "m", 120, 3, 0.1, 0.1, None),
                ChatResult(
                    "", "m", 80, 9, 0.1, 0.1, None, [{"id": "c2", "name": "similar_items", "arguments": "{broken"}]
                ),
            ]
        ),
    )
    sent = []

    def scripted(model, messages, **kw):
        sent.append((model, messages, kw))
        return next(replies)

    tools = chains.ToolPredictor(
        "local/smollm2-tools", store, ITEMS, k=2, answer_model="local/smollm2", chat_fn=scripted
    )
    assert tools(ITEMS[0]) == "$29" and tools(ITEMS[1]) == ""  # an invalid call is a miss, not a crash
    assert store.queries == ["steel kettle"]  # only the valid call was run, with the model's own query
    model, messages, kw = sent[1]
    assert model == "local/smollm2" and "tools" not in kw
    assert messages[-1] == {"role": "tool", "tool_call_id": "c1", "content": "kettle: $30.00\nbike: $2,500.00"}
    stats = tools.stats()
    assert stats["tool_called"] == 1.0 and stats["valid_calls"] == 0.5 and stats["calls"] == 1.5


@pytest.mark.unit
def test_a_tool_offered_in_the_prompt_is_read_from_the_reply_text():
    store, replies = (
        Store(),
        iter(
            [
                ChatResult(
                    'Let me check. {"name": "similar_items", "arguments": {"description": "kettle"}}',
                    "m",
                    90,
                    20,
                    0.1,
                    0.1,
                    None,
                ),
                ChatResult("$31", "m", 130, 3, 0.1, 0.1, None),
                ChatResult("About $45.", "m", 90, 4, 0.1, 0.1, None),
            ]
        ),
    )
    sent = []

    def scripted(model, messages, **kw):
        sent.append((messages, kw))
        return next(replies)

    free = chains.ToolPredictor("local/smollm2", store, ITEMS, k=2, in_prompt=True, chat_fn=scripted)
    assert free(ITEMS[0]) == "$31" and free(ITEMS[1]) == "About $45."
    assert sent[0][1]["tools"] is None and '"name": "similar_items"' in sent[0][0][0]["content"]
    assert sent[1][0][-1]["role"] == "user" and "kettle: $30.00" in sent[1][0][-1]["content"]  # the result, as text
    assert free.stats()["tool_called"] == 0.5 and free.stats()["valid_calls"] == 0.5 and store.queries == ["kettle"]


@pytest.mark.parametrize(
    "reply, call",
    [
        (
            '{"name": "similar_items", "arguments": {"description": "a kettle"}}',
            {"id": "in-text", "name": "similar_items", "arguments": '{"description": "a kettle"}'},
        ),
        ('{"name": "x", "arguments": "{}"}', {"id": "in-text", "name": "x", "arguments": "{}"}),
        ("$45", None),
        ("{not json}", None),
        ('{"price": 45}', None),
        ("[1, 2]", None),
    ],
)
@pytest.mark.unit
def test_call_in_text(reply, call):
    assert chains.call_in_text(reply) == call


@pytest.mark.parametrize(
    "arguments, expected",
    [
        ('{"description": " a kettle "}', "a kettle"),
        ('{"description": ""}', None),
        ('{"query": "x"}', None),
        ("not json", None),
        ('["a list"]', None),
    ],
)
@pytest.mark.unit
def test_parse_tool_arguments(arguments, expected):
    assert (
        chains.parse_tool_arguments({"name": "similar_items", "arguments": arguments}, "similar_items", "description")
        == expected
    )
    assert (
        chains.parse_tool_arguments({"name": "other", "arguments": arguments}, "similar_items", "description") is None
    )


@pytest.mark.unit
def test_a_reply_naming_two_options_of_its_kind_is_not_right():
    finishes = ["black", "matt black", "forest green", "green", "wood"]
    assert chains.answers_right("The finish is forest green paint.", ["forest green", "green"], finishes)
    assert not chains.answers_right("a finish of wood, and forest green paint", ["forest green", "green"], finishes)
    assert chains.answers_right("Matt black.", ["matt black"], finishes)  # 'black' is inside the answer, not another
    assert chains.answers_right("wood and green", ["wood"], [])  # questions without a kind have no options


@pytest.mark.unit
def test_contains_answer_needs_the_whole_value():
    assert chains.contains_answer("It was László Krasznahorkai.", ["Krasznahorkai"])
    assert chains.contains_answer("The frame is made of CARBON fibre", ["carbon"])
    assert not chains.contains_answer("carbonated water", ["carbon"])  # a word, not a substring
    assert not chains.contains_answer("Angela Merkel", ["Merz"])


@pytest.mark.server
def test_local_model_calls_a_tool_through_the_tools_api():
    reply = chat(
        "local/smollm2-tools",
        "Find products similar to a steel kettle.",
        max_tokens=32,
        tools=[chains.SIMILAR_ITEMS_TOOL],
    )
    assert reply.tool_calls, reply.text  # the function-calling format offers the tool, the grammar keeps it JSON
    assert reply.tool_calls[0]["name"] == "similar_items"
    with pytest.raises(BadInputError, match="Tools and streaming"):
        chat("local/smollm2-tools", "hi", tools=[chains.SIMILAR_ITEMS_TOOL], stream=True)


@pytest.mark.unit
def test_document_index_re_embeds_only_what_changed():
    index = DocumentIndex()
    docs = {"a.md": "Returns within 30 days.", "b.md": "Delivery to France costs 12 euros.", "c.md": "Our CEO is Ann."}
    assert index.update(docs)["added"] == ["a.md", "b.md", "c.md"] and index.embedded == 3
    report = index.update({**docs, "c.md": "Our CEO is Bo.", "d.md": "Phone support 9-5."} | {"a.md": docs["a.md"]})
    assert report == {"added": ["d.md"], "changed": ["c.md"], "removed": [], "unchanged": ["a.md", "b.md"]}
    assert index.embedded == 5
    assert index.update({"a.md": docs["a.md"]})["removed"] == ["b.md", "c.md", "d.md"]
    assert index.search("How long do I have to send it back?")[0][0] == "a.md"
    with pytest.raises(BadInputError):
        DocumentIndex().search("anything")


@pytest.mark.unit
def test_the_constant_guess_is_the_answer_right_most_often_per_kind():
    questions = [
        {"question": "a", "answers": ["carbon"], "kind": "material"},
        {"question": "b", "answers": ["carbon"], "kind": "material"},
        {"question": "c", "answers": ["steel"], "kind": "material"},
        {"question": "d", "answers": ["matt black", "black"], "kind": "finish"},
    ]
    assert chains.best_constant_guess(questions) == {"finish": ("matt black", 1), "material": ("carbon", 2)}


@pytest.mark.unit
def test_words_the_source_does_not_contain_are_listed_once_without_stop_words():
    source = "Wii MARIO KART & WHEEL ~ NINTENDO Wii ~ BRAND NEW"
    facts = "The Wii Mario Kart wheel is a new limited edition Nintendo 3DS game, a limited edition sold on eBay."
    assert chains.words_not_in(facts, source) == ["limited", "edition", "3ds", "game", "sold", "ebay"]
    assert chains.words_not_in("Mario Kart, new.", source) == []
