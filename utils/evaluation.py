"""Weeks 6-7: one evaluation harness for every price predictor: parse a reply, score the guesses, run a predictor."""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .errors import FATAL_ERRORS, BadInputError
from .paths import cache_dir

HIT_DOLLARS, HIT_FRACTION = 40.0, 0.20  # the course's green: within $40 or 20%
NEAR_DOLLARS, NEAR_FRACTION = 80.0, 0.40  # orange: within $80 or 40%; red beyond
COLOURS = {"hit": "green", "near": "orange", "miss": "red"}
GRADE_RULES = {  # what each colour means, for legends
    "hit": f"within ${HIT_DOLLARS:.0f} or {HIT_FRACTION:.0%}",
    "near": f"within ${NEAR_DOLLARS:.0f} or {NEAR_FRACTION:.0%}",
    "miss": "further off",
}

# Numbers as replies write them: 1.299,99 (European), 1,299.00, $1 299 and USD 1 299 (space-grouped, beside a
# currency sign or code), 299,99 (a decimal comma), 45 and 45.99.
_CURRENCY_BEFORE = "".join(f"|(?<={re.escape(c)})" for c in ("$", "$ ", "€", "€ ", "£", "£ ", "USD ", "EUR ", "GBP "))[
    1:
]
_SPACED = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+"
_NUMBER = re.compile(
    r"(\d{1,3}(?:\.\d{3})+,\d{1,2}(?!\d)|\d{1,3}(?:,\d{3})+(?:\.\d+)?"
    rf"|(?:{_CURRENCY_BEFORE}){_SPACED}(?![\d.,])|{_SPACED}(?=\s?(?:USD|EUR|GBP|€|£|\$|dollars?)(?!\w))"
    r"|\d+,\d{2}(?!\d)|\d+(?:\.\d+)?)"
)
_MONEY_BEFORE = re.compile(r"(?:\$|US\$|USD|€|EUR|£|GBP|dollars?:?)\s*(-?)\s*$", re.I)
_MONEY_AFTER = re.compile(r"^\s*(?:USD|EUR|GBP|€|£|\$|dollars?|bucks)(?!\w)", re.I)
# where a reply states its answer after working (a reasoning model's text can hold several prices first)
_FINAL = re.compile(r"(?:final answer|answer|estimated price|my estimate|so the price)\s*(?:is|:|=|would be)", re.I)
_MULTIPLIER = [
    (re.compile(r"^\s?(?:[kK]|[Tt]housand)\b"), 1e3),
    (re.compile(r"^\s?(?:M|mn|[Mm]illion)\b"), 1e6),
    (re.compile(r"^\s?(?:bn|[Bb]illion)\b"), 1e9),
]  # "5 m" stays 5 metres: only a capital M is millions


def _number_value(text: str, euro: bool) -> float:
    """A matched number's value: decimal commas and dot, comma or space thousands read as written."""
    if "." in text and "," in text and text.index(".") < text.index(","):  # 1.299,99
        return float(text.replace(".", "").replace(",", "."))
    if re.fullmatch(r"\d+,\d{2}", text):  # 299,99
        return float(text.replace(",", "."))
    if euro and re.fullmatch(r"\d{1,3}(?:\.\d{3})+", text):  # €1.299
        return float(text.replace(".", ""))
    return float(re.sub(r"[,\s\u00a0\u202f]", "", text))


_NOT_A_PRICE_BEFORE = re.compile(r"(?:#|\bno\.?|\bmodel|\bitem|\bnumber|\bversion|\bstep|\bsize|\bv)\s*$", re.I)
_UNIT_AFTER = re.compile(
    r"^\s*(?:%|x\b|\"|stars?|out of|years?|months?|days?|hours?|pack|pieces?|pcs|items?|units?|ct\b|count|[gtm]b(?!\w)|"
    r"ghz|mhz|inch|inches|in\b|mm|cm|m\b|kg|g\b|lbs?|oz|mph|w\b|v\b|mah|carat|cylinders?|doors?|miles?|pages?)",
    re.I,
)
_RANGE_GAP = re.compile(r"^\s*(?:-|–|to|and)\s*(?:\$\s*)?$", re.I)
_REFUSAL = re.compile(r"\b(cannot|can't|unable|don't know|not sure|no idea|unknown|impossible to)\b", re.I)


