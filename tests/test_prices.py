import math

import pytest

from utils import prices
from utils.errors import BadInputError

GOOD = "A perfectly ordinary product with a description."


def test_curation_drops_malformed_rows_and_says_why():
    rows = [
        {"title": "ok", "text": GOOD, "price": 10, "source": "a"},
        {"title": "string price", "text": GOOD, "price": "$1,299.00", "source": "a"},
        {"title": "none", "text": GOOD, "price": None, "source": "a"},
        {"title": "None string", "text": GOOD, "price": "None", "source": "a"},
        {"title": "nan", "text": GOOD, "price": math.nan, "source": "a"},
        {"title": "too cheap", "text": GOOD, "price": 0.1, "source": "a"},
        {"title": "too dear", "text": GOOD, "price": 5000, "source": "a"},
        {"title": "no text", "text": "  ", "price": 10, "source": "a"},
        "not even a dict",
    ]
    items, dropped = prices.curate(rows, price_range=(0.5, 2000))
    assert [i.title for i in items] == ["ok", "string price"] and items[1].price == 1299
    assert dropped == {"no price": 3, "price out of range": 2, "too little text": 1, "not a record": 1}


def test_clean_text():
    text = prices.clean_text("~~ Wii MARIO &amp; KART ~~ <b>new</b> part B07XJ8C8F5   here\n\n ok")
    assert text == "Wii MARIO & KART new part here\nok"


def test_balance_and_split_are_deterministic():
    items = [
        prices.Item(f"t{i}", f"text {i}", float(p), s)
        for i, (p, s) in enumerate([(p, s) for p in range(1, 400, 3) for s in ("a", "b")])
    ]
    b1, b2 = prices.balance(items, per_bin=10, seed=1), prices.balance(items, per_bin=10, seed=1)
    assert b1 == b2 and len(b1) <= 100 and {i.source for i in b1} == {"a", "b"}
    tr, va, te = prices.split(b1, n_test=10, n_val=5, n_train=1000, seed=3)
    assert len(te) == 10 and len(va) == 5 and not set(map(id, tr)) & set(map(id, te))
    assert prices.split(b1, 10, 5, 1000, seed=3)[2] == te
    with pytest.raises(BadInputError):
        prices.split(b1[:5], n_test=10, n_val=5, n_train=10)


def test_prompt_and_completion():
    item = prices.Item("t", "A red kettle.", 24.6, "a")
    assert item.prompt().endswith("A red kettle.\n\nPrice is $") and item.completion() == "25.00"


def test_offline_data_is_real_and_cached(tmp_path, monkeypatch):
    from utils import profile as prof

    monkeypatch.setattr(prices, "cache_dir", lambda *p: tmp_path)
    p = prof.Profile("offline", "test", ["local/smollm2"], "x", dict(prof.SIZES["offline"], price_test_items=20))
    data = prices.load_price_data(p, max_tokens=60)
    again = prices.load_price_data(p, max_tokens=60)
    assert len(data.test) == 20 and data.test == again.test and len(list(tmp_path.iterdir())) == 1
    assert len(data.report["sources"]) >= 4 and all(0.5 <= i.price <= 999 for i in data.train)
