"""The code each lesson writes in its cells, run beside the hardened version in utils/ on the same inputs, so the two
cannot drift apart: a notebook that changes its formula (or a utils change the lesson no longer shows) fails here.

`taught(notebook)` reads a notebook's functions as its cells define them: every top-level import and `def` of its
code cells, executed in a fresh namespace (no other statement runs, so no model loads and nothing is called)."""

import ast
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parent.parent


def taught(notebook: str) -> SimpleNamespace:
    """The imports and functions a notebook's cells define, as a namespace (its globals are the namespace's dict)."""
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    body = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = TransformerManager().transform_cell("".join(cell["source"]))  # `!cmd` and `%magic` as Python
        tree = ast.parse(source)
        body += [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef))]
    names: dict = {}
    exec(compile(ast.Module(body=body, type_ignores=[]), notebook, "exec"), names)
    found = SimpleNamespace(**{k: v for k, v in names.items() if not k.startswith("__")})
    found.globals = names
    return found


@pytest.mark.unit
def test_taught_reads_a_cells_function_and_nothing_else(tmp_path, write_notebook):
    """The reader itself: a def and its imports come through; a statement that would run a model does not run."""
    write_notebook(tmp_path / "n.ipynb", "import math\nraise SystemExit('ran')", "def f(x):\n    return math.sqrt(x)")
    found = taught(str(tmp_path / "n.ipynb"))
    assert found.f(9) == 3