def _candidates(text: str) -> list[dict[str, Any]]:
    """Every number in a reply, with whether it is marked as money, negative, or looks like something else."""
    out = []
    for m in _NUMBER.finditer(text):
        prev, prev2 = text[m.start() - 1 : m.start()], text[max(0, m.start() - 2) : max(0, m.start() - 1)]
        if prev.isalnum() or (prev and prev in "._") or (prev == "-" and prev2.isalnum()):
            continue  # part of a word or of a code (SKU-123, v2.5)
        before, after = text[max(0, m.start() - 12) : m.start()], text[m.end() : m.end() + 12]
        marked = _MONEY_BEFORE.search(before)
        negative = bool(marked and marked.group(1)) or (prev == "-" and not before[:-1].rstrip()[-1:].isdigit())
        euro = "€" in before[-2:] or "€" in after[:2] or "EUR" in after[:5]
        value = _number_value(m.group(1), euro)
        for pattern, factor in _MULTIPLIER:
            if pattern.match(after):
                value *= factor
                break
        out.append(
            {
                "value": value,
                "start": m.start(),
                "end": m.end(),
                "money": bool(marked) or bool(_MONEY_AFTER.match(after)),
                "negative": negative,
                "other": bool(_NOT_A_PRICE_BEFORE.search(before) or _UNIT_AFTER.match(after)),
            }
        )
    return out


def parse_price(reply: Any) -> float | None:
    """The price in a reply: after its last stated answer ("final answer: ...") when it has one, a number marked as
    money ($45, 45 USD, £45, 45 dollars) first, else the first bare number that is not a rating, count or model
    number; a range gives its middle. None for refusals, negative prices and replies without a price."""
    if reply is None or isinstance(reply, bool):
        return None
    if isinstance(reply, (int, float)):
        return float(reply) if math.isfinite(reply) and reply >= 0 else None
    text = str(reply)
    cands = _candidates(text)
    stated = [m.end() for m in _FINAL.finditer(text)]
    if stated and any(c["start"] >= stated[-1] for c in cands):  # the answer stated after the working
        cands = [c for c in cands if c["start"] >= stated[-1]]
    money = [c for c in cands if c["money"]]
    if money:
        pick = money[0]
    else:
        if _REFUSAL.search(text):
            return None
        bare = [c for c in cands if not c["other"]]
        if not bare:
            return None
        pick = bare[0]
    if pick["negative"]:
        return None
    i = cands.index(pick)
    for a, b in ((i - 1, i), (i, i + 1)):  # "$30 to $40", "30-40 dollars", "between 30 and 40 dollars": the middle
        if 0 <= a and b < len(cands) and _RANGE_GAP.match(text[cands[a]["end"] : cands[b]["start"]]):
            if not cands[a]["other"] and not cands[b]["other"]:
                return (cands[a]["value"] + cands[b]["value"]) / 2
    return pick["value"]


