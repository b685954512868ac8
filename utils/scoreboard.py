"""What the notebooks keep and compare: the approaches table weeks 6 and 7 share (one row per price predictor),
week 5's speed-ups, and the decision read off the approaches table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from .baselines import CONSTANT_GUESS
from .client.costs import dollars
from .errors import BadInputError
from .paths import cache_dir, results_file

if TYPE_CHECKING:
    from .evaluation import Report


def approaches_file() -> Path:
    """The approaches table of weeks 6-7: LLMKIT_RESULTS, else results.csv in the cache."""
    return results_file()


def speedups_file() -> Path:
    """Week 5's comparison table (week 6 turns its speed-ups into dollars)."""
    return cache_dir("week5") / "speedups.csv"


# ----------------------------------------------------------------------------------------------------------------
# The approaches table (weeks 6 and 7 write to it; the decision table reads it)
# ----------------------------------------------------------------------------------------------------------------
RESULT_COLUMNS = [
    "approach",
    "family",
    "profile",
    "mae",
    "mae_lo",
    "mae_hi",
    "rmsle",
    "hit_rate",
    "r2",
    "n",
    "unparseable",
    "seconds_per_item",
    "compute_per_1k",
    "api_per_1k",
    "effort_estimate",
    "when",
]
# The stated rate that turns measured seconds into dollars: one on-demand cloud vCPU-hour (a 2-vCPU general-purpose
# instance costs about $0.08-0.10 an hour). Change it to your own machine's cost.
DOLLARS_PER_CPU_HOUR = 0.05


def compute_cost_per_1k(seconds_per_item: float, dollars_per_hour: float = DOLLARS_PER_CPU_HOUR) -> float:
    """Dollars of machine time for 1,000 predictions at the measured seconds per item."""
    return seconds_per_item * 1000 / 3600 * dollars_per_hour


def record(
    report: Report,
    family: str,
    profile: str,
    api_per_1k: float | None = None,
    effort_estimate: str = "",
    path: Any = None,
    dollars_per_hour: float = DOLLARS_PER_CPU_HOUR,
) -> pd.DataFrame:
    """Add (or replace) an approach's row in the results file and return the whole table.

    compute_per_1k is computed from the measured seconds per item at dollars_per_hour; api_per_1k is what an API
    would charge (None when no API is called); effort_estimate is the author's estimate, not a measurement."""
    path = Path(path or approaches_file())
    per_item = report.seconds / max(report.n, 1)
    row = {
        "approach": report.name,
        "family": family,
        "profile": profile,
        "mae": round(report.mae, 2),
        "mae_lo": round(report.mae_ci95[0], 2),
        "mae_hi": round(report.mae_ci95[1], 2),
        "rmsle": round(report.rmsle, 3),
        "hit_rate": round(report.hit_rate, 3),
        "r2": round(report.r2, 3),
        "n": report.n,
        "unparseable": report.unparseable,
        "seconds_per_item": round(per_item, 4),
        "compute_per_1k": round(compute_cost_per_1k(per_item, dollars_per_hour), 6),
        "api_per_1k": api_per_1k,
        "effort_estimate": effort_estimate,
        "when": dt.datetime.now().isoformat(timespec="seconds"),
    }
    table = read_approaches(path)
    table = table[~((table["approach"] == report.name) & (table["profile"] == profile))]
    table = pd.DataFrame([*table.to_dict("records"), row], columns=RESULT_COLUMNS)  # no concat of all-NA columns
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    mean_row = table[(table["approach"] == CONSTANT_GUESS) & (table["profile"] == profile)]
    if report.name != CONSTANT_GUESS and len(mean_row):
        print(against_the_mean(report, mean_row.iloc[0]))
    return table


def forget(families: Sequence[str], profile: str, path: Any = None) -> None:
    """Remove one profile's rows of these families from the results file: a notebook that writes them afresh."""
    path = Path(path or approaches_file())
    if path.exists():
        table = pd.read_csv(path)
        table[~(table["family"].isin(families) & (table["profile"] == profile))].to_csv(path, index=False)


