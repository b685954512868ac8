"""The panels an instructor drives live in class (ipywidgets): the week-4 model filter and the week-5 code panel.

The logic behind each lives in its module (catalog.filter_models, the codegen pipeline); these only wire controls
to it. tests/test_browser.py drives both in JupyterLab in a real browser.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import codegen as cg
from .catalog import filter_models
from .errors import BadInputError, LLMKitError


def filter_widget(df: pd.DataFrame, columns: list[str] | None = None, rows: int = 10) -> Any:
    """An ipywidgets panel that filters the table live (the filtering itself is filter_models)."""
    import ipywidgets as w
    from IPython.display import display

    columns = columns or [
        "provider",
        "name",
        "open_weights",
        "context",
        "input_per_m",
        "output_per_m",
        "knowledge_cutoff",
    ]
    open_w = w.Dropdown(options=[("any", None), ("open", True), ("closed", False)], description="weights")
    ctx = w.IntText(value=0, description="min context")
    price = w.FloatText(value=100.0, description="max in $/1M")
    cutoff = w.Text(value="", description="cut-off after", placeholder="2024-06")
    out = w.Output()

    def refresh(*_: Any) -> None:
        out.clear_output()
        with out:
            try:
                res = filter_models(df, open_w.value, ctx.value, price.value, None, cutoff.value or None)
                print(f"{len(res)} of {len(df)} models")
                display(res[columns].head(rows))
            except BadInputError as err:
                print(f"⚠ {err}")

    for control in (open_w, ctx, price, cutoff):
        control.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([open_w, ctx, price]), w.HBox([cutoff]), out])


def codegen_panel(
    programs: dict[str, tuple[str, str | None]], models: list[str], rounds: int = 2, runs: int = 3
) -> Any:
    """Pick a program and a model; buttons run the Python, ask the model for C++ (with repairs), and run the C++."""
    return _CodegenPanel(programs, models, rounds, runs).view


class _CodegenPanel:
    """The week-5 panel's widgets and what its three buttons do."""

    def __init__(self, programs: dict[str, tuple[str, str | None]], models: list[str], rounds: int, runs: int):
        import ipywidgets as w

        self.programs, self.runs, self.ref = programs, runs, None
        self.pick = w.Dropdown(options=list(programs), description="program")
        self.model = w.Dropdown(options=list(models), description="model")
        self.rounds = w.IntSlider(value=rounds, min=0, max=5, description="repairs")
        self.source = w.Textarea(layout=w.Layout(width="100%", height="220px"))
        self.cpp = w.Textarea(layout=w.Layout(width="100%", height="220px"), placeholder="C++ appears here")
        self.log = w.Output(layout=w.Layout(border="1px solid #ccc"))
        buttons = [w.Button(description=d) for d in ("Run Python", "Convert", "Run C++")]
        for b, fn in zip(buttons, (self.run_python, self.convert, self.run_cpp)):
            b.on_click(fn)
        self.pick.observe(self.load, names="value")
        self.load()
        rows = [w.HBox([self.pick, self.model, self.rounds]), w.HBox([self.source, self.cpp]), w.HBox(buttons)]
        self.view = w.VBox([*rows, self.log])

    def load(self, *_: Any) -> None:
        self.source.value = self.programs[self.pick.value][0]
        self.cpp.value, self.ref = "", None

    def run_python(self, *_: Any) -> None:
        with self.log:
            try:
                self.ref = cg.python_reference(self.pick.value, self.source.value, runs=self.runs)
                print(f"Python printed:\n{self.ref.output}timed: {self.ref.timing}")
            except LLMKitError as err:
                print(f"⚠ {err}")

    def convert(self, *_: Any) -> None:
        with self.log:
            if not self.ref:
                self.run_python()
            if not self.ref:
                return
            try:
                conv = cg.convert(self.model.value, self.ref, rounds=self.rounds.value)
            except LLMKitError as err:
                print(f"⚠ {err}")
                return
            for a in conv.attempts:
                why = a.problem.splitlines()[0] if a.problem else ""
                print(f"round {a.round}: compiled={a.compiled} correct={a.correct} {why}")
            code = next((a.code for a in reversed(conv.attempts) if a.code), None)
            if code:  # a reply without code leaves what is in the box (perhaps the user's own C++) as it was
                self.cpp.value = code

    def run_cpp(self, *_: Any) -> None:
        with self.log:
            if not self.ref:
                self.run_python()
            if not self.ref or not self.cpp.value.strip():
                print("⚠ no C++ to run yet: convert first, or paste C++ into the box")
                return
            try:
                checked = cg.check_conversion(self.ref, self.cpp.value, "C++ in the panel")
                conv = cg.time_conversion(checked, runs=self.runs)
            except LLMKitError as err:
                print(f"⚠ {err}")
                return
            row = cg.results_row(self.ref, conv)
            if conv.correct:
                bound = "at least " if row["speedup_at_least"] else ""
                print(f"C++ output matches Python. C++ {conv.cpp_timing}; speed-up {bound}{row['speedup']:.1f}x")
            else:
                print(f"✗ {conv.attempts[0].problem}")