def mae_interval(errors: np.ndarray, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """The mean error's 95% interval, bootstrapped (the 2.5th and 97.5th percentiles of the mean over resamples of the
    items): it stays inside the errors' own range, never below $0 as a normal approximation can on a few items."""
    if len(errors) < 2:
        return float("nan"), float("nan")
    means = np.random.default_rng(seed).choice(errors, size=(resamples, len(errors))).mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def paired_difference(a: Report, b: Report, resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """How much lower a's error is than b's on the same items, item by item: the mean of (a's error - b's error) over
    the items both priced, with its bootstrapped 95% interval. A comparison on the same items is paired: each item's
    difficulty cancels out, so it can tell two models apart where their separate intervals still overlap. `better`:
    the whole interval lies below zero."""
    if len(a.table) != len(b.table) or not np.allclose(a.table["truth"], b.table["truth"]):
        raise BadInputError(f"{a.name} and {b.name} were not scored on the same items: a paired comparison needs both.")
    both = (a.table["parsed"] & b.table["parsed"]).to_numpy()
    diff = (a.table["error"] - b.table["error"]).to_numpy()[both]
    if len(diff) < 2:
        return {"n": int(len(diff)), "mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "better": False}
    means = np.random.default_rng(seed).choice(diff, size=(resamples, len(diff))).mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"n": int(len(diff)), "mean": float(diff.mean()), "lo": float(lo), "hi": float(hi), "better": bool(hi < 0)}


def paired_sentence(a: Report, b: Report) -> str:
    """One sentence: a's error minus b's on the items both priced, its 95% interval, and which error that makes lower
    (an interval across $0 tells them apart from nothing)."""
    d = paired_difference(a, b)
    if d["n"] < 2:
        return f"{a.name} and {b.name} both priced {d['n']} items: nothing to compare item by item"
    verdict = "a lower error" if d["better"] else "a higher error" if d["lo"] > 0 else "not told apart"
    return (
        f"{a.name} minus {b.name}, item by item: ${d['mean']:+,.0f} (95% interval ${d['lo']:+,.0f} to "
        f"${d['hi']:+,.0f}) over {d['n']} items both priced: {verdict}"
    )


def grade(truth: float, guess: float) -> str:
    """'hit', 'near' or 'miss' by the course's colour rule."""
    error = abs(guess - truth)
    if error < HIT_DOLLARS or error / max(truth, 1e-9) < HIT_FRACTION:
        return "hit"
    if error < NEAR_DOLLARS or error / max(truth, 1e-9) < NEAR_FRACTION:
        return "near"
    return "miss"


@dataclass
class Report:
    """A predictor's results on the test items: the figures, and the per-item table behind them. Error, RMSLE and
    r2 are over the replies that gave a price; `unparseable` counts the rest, and none of them is a hit."""

    name: str
    mae: float
    mae_ci95: tuple[float, float]
    rmsle: float
    hit_rate: float
    r2: float
    n: int
    unparseable: int
    seconds: float
    table: pd.DataFrame = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def answered(self) -> float:
        """The share of items whose reply gave a price."""
        return (self.n - self.unparseable) / self.n

    def summary(self) -> str:
        """One line for a notebook."""
        lo, hi = self.mae_ci95
        priced = f"priced {self.n - self.unparseable} of {self.n}"
        if self.unparseable == self.n:
            return f"{self.name}: no reply gave a price ({self.n} unparseable), {self.seconds:.1f}s"
        held = self.extra.get("held_to_range", 0)
        if held:
            lo_p, hi_p = self.extra["price_range"]
            held = f" ({held} outside the task's ${lo_p:,.2f}-${hi_p:,.0f} range, clipped to the nearest end)"
        else:
            held = ""
        return (
            f"{self.name}: {priced}{held}; on those, error ${self.mae:,.2f} (95% CI ${lo:,.2f}-${hi:,.2f}), "
            f"RMSLE {self.rmsle:.2f}, r2 {self.r2:.2f}; hits {self.hit_rate:.1%} of all {self.n}; {self.seconds:.1f}s"
        )

    def first(self, n: int) -> Report:
        """The same replies, as this run scored them (held to the task's range already), on the first n items only: to
        set beside a run over those items."""
        if not 0 < n <= self.n:
            raise BadInputError(f"{self.name} scored {self.n} items: ask for 1 to {self.n}, not {n}.")
        head = self.table.iloc[:n]
        guesses = [g if ok else None for g, ok in zip(head["guess"], head["parsed"])]
        texts = list(head["item"]) if "item" in head else None
        return score(self.name, list(head["truth"]), guesses, self.seconds * n / self.n, texts)

    def plot(self, ax: Any = None) -> Any:
        """Truth against prediction, coloured hit/near/miss, with the y = x line (unparseable replies counted in
        the title: they have no point)."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(5, 5))[1]
        t = self.table[self.table["parsed"]]
        for grade_name, colour in COLOURS.items():
            part = t[t["grade"] == grade_name]
            ax.scatter(
                part["truth"],
                part["guess"],
                color=colour,
                s=14,
                alpha=0.8,
                label=f"{grade_name}: {GRADE_RULES[grade_name]} ({len(part)})",
            )
        top = max(self.table["truth"].max(), t["guess"].max() if len(t) else 0) * 1.05
        ax.plot([0, top], [0, top], color="steelblue", lw=1, label="y = x (perfect)")
        ax.set(
            xlim=(0, top),
            ylim=(0, top),
            xlabel="true price ($)",
            ylabel="predicted price ($)",
            title=f"{self.name[:48]}\nerror ${self.mae:,.0f} on {self.n - self.unparseable} priced; "
            f"{self.unparseable} unparseable",
        )
        ax.legend(fontsize=7, loc="upper left")
        return ax


def score(
    name: str,
    truths: Sequence[float],
    guesses: Sequence[float | None],
    seconds: float = 0.0,
    texts: Sequence[str] | None = None,
    price_range: tuple[float, float] | None = None,
) -> Report:
    """The harness's figures for given truths and guesses. A None guess is unparseable: counted, never a hit, and
    left out of the error (scoring it as $0 would mix 'no answer' into 'a bad answer'). With price_range, a guess
    outside the task's range is held to its nearest end (counted in extra['held_to_range']), so one runaway reply
    ($12,000 for a $40 item) cannot double an error."""
    from sklearn.metrics import r2_score

    if len(truths) == 0:
        raise BadInputError("There are no test items to score.")
    if len(truths) != len(guesses):
        raise BadInputError(f"{len(truths)} truths but {len(guesses)} guesses.")
    truth = np.asarray(truths, dtype=float)
    parsed = np.array([g is not None for g in guesses])
    raw = np.array([g if g is not None else np.nan for g in guesses], dtype=float)
    guess = np.clip(raw, *price_range) if price_range else raw
    held = int(np.sum(parsed & (guess != raw)))
    errors = np.abs(guess - truth)
    grades = [grade(t, g) if ok else "unparseable" for t, g, ok in zip(truth, guess, parsed)]
    valid = errors[parsed]
    mae = float(valid.mean()) if len(valid) else float("nan")
    interval = mae_interval(valid)
    log_gap = np.log1p(np.maximum(guess[parsed], 0)) - np.log1p(truth[parsed])
    rmsle = float(np.sqrt(np.mean(log_gap**2))) if len(valid) else float("nan")
    r2 = float(r2_score(truth[parsed], guess[parsed])) if parsed.sum() > 1 else float("nan")
    table = pd.DataFrame({"truth": truth, "guess": guess, "parsed": parsed, "error": errors, "grade": grades})
    if texts is not None:
        table.insert(0, "item", [t[:60] for t in texts])
    return Report(
        name,
        mae,
        interval,
        rmsle,
        grades.count("hit") / len(grades),
        r2,
        len(truth),
        int((~parsed).sum()),
        seconds,
        table,
        {"held_to_range": held, "price_range": price_range} if price_range else {},
    )


class _StopRule:
    """Stops an evaluation whose model is gone: a reply that does not parse is one miss, but a dead server, a
    rejected key, an exhausted quota or an unknown model fails every item the same way. Stop once one such class of
    error has failed `consecutive` predictions, in a row or more of them than have succeeded."""

    def __init__(self, consecutive: int = 3):
        self.consecutive, self.ok, self.run, self.counts = consecutive, 0, 0, {}
        self.error: Exception | None = None
        self.lock = threading.Lock()

    def success(self, n: int = 1) -> None:
        with self.lock:
            self.ok, self.run = self.ok + n, 0

    def failure(self, err: Exception, n: int = 1) -> None:
        if not isinstance(err, FATAL_ERRORS):
            return
        with self.lock:
            kind = type(err)
            self.counts[kind] = self.counts.get(kind, 0) + n
            self.run += n
            enough = self.counts[kind] >= self.consecutive
            if self.error is None and enough and (self.run >= self.consecutive or self.counts[kind] > self.ok):
                self.error = err

    def check(self, name: str, done: int, total: int) -> None:
        """Raise the error that stopped the run, with how far it got."""
        if self.error is not None:
            err = self.error
            raise type(err)(f"{name} stopped after {done} of {total} items, {self.ok} answered: {err}") from None


def evaluate(
    predictor: Callable[[Any], Any],
    items: Sequence[Any],
    name: str,
    workers: int = 1,
    progress: bool = True,
) -> Report:
    """Run a predictor (item -> price, or a reply to parse) over the test items and score it. One item's error is a
    miss; errors that will fail every item (a dead server, a rejected key, no quota, the budget) stop the run and are
    raised, and the prices gathered until then are saved: running the same evaluation again continues from them."""
    from tqdm.auto import tqdm

    if not items:
        raise BadInputError("There are no test items: build the data set first.")

    failures: list[str] = []
    stop = _StopRule()
    saved = _Progress(name, items)

    def safe(pair: tuple[int, Any]) -> float | None:
        i, item = pair
        if i in saved.guesses:  # priced by an earlier run that was stopped
            return saved.guesses[i]
        if stop.error is not None:  # the model is gone: do not send the rest
            return None
        try:
            guess = parse_price(predictor(item))
        except Exception as err:  # a predictor's failure on one item is a miss, not a crash
            failures.append(f"{type(err).__name__}: {str(err)[:120]}")
            stop.failure(err)
            return None
        stop.success()
        saved.add(i, guess)
        return guess

    start = time.perf_counter()
    if hasattr(predictor, "predict_batch"):  # a local model: generate many items per forward pass
        guesses = _in_batches(predictor, items, name, stop, failures, progress)
    else:
        if saved.guesses:
            print(f"{name}: continuing a stopped run, {len(saved.guesses)} of {len(items)} items already priced")
        try:
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                work = pool.map(safe, enumerate(items))
                guesses = list(tqdm(work, total=len(items), desc=name, disable=not progress))
            stop.check(name, len(failures) + stop.ok + len(saved.earlier), len(items))
        except BaseException:  # stopped (the budget, a dead server, Ctrl-C): keep what was priced
            saved.write(time.perf_counter() - start)
            raise
    seconds = time.perf_counter() - start + saved.seconds
    from .prices import PRICE_RANGE

    truths, titles = [it.price for it in items], [it.title for it in items]
    report = score(name, truths, guesses, seconds, titles, price_range=PRICE_RANGE)
    saved.clear()
    if failures:
        report.extra["failures"] = failures
        print(f"{name}: {len(failures)} predictions raised, e.g. {failures[0]}")
    return report


def _in_batches(
    predictor: Any, items: Sequence[Any], name: str, stop: _StopRule, failures: list[str], progress: bool
) -> list[float | None]:
    """A local model's guesses, many items per forward pass; a failing batch is counted as misses, like single items."""
    from tqdm.auto import tqdm

    size = getattr(predictor, "batch_size", 16)
    guesses: list[float | None] = []
    for i in tqdm(range(0, len(items), size), desc=name, disable=not progress):
        chunk = list(items[i : i + size])
        try:
            guesses += [parse_price(r) for r in predictor.predict_batch(chunk)]
            stop.success(len(chunk))
        except Exception as err:
            failures.append(f"{type(err).__name__}: {str(err)[:120]}")
            guesses += [None] * len(chunk)
            stop.failure(err, len(chunk))
        stop.check(name, len(guesses), len(items))
    return guesses


class _Progress:
    """The prices an evaluation gathered before it was stopped, saved in the cache under its name and items."""

    def __init__(self, name: str, items: Sequence[Any]):
        key = hashlib.sha256(json.dumps([[name], *([str(it.title), it.price] for it in items)]).encode()).hexdigest()
        self.path = cache_dir("evaluations") / f"{re.sub(r'[^A-Za-z0-9]+', '-', name)[:60]}-{key[:16]}.json"
        self.guesses: dict[int, float | None] = {}
        self.seconds = 0.0
        if self.path.exists():
            data = json.loads(self.path.read_text())
            self.guesses, self.seconds = {int(i): g for i, g in data["guesses"].items()}, data["seconds"]
        self.earlier = dict(self.guesses)
        self._lock = threading.Lock()

    def add(self, i: int, guess: float | None) -> None:
        with self._lock:
            self.guesses[i] = guess

    def write(self, seconds: float) -> None:
        """Save the gathered prices and the seconds spent on them (an item's time counts once, over all runs)."""
        if self.guesses:
            with self._lock:
                data = {"guesses": self.guesses, "seconds": self.seconds + seconds}
            self.path.write_text(json.dumps(data))
            print(f"{len(self.guesses)} priced items saved: running this evaluation again continues from them")

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