def against_the_mean(result: Report | Any, mean_row: Report | Any) -> str:
    """One sentence: an approach's error and interval (a Report, or a row of the results table) against the constant
    guess's (either too), and which the intervals favour; too few priced replies rank nothing."""
    if hasattr(mean_row, "mae_ci95"):  # a Report
        mean_row = {"mae": mean_row.mae, "mae_lo": mean_row.mae_ci95[0], "mae_hi": mean_row.mae_ci95[1]}
    if hasattr(result, "mae_ci95"):  # a Report
        name, mae, (lo, hi), n, unparsed = result.name, result.mae, result.mae_ci95, result.n, result.unparseable
    else:
        name, mae, lo, hi = result["approach"], result["mae"], result["mae_lo"], result["mae_hi"]
        n, unparsed = int(result["n"]), int(result["unparseable"])
    if unparsed == n:
        return f"{name}: no price in any reply, so no error to set against the constant guess"
    if (n - unparsed) / n < MIN_ANSWERED:
        return (
            f"{name}: priced {n - unparsed} of {n}, too few to set its error against always guessing the "
            "training mean (an error on a few items does not rank)"
        )
    theirs = f"${mean_row['mae']:,.0f} (${mean_row['mae_lo']:,.0f}-{mean_row['mae_hi']:,.0f})"
    if intervals_apart(lo, hi, mean_row["mae_lo"], mean_row["mae_hi"]):
        verdict = "better than" if mae < mean_row["mae"] else "worse than"
    else:
        verdict = "not told apart from"
    return (
        f"{name}: error ${mae:,.0f} (${lo:,.0f}-{hi:,.0f}) on {n - unparsed} priced, {verdict} always guessing the "
        f"training mean, {theirs}"
    )


def read_approaches(path: Any = None, profile: str | None = None) -> pd.DataFrame:
    """The approaches table (empty if nothing has been recorded yet), of one profile when given."""
    path = Path(path or approaches_file())
    if not path.exists():
        return pd.DataFrame(columns=RESULT_COLUMNS)
    table = pd.read_csv(path)
    return table[table["profile"] == profile] if profile else table


