import dataclasses
import json
import math
from pathlib import Path

import pytest

from utils import prices
from utils.errors import BadInputError

pytestmark = pytest.mark.unit

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
    tr, va, te = prices.split_train_val_test(b1, n_train=1000, n_val=5, n_test=10, seed=3)
    assert len(te) == 10 and len(va) == 5 and not set(map(id, tr)) & set(map(id, te))
    assert prices.split_train_val_test(b1, 1000, 5, 10, seed=3)[2] == te
    with pytest.raises(BadInputError):
        prices.split_train_val_test(b1[:5], n_train=10, n_val=5, n_test=10)


def test_prompt_and_completion():
    item = prices.Item("t", "A red kettle.", 24.6, "a")
    assert item.prompt().endswith("A red kettle.\n\nPrice is $") and item.completion() == "25.00"


def test_offline_data_is_real_and_cached(tmp_path, monkeypatch):
    from utils import profile as prof

    monkeypatch.setattr(prices, "cache_dir", lambda *p: tmp_path)
    p = prof.Profile(
        "offline", "test", ["local/smollm2"], "x", dataclasses.replace(prof.SIZES["offline"], price_test_items=20)
    )
    data = prices.load_price_data(p, max_tokens=60)
    again = prices.load_price_data(p, max_tokens=60)
    assert len(data.test) == 20 and data.test == again.test and len(list(tmp_path.iterdir())) == 1
    assert len(data.report["sources"]) >= 4 and all(0.5 <= i.price <= 999 for i in data.train)
    by_source = data.report["by_source"]  # where the items went, source by source
    assert all(s["read"] >= s["curated"] >= s["balanced"] for s in by_source.values())
    assert sum(s["balanced"] for s in by_source.values()) == data.report["balanced"]
    assert sum(s["curated"] for s in by_source.values()) == data.report["kept"]
    assert by_source["cars"]["read"] > 0 and by_source["cars"]["curated"] == 0  # their prices are over $999


def test_the_balance_report_counts_the_price_ranges_that_held_too_few():
    cheap = [prices.Item(f"c{i}", "a cheap thing, described", 1.0 + i / 100, "a") for i in range(30)]
    dear = [prices.Item(f"d{i}", "a dear thing, described", 900.0 + i, "b") for i in range(3)]
    items = cheap + dear
    rows = [{"source": "a"}] * 40 + [{"source": "b"}] * 3
    balanced = prices.balance(items, per_bin=10)
    report = prices.balance_report(rows, items, balanced, per_bin=10)
    assert report["by_source"] == {
        "a": {"read": 40, "curated": 30, "balanced": 10},
        "b": {"read": 3, "curated": 3, "balanced": 3},
    }
    assert report["bins_short"] == 9  # only the cheapest of the ten ranges held 10 items or more


AMAZON = Path(__file__).parent / "fixtures" / "amazon"


def test_amazon_rows_in_the_real_schema():
    raw = [json.loads(line) for line in (AMAZON / "meta_Appliances.jsonl").read_text().splitlines()]
    kinds = {type(r.get("price")).__name__ if "price" in r else "missing" for r in raw}
    assert {"float", "str", "NoneType", "missing"} <= kinds and "None" in [r.get("price") for r in raw]
    row = prices.amazon_row(raw[0], "Appliances")
    assert row["title"].startswith("Stainless Steel Electric Kettle") and row["text"].startswith(row["title"])
    assert "Brand: Kettlex" in row["text"] and "Auto shut-off" in row["text"] and "A dependable" in row["text"]
    assert row["price"] == raw[0]["price"] == 65.34 and row["source"] == "Appliances"
    assert "Best Sellers Rank" not in row["text"] and "Date First Available" not in row["text"]


def test_amazon_data_from_a_folder_is_curated_split_and_cut(tmp_path, monkeypatch):
    from utils import profile as prof
    from utils.tokens import get_tokenizer

    monkeypatch.setenv("LLMKIT_AMAZON_DIR", str(AMAZON))
    monkeypatch.setattr(prices, "cache_dir", lambda *p: tmp_path)
    sizes = dataclasses.replace(prof.SIZES["full"], price_train_items=30, price_test_items=10)
    full = prof.Profile("full", "test", [], "x", sizes)
    data = prices.load_price_data(full, max_tokens=40)
    report = data.report
    raw = [json.loads(x) for f in sorted(AMAZON.glob("*.jsonl")) for x in f.read_text().splitlines()]
    parsed = [prices.parse_row_price(r.get("price")) for r in raw]
    assert report["rows"] == len(raw) == 72 and report["dropped"]["no price"] == parsed.count(None) == 24
    assert report["dropped"]["price out of range"] == sum(p is not None and not 0.5 <= p <= 999 for p in parsed) > 0
    assert set(report["sources"]) == set(prices.AMAZON_CATEGORIES)
    assert len(data.test) == 10 and len(data.val) == 10 and 0 < len(data.train) <= 30
    everything = data.train + data.val + data.test
    assert len({id(i) for i in everything}) == len(everything) and not {i.text for i in data.test} & {
        i.text for i in data.train
    }
    assert all(0.5 <= i.price <= 999 for i in everything)
    llama3 = get_tokenizer("llama3")
    assert max(llama3.count(i.text) for i in everything) <= 42  # cut at 40 Llama 3 tokens (a re-encode may merge 2)


def test_a_missing_amazon_file_says_what_to_download(tmp_path):
    with pytest.raises(BadInputError, match="meta_Appliances.jsonl.*McAuley-Lab"):
        prices.amazon_raw_items(["Appliances"], folder=tmp_path)
