"""The widget panels where people use them: JupyterLab from the kit's environment, in headless Chromium.

Each check is what a person sees on the page, not kernel state. Screenshots of every state go to build/ui/.
Chromium comes from the OS packages (`sudo apt-get install chromium`); Playwright drives that executable. On a
laptop without it these tests are skipped with one line saying so; under CI (CI is set) a missing browser fails.
"""

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "ui"
TIMEOUT_MS = 60_000


def chromium_path() -> str | None:
    """The system Chromium, found on PATH."""
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def missing(what: str) -> None:
    """Skip on a laptop, fail under CI: a browser test that skips itself in CI is not a test."""
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests must run in CI: {what}")
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    if exe is None:
        missing("no Chromium on PATH: `sudo apt-get install chromium` to run the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed: `make setup`")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, write_notebook):
    """A real `jupyter lab` on 127.0.0.1 with a random port and token, serving two small panel notebooks."""
    folder = tmp_path_factory.mktemp("lab")
    write_notebook(
        folder / "filter.ipynb",
        "from utils import catalog, widgets\ncat = catalog.load_catalog()\nwidgets.filter_widget(cat)",
    )
    write_notebook(
        folder / "panel.ipynb",
        "from utils import codegen as cg, widgets\n"
        "programs = {name: cg.course_program(name, 2_000) for name in cg.COURSE_PROGRAMS}\n"
        "widgets.codegen_panel(programs, ['local/smollm2'], rounds=0, runs=1)",
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    jupyter = Path(sys.executable).parent / "jupyter"
    log = open(folder / "lab.log", "wb")
    proc = subprocess.Popen(
        [
            str(jupyter),
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={folder}",
            "--ServerApp.open_browser=False",
            "--LabApp.news_url=",
            f"--LabApp.workspaces_dir={folder / '.workspaces'}",
            f"--LabApp.user_settings_dir={folder / '.settings'}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail(f"jupyter lab did not start: {(folder / 'lab.log').read_text()[-1500:]}")
    yield base, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def open_and_run(browser, lab, name: str):
    """Open a notebook in JupyterLab and run all its cells through the Run menu, as a person would."""
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base}/lab/tree/{name}?token={token}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
    for _ in range(3):  # a click that lands while the kernel is still starting is lost: try again
        try:
            page.keyboard.press("Escape")  # close whatever dialog or menu is open
            page.click(".lm-MenuBar-itemLabel:text-is('Run')", timeout=10_000)
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')", timeout=10_000)
            page.wait_for_function(
                "[...document.querySelectorAll('.jp-InputPrompt')].some(e => /\\[[*0-9]+\\]/.test(e.innerText))",
                timeout=2_000,
            )
            return page
        except Exception:
            continue
    shot(page, f"failed-to-run-{name}")
    pytest.fail(f"JupyterLab did not run {name}")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def field(page, label: str):
    """The input of the widget whose label reads `label`."""
    return page.locator(f".widget-inline-hbox:has(.widget-label:text-is('{label}')) input").first


def panel_text(page) -> str:
    """What the widget outputs show now."""
    return page.evaluate("[...document.querySelectorAll('.widget-output')].map(e => e.innerText).join('\\n')")


def wait_for_text(page, pattern: str, flags: str = "") -> str:
    """Wait until the widget outputs match a regular expression; return their text (a screenshot if they never do)."""
    try:
        _wait(page, pattern, flags)
    except Exception:
        shot(page, "failed-" + re.sub(r"\W+", "-", pattern)[:40])
        raise
    return panel_text(page)


def _wait(page, pattern: str, flags: str) -> None:
    page.wait_for_function(
        "([p, f]) => new RegExp(p, f).test("
        "[...document.querySelectorAll('.widget-output')].map(e => e.innerText).join('\\n'))",
        arg=[pattern, flags],
    )


def count_line(text: str) -> tuple[int, int]:
    match = re.search(r"(\d+) of (\d+) models", text)
    assert match, text[:300]
    return int(match.group(1)), int(match.group(2))


def test_week4_filter_updates_its_count_and_table(browser, lab):
    page = open_and_run(browser, lab, "filter.ipynb")
    start_text = wait_for_text(page, r"\d+ of \d+ models[\s\S]*provider")
    shot(page, "week4-filter-start")
    shown, total = count_line(start_text)
    assert shown <= total and "Traceback" not in start_text

    field(page, "min context").fill("1000000")
    field(page, "min context").press("Enter")
    after_text = wait_for_text(page, rf"^(?![\s\S]*\b{shown} of {total} models)[\s\S]*\d+ of {total} models")
    shot(page, "week4-filter-min-context")
    assert count_line(after_text)[0] < shown
    assert after_text.split("models", 1)[1] != start_text.split("models", 1)[1]  # the table changed too

    field(page, "max in $/1M").fill("-1")
    field(page, "max in $/1M").press("Enter")
    text = wait_for_text(page, "must be >= 0")
    shot(page, "week4-filter-bad-price")
    assert "⚠ max_input_price is dollars per 1M tokens" in text and "Traceback" not in text
    page.close()


def test_week5_panel_runs_python_cpp_and_the_model(browser, lab):
    from utils import codegen as cg

    page = open_and_run(browser, lab, "panel.ipynb")
    source, cpp = page.locator("textarea").nth(0), page.locator("textarea").nth(1)
    page.wait_for_function(
        "document.querySelectorAll('.jp-Notebook textarea').length >= 2 && "
        "document.querySelectorAll('.jp-Notebook textarea')[0].value.length > 0"
    )
    page.locator(".widget-dropdown select").first.select_option("max_subarray")
    page.wait_for_function("document.querySelectorAll('.jp-Notebook textarea')[0].value.includes('max_subarray')")
    assert "def " in source.input_value()
    shot(page, "week5-panel-program")

    page.click("button:text-is('Run Python')")
    text = wait_for_text(page, "timed:")
    assert "Python printed:" in text
    shot(page, "week5-panel-run-python")

    cpp.fill(cg.course_program("max_subarray", 2_000)[1])
    page.click("button:text-is('Run C++')")
    text = wait_for_text(page, "speed-up")
    assert "C++ output matches Python" in text
    shot(page, "week5-panel-run-cpp")

    cpp.fill("int main() { return undefined_name; }")
    page.click("button:text-is('Run C++')")
    text = wait_for_text(page, "undefined_name")
    assert "Compilation failed" in text and "Traceback" not in text
    shot(page, "week5-panel-bad-cpp")

    page.click("button:text-is('Convert')")
    text = wait_for_text(page, "round 0:")
    assert "compiled=" in text
    shot(page, "week5-panel-convert")
    page.close()