def plot_results(table: pd.DataFrame, ax: Any = None) -> Any:
    """Every approach's error as a horizontal bar chart in the decision table's order (best first; those that priced
    under MIN_ANSWERED of their items last and grey), each bar saying how many replies did not parse."""
    import matplotlib.pyplot as plt

    t = table.assign(share=priced_share(table))
    t = t.assign(compared=t["share"] >= MIN_ANSWERED).sort_values(["compared", "mae"], ascending=[False, True])
    t = t.iloc[::-1]  # barh draws the first row at the bottom: the best goes on top
    ax = ax or plt.subplots(figsize=(8, 0.35 * len(t) + 1.2))[1]
    families = list(dict.fromkeys(t["family"]))
    palette = dict(zip(families, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    colours = [palette[f] if c else "lightgrey" for f, c in zip(t["family"], t["compared"])]
    ax.barh(t["approach"], t["mae"], color=colours, edgecolor=[palette[f] for f in t["family"]])
    for y, r in enumerate(t.itertuples()):
        if not r.compared:
            note = f", priced {r.n - r.unparseable:.0f} of {r.n:.0f}: not compared"
        else:
            note = f", {r.unparseable:.0f} of {r.n:.0f} unparseable" if r.unparseable else ""
        ax.text(r.mae, y, f" ${r.mae:,.0f}{note}", va="center", fontsize=8)
    ax.set_xlim(0, t["mae"].max() * 1.6)  # room for the longest label
    ax.set_xlabel("mean absolute error on priced replies ($, lower is better)")
    ax.set_title(f"Every approach recorded so far, best first (grey: priced under {MIN_ANSWERED:.0%} of items)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=palette[f]) for f in families]
    ax.legend(
        handles, families, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, title="family", title_fontsize=8
    )  # beside the bars: it never hides a label
    return ax


# An approach must price at least this share of the items for its error to be compared with the others': an error
# measured on the few replies that happened to parse says little about the approach.
MIN_ANSWERED = 0.9


def priced_share(table: pd.DataFrame) -> pd.Series:
    """Share of each row's items whose reply held a price."""
    return (table["n"] - table["unparseable"]) / table["n"]


def intervals_apart(lo_a: Any, hi_a: Any, lo_b: Any, hi_b: Any) -> Any:
    """Whether two 95% intervals do not overlap (one difference the items can tell); scalars or columns."""
    return (hi_a < lo_b) | (hi_b < lo_a)


def decision_table(results: pd.DataFrame) -> pd.DataFrame:
    """Every recorded approach, most accurate first (those that priced under MIN_ANSWERED of their items last): the
    share of items it priced (unparseable replies are their own column), error on those with its 95% interval,
    seconds per item, dollars per 1,000 items (API prices where an API is called, else measured machine time at
    DOLLARS_PER_CPU_HOUR), effort."""
    if results.empty:
        raise BadInputError("No results recorded yet: run the week 6 notebooks and week 7 first.")
    table = results.copy()
    api = table["api_per_1k"].notna()
    table["dollars_per_1k"] = table["api_per_1k"].where(api, table["compute_per_1k"])
    table["priced_by"] = np.where(api, "API prices", f"machine time at ${DOLLARS_PER_CPU_HOUR}/h")
    table["answered"] = priced_share(table)
    table["compared"] = table["answered"] >= MIN_ANSWERED  # an error over a few parsed replies says little
    cols = [
        "approach",
        "family",
        "n",
        "unparseable",
        "answered",
        "compared",
        "mae",
        "mae_lo",
        "mae_hi",
        "hit_rate",
        "seconds_per_item",
        "dollars_per_1k",
        "priced_by",
        "effort_estimate",
    ]
    return table[cols].sort_values(["compared", "mae"], ascending=[False, True]).reset_index(drop=True)


def dodged(x: pd.Series, y: pd.Series, decades: float = 0.06) -> pd.Series:
    """x nudged right on a log axis, by `decades` for each earlier point it would sit on (within that distance in x
    and a quarter of the y range, where their error bars would overlap), so that points and bars stay apart."""
    out, span = x.astype(float).copy(), max(float(y.max() - y.min()), 1e-9)
    for n, i in enumerate(x.index):
        for j in x.index[:n]:
            if abs(np.log10(out[i] / out[j])) < decades and abs(y[i] - y[j]) < 0.25 * span:
                out[i] *= 10**decades
    return out


def plot_decision(table: pd.DataFrame, x: str, xlabel: str, title: str, ax: Any = None) -> Any:
    """Error (with its 95% interval) of every approach of a decision_table against a cost column, on a log axis.
    Points carry the table's row numbers (the table is shown beside the plot) so that close points stay readable;
    points that would coincide are nudged apart (`dodged`); approaches that priced too few items to compare are
    hollow and grey."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(11, 5.5))[1]
    shown = table.assign(x=dodged(table[x] + (1e-6 if x == "dollars_per_1k" else 1e-4), table["mae"]))
    for fam, grp in shown[shown["compared"]].groupby("family"):
        interval = [(grp["mae"] - grp["mae_lo"]).to_numpy(), (grp["mae_hi"] - grp["mae"]).to_numpy()]
        ax.errorbar(grp["x"].to_numpy(), grp["mae"].to_numpy(), yerr=interval, fmt="o", capsize=3, label=fam)
    left = shown[~shown["compared"]]
    if len(left):
        ax.scatter(
            left["x"],
            left["mae"],
            facecolors="none",
            edgecolors="grey",
            label=f"priced under {MIN_ANSWERED:.0%} of items: not compared",
        )
    for i, r in shown.iterrows():
        above = i % 2 == 0  # neighbouring rows (often close points) get their numbers on opposite sides
        ax.annotate(str(i), (r["x"], r["mae"]), fontsize=8, xytext=(5, 3 if above else -10), textcoords="offset points")
    ax.set(xscale="log", xlabel=xlabel, ylabel="mean absolute error on priced replies ($)", title=title)
    ax.legend(
        fontsize=8,
        title="family (numbers: rows of\nthe table above)",
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
    )  # beside the plot: it never hides a point
    return ax


def conclude(table: pd.DataFrame, min_answered: float = MIN_ANSWERED) -> dict[str, Any]:
    """The decision read off the table, among approaches that priced at least min_answered of their items: the most
    accurate, the most accurate one that calls a language model, and the cheapest whose error interval reaches the
    best's (not measurably worse on these items)."""
    eligible = table[table["answered"] >= min_answered]  # min_answered may differ from the table's "compared"
    if eligible.empty:
        raise BadInputError(f"No approach priced {min_answered:.0%} of its items: nothing to compare.")
    left_out = table[table["answered"] < min_answered]
    best = eligible.loc[eligible["mae"].idxmin()]
    llm = eligible[~eligible["family"].isin(["baseline", "retrieval only"])]
    best_llm = llm.loc[llm["mae"].idxmin()] if len(llm) else None
    close = eligible[~intervals_apart(eligible["mae_lo"], eligible["mae_hi"], best["mae_lo"], best["mae_hi"])]
    pick = close.loc[close["dollars_per_1k"].idxmin()]
    text = (
        f"Most accurate: {best['approach']} (${best['mae']:,.0f}, 95% interval ${best['mae_lo']:,.0f}-"
        f"{best['mae_hi']:,.0f}). Cheapest that is not measurably worse on these {int(best['n'])} items: "
        f"{pick['approach']} (${pick['mae']:,.0f}, {dollars(pick['dollars_per_1k'])} per 1,000)."
    )
    if best_llm is not None:
        text += f" Most accurate approach with a language model: {best_llm['approach']} (${best_llm['mae']:,.0f})."
    if len(left_out):
        names = ", ".join(f"{r.approach} ({r.answered:.0%})" for r in left_out.itertuples())
        text += f" Not compared, having priced under {min_answered:.0%} of their items: {names}."
    return {"best": best, "best_llm": best_llm, "pick": pick, "left_out": left_out, "text": text}