@pytest.mark.unit
def test_week6_cross_entropy_by_hand_is_the_loss_transformers_trains_on(tiny_llama):
    """The notebook's own function, on a model's logits; and on uniform logits its perplexity is the vocabulary."""
    from utils import metrics

    cell = taught("week6/01_metrics.ipynb")
    model = tiny_llama(97).eval()
    ids = torch.randint(0, 97, (2, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(ids, labels=ids)
    assert cell.cross_entropy(out.logits, ids).item() == pytest.approx(out.loss.item(), abs=1e-4)
    assert cell.perplexity(cell.cross_entropy(torch.zeros(1, 20, 97), ids[:1]).item()) == pytest.approx(97)
    assert cell.perplexity(2.5) == pytest.approx(metrics.perplexity(2.5))


@pytest.mark.unit
def test_week4_request_cost_matches_the_kits_billing():
    from utils.client.costs import request_cost

    cell = taught("week4/01_basics_and_costs.ipynb")
    for case in [(800, 200, 0.25, 2.0), (3_000, 200, 1.0, 5.0, 2_560, 0.1), (10, 0, 3.0, 15.0, 0, None)]:
        assert cell.request_cost(*case) == pytest.approx(request_cost(*case), rel=1e-12)


@pytest.mark.unit
def test_week4_router_matches_the_moe_layer():
    from utils.moe import MoELayer

    cell = taught("week4/02_context_leaderboards_and_tokenizers.ipynb")
    torch.manual_seed(3)
    layer, x = MoELayer(d_model=16, d_ff=32, n_experts=8, top_k=2), torch.randn(50, 16)
    library = layer.route(x)
    experts, weights, share, balance_loss = cell.route(layer.router, x, top_k=2)
    assert torch.equal(experts, library.experts) and torch.allclose(weights, library.weights)
    assert torch.allclose(share, library.share_per_expert()) and balance_loss.item() == pytest.approx(
        library.balance_loss.item()
    )


WEEK5 = "week5/01_python_to_cpp.ipynb"
HELLO = '#include <cstdio>\nint main() { std::printf("42\\n"); }\n'


@pytest.mark.sandbox
def test_week5_verify_gives_what_check_cpp_gives():
    from utils import codegen as cg

    cell = taught(WEEK5)
    cases = [HELLO, HELLO.replace("42", "41"), "int main() { return oops; }", "int main() { int *p = 0; return *p; }"]
    for code in cases:
        ours, kit = cell.verify(code, "42\n"), cg.check_cpp(code, "42\n")
        assert ours[:3] == kit[:3], code  # compiled, correct, and the same problem sentence
        assert (ours[3] is None) == (kit[3] is None)


@pytest.mark.sandbox
def test_week5_translate_sends_and_records_what_convert_does():
    """The same scripted replies (a test double, not a model) through the cell's loop and the kit's: the same turns
    sent, the same rounds recorded."""
    from utils import codegen as cg

    cell = taught(WEEK5)
    replies = ["no code, sorry", "```cpp\nint main() { return oops; }\n```", f"```cpp\n{HELLO}```"]
    ref = cg.python_reference("p", "print(42)\n", runs=0)

    def run(translate_with):
        sent, answers = [], iter(replies)

        def scripted(model, messages, **kw):
            sent.append([dict(m) for m in messages])
            return SimpleNamespace(text=next(answers), input_tokens=10, output_tokens=5, cost_usd=0.0, latency_s=0.1)

        return translate_with(scripted), sent

    def ours(scripted):
        cell.globals["chat"] = scripted  # the cell's loop calls the name `chat`: here, the double
        return cell.translate("test/double", ref, rounds=3, max_tokens=600)

    mine, mine_sent = run(ours)
    kits, kits_sent = run(lambda scripted: cg.convert("test/double", ref, rounds=3, chat_fn=scripted, max_tokens=600))
    fields = [(a.round, a.compiled, a.correct, a.problem, a.tokens) for a in mine.attempts]
    assert fields == [(a.round, a.compiled, a.correct, a.problem, a.tokens) for a in kits.attempts]
    assert mine_sent == kits_sent and mine.correct and mine.binary is not None


def _items(n: int) -> list:
    from utils.prices import Item

    return [
        Item(f"thing {i}", f"A thing number {i}, " + "very " * (i % 7) + "useful.", 10.0 + i, "s") for i in range(n)
    ]


@pytest.mark.unit
def test_week6_few_shot_builds_the_prompt_the_kit_builds():
    from utils import prompting
    from utils.tokens import chat_tokens

    cell = taught("week6/02_strategies.ipynb")
    item, examples = _items(1)[0], _items(12)
    full = prompting.few_shot_messages(item, examples)
    assert cell.few_shot(item, examples) == full
    for limit in (chat_tokens(full), chat_tokens(full) - 1, 60):  # fits; one token over; only a few examples fit
        assert cell.few_shot(item, examples, limit) == prompting.few_shot_messages(item, examples, limit, chat_tokens)


@pytest.mark.unit
def test_week6_rag_prompt_retrieves_as_the_kit_does():
    from utils import prompting

    class Store:  # a stand-in for the vector store: the nearest items are 5, 2, 7 (the plumbing, not retrieval)
        def search(self, queries, k):
            return [[0.9, 0.8, 0.7][:k]], [[5, 2, 7][:k]]

    cell, train = taught("week6/02_strategies.ipynb"), _items(10)
    cell.globals.update(store=Store(), data=SimpleNamespace(train=train))
    item = _items(1)[0]  # the nearest item goes last, right before the question
    assert cell.rag_prompt(item, k=3) == prompting.few_shot_messages(item, [train[7], train[2], train[5]])


WEEK6_03 = "week6/03_chains_tools_and_knowledge.ipynb"


def _recording(replies):
    """A test double with chat's signature (not a model): it returns the scripted replies and keeps what it was sent."""
    sent, answers = [], iter(replies)

    def scripted(model, messages, **kw):
        sent.append((model, [dict(m) for m in messages], {k: v for k, v in kw.items() if k in ("max_tokens", "tools")}))
        return next(answers)

    return scripted, sent


@pytest.mark.unit
def test_week6_chain_feeds_the_facts_forward_and_counts_both_calls():
    """The chain week 6/03 writes: the facts prompt, then the price prompt on the facts alone (the title when the
    first call gave none); its predictor counts both calls' tokens, seconds and dollars, priced from the catalogue."""
    from utils import chains
    from utils.client.costs import cost_usd
    from utils.client.llm import ChatResult
    from utils.prompting import RecordedPredictor

    cell, item, model = taught(WEEK6_03), _items(1)[0], "openai/gpt-4o-mini"
    for facts in ("maker: Kestrel; 1.7 litre", ""):  # facts, or none (the title goes on instead)
        replies = [ChatResult(facts, model, 50, 5, 0.1, 0.1, None), ChatResult("$31", model, 20, 2, 0.3, 0.3, None)]
        cell.globals["chat"], sent = _recording(replies)
        recorded = RecordedPredictor(model, lambda i: cell.chain(i, model))
        assert recorded(item) == "$31" and [c.text for c in recorded.log[0][1]] == [facts, "$31"]
        assert sent == [
            (
                model,
                [{"role": "system", "content": chains.FACTS_PROMPT}, {"role": "user", "content": item.text}],
                {"max_tokens": 60},
            ),
            (
                model,
                [
                    {"role": "system", "content": chains.PRICE_FROM_FACTS},
                    {"role": "user", "content": facts or item.title},
                ],
                {"max_tokens": 10},
            ),
        ]
        stats = recorded.stats()
        assert stats["calls"] == 2 and stats["input_tokens"] == 70 and stats["latency_s"] == pytest.approx(0.4)
        assert stats["cost_per_1k"] == pytest.approx((cost_usd(model, 50, 5) + cost_usd(model, 20, 2)) * 1000)


@pytest.mark.unit
def test_week6_tool_loop_sends_what_the_tool_predictor_sends():
    import json

    from utils import chains
    from utils.client.llm import ChatResult

    class Store:  # a stand-in for the vector store (the plumbing, not retrieval)
        def search(self, queries, k):
            return [[1.0] * k], [[2, 0, 1][:k]]

    cell, train, item = taught(WEEK6_03), _items(3), _items(1)[0]
    cell.globals.update(store=Store(), data=SimpleNamespace(train=train))
    valid = [{"id": "c1", "name": "similar_items", "arguments": json.dumps({"description": "a kettle"})}]
    broken = [{"id": "c2", "name": "similar_items", "arguments": "{broken"}]
    scripts = {
        "a valid call, then the answer": [
            ChatResult("", "m", 80, 9, 0.1, 0.1, None, valid),
            ChatResult("$29", "m", 120, 3, 0.1, 0.1, None),
        ],
        "an answer without the tool": [ChatResult("$40", "m", 80, 3, 0.1, 0.1, None)],
        "a call that does not parse": [ChatResult("", "m", 80, 9, 0.1, 0.1, None, broken)],
    }
    for name, replies in scripts.items():
        cell.globals["chat"], ours = _recording(replies)
        answer, _ = cell.ask_with_tool(item, "local/tools", "local/plain")
        kits_chat, kits = _recording(replies)
        predictor = chains.ToolPredictor("local/tools", Store(), train, answer_model="local/plain", chat_fn=kits_chat)
        assert answer == predictor(item), name
        assert ours == kits, name


WEEK7 = "week7/01_fine_tuning.ipynb"


@pytest.mark.unit
def test_week7_encode_masks_the_prompt_as_build_dataset_does():
    from utils import training as ft
    from utils.tokens import smollm2_tokenizer

    tok = smollm2_tokenizer()  # SmolLM2's real tokenizer, as week 7 trains with offline
    cell, items = taught(WEEK7), _items(8)
    kits = ft.build_dataset(tok, items, max_length=256)
    assert [cell.encode(tok, i.prompt(), i.completion()) for i in items] == kits


@pytest.mark.unit
def test_week7_lora_parameter_count_is_what_peft_trains(tiny_llama):
    from peft import LoraConfig, get_peft_model

    cell, targets = taught(WEEK7), ("q_proj", "v_proj")
    model = tiny_llama(97)
    expected = cell.lora_parameters(model, 4, targets)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=list(targets), task_type="CAUSAL_LM"))
    assert expected == sum(p.numel() for p in peft_model.parameters() if p.requires_grad) > 0


