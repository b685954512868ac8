from types import SimpleNamespace

import pytest

from utils import codegen as cg
from utils import sandbox as sb
from utils.errors import BadInputError, LLMKitError

HELLO = '#include <cstdio>\nint main() { std::printf("%d\\n", 6 * 7); }\n'


@pytest.mark.parametrize(
    "reply",
    [
        f"Here you go:\n```cpp\n{HELLO}```\nThis is fast.",
        f"```c++\n{HELLO}```",
        f"```\n{HELLO}```",
        f"Sure. {HELLO}",
        f"```python\nprint(42)\n```\n```cpp\n{HELLO}```",
        f"```cpp\n{HELLO}",  # unterminated fence
    ],
)
@pytest.mark.unit
def test_extract_cpp_from_many_reply_shapes(reply):
    assert cg.extract_cpp(reply).strip() == HELLO.strip()


@pytest.mark.parametrize("reply", ["", "   ", "I would explain it in words.", "```python\nprint(1)\n```"])
@pytest.mark.unit
def test_reply_without_cpp_is_a_clear_error(reply):
    with pytest.raises(cg.NoCodeError, match="C\\+\\+|empty"):
        cg.extract_cpp(reply)


@pytest.mark.unit
def test_python_instead_of_cpp_is_named():
    with pytest.raises(cg.NoCodeError, match="Python code, not C\\+\\+"):
        cg.extract_cpp("```python\nprint(1)\n```")


@pytest.mark.unit
def test_normalisation_drops_timing_lines_only():
    out = "Result: 3.14\nExecution Time: 0.5 seconds\nElapsed time 3ms\ndone  \n\n"
    assert cg.normalise_output(out) == "Result: 3.14\ndone"
    assert cg.outputs_match("a 1\nExecution Time: 9", "a 1\nExecution Time: 0.001\n")
    assert not cg.outputs_match("a 1", "a 2")


@pytest.mark.unit
def test_float_tolerance_is_relative_and_explicit():
    assert not cg.outputs_match("pi 3.141592653590", "pi 3.141592653591")
    assert cg.outputs_match("pi 3.141592653590", "pi 3.141592653591", float_tol=1e-9)
    assert not cg.outputs_match("pi 3.14", "pi 3.15", float_tol=1e-9)
    assert not cg.outputs_match("pi 3.14", "tau 3.14", float_tol=1e-9)


@pytest.mark.sandbox
def test_compile_errors_are_readable():
    res = sb.compile_cpp("int main() { return missing; }")
    assert not res.ok and "main.cpp" in res.errors and "missing" in res.errors and "/tmp" not in res.errors
    compiled, correct, problem, _ = cg.check_cpp("int main() { return missing; }", "")
    first_line = problem.splitlines()[0]  # what the comparison table shows: the reason, not a bare heading
    assert not compiled and first_line.startswith("Compilation failed: ") and "missing" in first_line


@pytest.mark.sandbox
def test_round_trip_compile_verify_time():
    py = "import time\ns = sum(i * i for i in range(300000))\nprint('sum', s)\nprint('Execution Time: 0.1')\n"
    cpp = (
        "#include <cstdio>\nint main(){ long long s = 0; for (long long i = 0; i < 300000; ++i) s += i * i;\n"
        'std::printf("sum %lld\\n", s); std::printf("Execution Time: 0.0\\n"); }\n'
    )
    ref = cg.python_reference("squares", py, runs=2)
    conv = cg.time_conversion(cg.check_conversion(ref, cpp, cg.HUMAN), runs=2)
    row = cg.results_row(ref, conv)
    assert conv.correct and row["speedup"] > 1 and len(conv.cpp_timing.runs) == 2


@pytest.mark.sandbox
def test_wrong_output_is_reported_as_a_diff():
    ref = cg.python_reference("p", "print(41)\n", runs=0)
    conv = cg.check_conversion(ref, HELLO, cg.HUMAN)
    assert not conv.correct and "-41" in conv.attempts[0].problem and "+42" in conv.attempts[0].problem


@pytest.mark.parametrize(
    "source, fragment", [("", "empty"), ("raise SystemExit(3)", "failed"), ("print(1/0)", "ZeroDivisionError")]
)
@pytest.mark.sandbox
def test_bad_python_gives_a_clear_message(source, fragment):
    with pytest.raises(LLMKitError, match=fragment):
        cg.python_reference("bad", source, runs=0)


