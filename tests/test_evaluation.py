import math

import numpy as np
import pytest

from utils import evaluation as ev
from utils.errors import BadInputError
from utils.prices import Item

pytestmark = pytest.mark.unit

PARSE_CASES = [  # reply -> price the harness must read (None: no price)
    ("around $45", 45),
    ("45.99 USD", 45.99),
    ("$1,299.00", 1299),
    ("Price is $12", 12),
    ("  17", 17),
    ("I cannot say", None),
    ("no idea, sorry", None),
    ("", None),
    (None, None),
    (float("nan"), None),
    (19.5, 19.5),
    ("It costs about $30 to $40", 35),
    ("Item #3: $19", 19),
    ("Model 2000 bicycle, price $350", 350),
    ("Price is $-5", None),
    ("-5", None),
    (-3.0, None),
    ("The price is 19 dollars", 19),
    ("Rating: 4.5 stars. Price: 120", 120),
    ("It is 3 years old and costs about 80", 80),
    ("$20 for one, $35 for two", 20),
    ("between 100 and 150 dollars", 125),
    ("$1,234,567", 1234567),
    ("Price is $ 45", 45),
    ("45\n\nThis kettle is well made.", 45),
    ("I can't know, but maybe $60", 60),
    ("I'm not sure about the 2 pack", None),
    ("A 64 GB phone for $299.99", 299.99),
    ("USD 15", 15),
    ("$", None),
    ("Answer: 2,500", 2500),
    ("1.5 carat diamond: $5,000", 5000),
    ("SKU-123 costs 40", 40),
    # forms frontier models write (issue 25): thousands suffixes, European decimals, markdown, currency after
    ("$2k", 2000),
    ("About 1.5K dollars", 1500),
    ("1.299,99 €", 1299.99),
    ("299,99 $", 299.99),
    ("€1.299", 1299),
    ("**$45.00**", 45),
    ("Estimated price: ~$89", 89),
    ("$45 – $55", 50),
    ("45.00 $", 45),
    ("The answer is $1 299", 1299),
    ("I'd estimate $120.\n\nReasoning: similar kettles sell for $100-$140.", 120),
    ("A 4K TV like this sells for $300", 300),
    ("Price: $1,299.99 (USD)", 1299.99),
    ("$12.5 million", 12_500_000),
    ("It weighs 5 kg and costs 30", 30),
    ("Price: 12,50 EUR", 12.5),
    # a currency code beside thousands written with spaces: the whole number, not its first group
    ("USD 1 299", 1299.0),
    ("1 299 USD", 1299.0),
    ("£1 299", 1299.0),
    # another currency is still the reply's price; GBP is not gigabytes
    ("It is 45 GBP", 45.0),
    ("a 64GB phone, $300", 300.0),
    # a reasoning model's working holds other prices: the stated answer wins
    ("maybe $30 or $40. Answer: 35 GBP", 35.0),
    ("I think $40-$50... final answer: $45", 45.0),
    ("Final answer: $40 to $50", 45.0),
]


@pytest.mark.parametrize("reply, price", PARSE_CASES)
def test_parse_price_on_messy_replies(reply, price):
    assert ev.parse_price(reply) == (None if price is None else pytest.approx(price))


def test_grade_follows_the_course_colours():
    assert ev.grade(100, 130) == "hit"  # within $40
    assert ev.grade(1000, 1150) == "hit"  # within 20%
    assert ev.grade(100, 170) == "near"  # within $80
    assert ev.grade(1000, 1300) == "near"  # within 40%
    assert ev.grade(100, 300) == "miss"


def test_score_on_a_hand_checked_example():
    r = ev.score("toy", truths=[100, 200, 50, 80], guesses=[110, None, 50, 100])
    assert r.mae == pytest.approx((10 + 0 + 20) / 3)  # over the three replies with a price, not a $0 guess for None
    assert r.hit_rate == pytest.approx(3 / 4) and r.unparseable == 1 and r.answered == pytest.approx(3 / 4)
    expected = math.sqrt((math.log(111 / 101) ** 2 + 0 + math.log(101 / 81) ** 2) / 3)
    assert r.rmsle == pytest.approx(expected)
    assert r.mae_ci95[0] < r.mae < r.mae_ci95[1]
    assert list(r.table["grade"]) == ["hit", "unparseable", "hit", "hit"] and "priced 3 of 4" in r.summary()
    silent = ev.score("silent", truths=[100, 200], guesses=[None, None])
    assert math.isnan(silent.mae) and silent.hit_rate == 0 and "no reply gave a price" in silent.summary()
    with pytest.raises(BadInputError):
        ev.score("empty", [], [])


def items(prices):
    return [Item(f"item {i}", f"description {i}", p, "test") for i, p in enumerate(prices)]


def test_harness_on_a_constant_predictor():
    r = ev.evaluate(lambda it: 100.0, items([90, 100, 160]), "constant $100", progress=False)
    assert r.mae == pytest.approx(70 / 3) and r.n == 3 and r.unparseable == 0
    assert list(r.table["grade"]) == ["hit", "hit", "near"]