@pytest.mark.unit
def test_a_check_prints_its_sentence_or_stops_the_run_naming_it(monkeypatch, capsys):
    from utils.checks import check

    monkeypatch.delenv("LLMKIT_REHEARSAL", raising=False)
    check(True, "the loss fell")
    assert capsys.readouterr().out == "✓ the loss fell\n"
    with pytest.raises(AssertionError, match="does not support the claim: the loss fell"):
        check(False, "the loss fell")
    with pytest.raises(AssertionError):
        check(False, "the loss fell", about_model_quality=True)  # asserted outside the rehearsal
    monkeypatch.setenv("LLMKIT_REHEARSAL", "1")
    check(False, "the loss fell", about_model_quality=True)
    assert "not checked in the rehearsal (its stand-in models have random weights): the loss fell" in (
        capsys.readouterr().out
    )
    with pytest.raises(AssertionError):
        check(False, "the table has its rows")  # a claim about the code, not a model: checked in the rehearsal too


@pytest.mark.unit
def test_under_make_claims_each_check_is_logged_and_a_quality_failure_is_counted_not_raised(
    monkeypatch, tmp_path, capsys
):
    from utils.checks import check

    log = tmp_path / "claims.jsonl"
    monkeypatch.delenv("LLMKIT_REHEARSAL", raising=False)
    monkeypatch.setenv("LLMKIT_CLAIMS_LOG", str(log))
    check(True, "the table has its rows")
    check(False, "the loss fell", about_model_quality=True)  # counted; the run goes on to the next claims
    assert "✗ this run did not show it: the loss fell" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        check(False, "the adapter reloaded")  # a claim about the kit still stops the run
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["sentence"], r["quality"], r["held"]) for r in rows] == [
        ("the table has its rows", False, True),
        ("the loss fell", True, False),
        ("the adapter reloaded", False, False),
    ]