@pytest.mark.sandbox
def test_repair_loop_records_every_round():
    """A scripted responder (a test double, not a model) checks the loop: broken code first, then a fix."""
    replies = iter(["no code, sorry", "```cpp\nint main() { return oops; }\n```", f"```cpp\n{HELLO}```"])
    seen = []

    def scripted(model, messages, **kw):
        assert kw["stop"] == cg.CODE_BLOCK_END and kw["max_tokens"] <= 600  # stops at the end of the code block
        seen.append(messages[-1]["content"])
        return SimpleNamespace(text=next(replies), input_tokens=10, output_tokens=5, cost_usd=0.0, latency_s=0.1)

    ref = cg.python_reference("p", "print(42)\n", runs=0)
    conv = cg.convert("test/double", ref, rounds=3, chat_fn=scripted)
    assert [a.correct for a in conv.attempts] == [False, False, True] and conv.correct
    assert "no C++" in seen[1] and "oops" in seen[2]


@pytest.mark.unit
def test_course_programs_and_sizes():
    py, cpp = cg.course_program("pi_series", 1000)
    assert "calculate(1_000, 4, 1)" in py and "1000LL" in cpp
    with pytest.raises(BadInputError):
        cg.course_program("pi_series", 0)
    with pytest.raises(BadInputError):
        cg.course_program("fizzbuzz", 10)


@pytest.mark.unit
def test_humaneval_problems_become_printing_programs():
    progs = cg.humaneval_programs(2)
    assert len(progs) == 2
    name, src = next(iter(progs.items()))
    ref = cg.python_reference(name, src, runs=0)
    assert len(ref.output.splitlines()) == src.count("print(_show(")


def _folders(prefix):
    """This process's throwaway folders with that prefix."""
    import os
    import tempfile
    from pathlib import Path

    return set(Path(tempfile.gettempdir()).glob(f"{prefix}{os.getpid()}-*"))


@pytest.mark.sandbox
def test_no_temporary_folder_is_left_behind():
    sb.sandbox_overhead(runs=1)  # the empty program it times is compiled once and kept for the whole process
    before_py, before_cpp = _folders("llmkit-py-"), _folders("llmkit-cpp-")
    cg.python_reference("p", "print(42)\n", runs=1)
    cg.check_conversion(cg.python_reference("p", "print(42)\n", runs=0), "int main() { return oops; }", "broken")
    cg.check_conversion(cg.python_reference("p", "print(41)\n", runs=0), HELLO, "wrong output")
    assert _folders("llmkit-py-") == before_py and _folders("llmkit-cpp-") == before_cpp


@pytest.mark.unit
def test_a_time_within_the_start_ups_jitter_is_floored_and_its_speed_up_is_a_lower_bound():
    from utils.sandbox import RESOLUTION_S, Timing

    quick = Timing([0.009], overhead_s=0.040, overhead_spread_s=0.002)  # under a quarter of a 40 ms start-up
    slow = Timing([0.015], overhead_s=0.040, overhead_spread_s=0.002)
    noisy = Timing([0.015], overhead_s=0.040, overhead_spread_s=0.020)  # empty runs 20 ms apart
    assert quick.floor_s == 0.010 and quick.at_resolution and not slow.at_resolution and noisy.at_resolution
    assert Timing([RESOLUTION_S], 0.0, 0.0).at_resolution and Timing([0.001], 0.0, 0.0).floor_s == RESOLUTION_S
    ref = cg.Reference("p", "print(1)", "1\n", Timing([1.0]))
    conv = cg.Conversion("p", "m", cpp_timing=quick)
    conv.attempts.append(cg.Attempt(0, "int main(){}", True, True, "", 10, 0.0, 1.0))
    row = cg.results_row(ref, conv)
    assert row["speedup"] == pytest.approx(1.0 / 0.009) and row["speedup_at_least"]


@pytest.mark.unit
def test_a_timing_prints_its_median_and_the_range_of_its_runs():
    from utils.sandbox import Timing

    assert str(Timing([0.5, 0.25, 0.75])) == "0.5000 s, the median of 3 runs from 0.2500 to 0.7500 s"