def test_harness_survives_predictors_that_fail_or_ramble():
    def flaky(it):
        if it.price > 150:
            raise RuntimeError("API down")
        return "I would say roughly $" + str(it.price)

    r = ev.evaluate(flaky, items([90, 100, 160]), "flaky", progress=False, workers=2)
    assert r.unparseable == 1 and r.table["parsed"].tolist() == [True, True, False] and "failures" in r.extra


def test_harness_stops_when_every_call_fails_the_same_fatal_way():
    from utils.errors import MissingKeyError

    calls = []

    def no_key(it):
        calls.append(it)
        raise MissingKeyError("openai rejected the key in OPENAI_API_KEY: check it is current.")

    with pytest.raises(MissingKeyError, match=r"no key stopped after 3 of 20 items, 0 answered: openai rejected"):
        ev.evaluate(no_key, items(range(10, 30)), "no key", progress=False)
    assert len(calls) == 3


def test_harness_stops_when_a_server_dies_halfway_but_not_for_ordinary_failures():
    from utils.errors import ServerUnreachableError

    def dies_after_five(it):
        if it.price >= 15:
            raise ServerUnreachableError("The local model server exited.")
        return it.price

    with pytest.raises(ServerUnreachableError, match="stopped after 8 of 20 items, 5 answered"):
        ev.evaluate(dies_after_five, items(range(10, 30)), "dies", progress=False)
    rambles = ev.evaluate(lambda it: 1 / 0, items(range(10, 30)), "always raises", progress=False)
    assert rambles.unparseable == 20 and len(rambles.extra["failures"]) == 20  # a bug of one's own: misses, scored


def test_the_error_interval_never_falls_below_zero_on_a_few_items():
    import numpy as np

    from utils.evaluation import mae_interval

    few = np.array([1.0, 2.0, 200.0, 3.0, 1.0])  # one wild miss among five: a normal interval would dip below $0
    assert few.mean() - 1.96 * few.std(ddof=1) / np.sqrt(len(few)) < 0
    lo, hi = mae_interval(few)
    assert few.min() <= lo < few.mean() < hi <= few.max()


def test_a_paired_comparison_tells_apart_what_separate_intervals_cannot():
    from utils.evaluation import paired_difference, score

    rng = np.random.default_rng(0)
    truths = rng.uniform(10, 900, 40)
    wild = truths + rng.choice([-1, 1], 40) * rng.uniform(0, 400, 40)  # errors that vary a lot from item to item
    better = truths + (wild - truths) * 0.8  # the same guesses, each 20% closer to the truth
    a, b = score("closer", truths, list(better)), score("wild", truths, list(wild))
    assert a.mae_ci95[1] > b.mae_ci95[0]  # separately, the two intervals overlap ...
    d = paired_difference(a, b)
    assert d["better"] and d["hi"] < 0 and d["n"] == 40  # ... item by item, a is lower on every item
    assert not paired_difference(b, a)["better"]
    with pytest.raises(BadInputError, match="not scored on the same items"):
        paired_difference(a, score("other", truths[:20], list(wild[:20])))


def test_the_paired_sentence_says_which_error_is_lower_and_when_it_cannot():
    from utils.evaluation import paired_sentence, score

    rng = np.random.default_rng(0)
    truths = rng.uniform(10, 900, 40)
    wild = truths + rng.choice([-1, 1], 40) * rng.uniform(0, 400, 40)
    better = truths + (wild - truths) * 0.8
    a, b = score("closer", truths, list(better)), score("wild", truths, list(wild))
    assert paired_sentence(a, b).endswith("over 40 items both priced: a lower error")
    assert paired_sentence(b, a).endswith("a higher error") and "wild minus closer" in paired_sentence(b, a)
    noise = truths + rng.choice([-1, 1], 40) * rng.uniform(0, 400, 40)  # as wild as `wild`, errors unrelated
    assert paired_sentence(score("other", truths, list(noise)), b).endswith("not told apart")
    none = score("silent", truths, [None] * 40)
    assert paired_sentence(none, b) == "silent and wild both priced 0 items: nothing to compare item by item"


@pytest.mark.unit
def test_a_report_on_its_first_items_scores_those_replies_alone():
    truths, guesses = [10.0, 200.0, 50.0, 80.0, 400.0], [12.0, None, 45.0, 2000.0, 300.0]
    whole = ev.score("m", truths, guesses, seconds=10.0, price_range=(0.5, 999.0))
    head = whole.first(4)
    alone = ev.score("m", truths[:4], guesses[:4], seconds=8.0, price_range=(0.5, 999.0))
    assert (head.n, head.unparseable, head.mae, head.mae_ci95, head.hit_rate, head.seconds) == (
        alone.n,
        alone.unparseable,
        alone.mae,
        alone.mae_ci95,
        alone.hit_rate,
        alone.seconds,
    )
    assert head.mae == pytest.approx((2 + 5 + 919) / 3)  # the runaway reply held to the range, as in the whole run
    columns = ["truth", "guess", "parsed", "error", "grade"]
    assert head.table[columns].equals(whole.table[columns].iloc[:4])  # item by item, the whole run's scores
    with pytest.raises(BadInputError, match="ask for 1 to 5"):
        whole.first(6)
