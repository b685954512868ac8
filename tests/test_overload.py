"""The kit's client against an overloaded provider: a real local server behind a front that fails on purpose."""

import os

import pytest

from utils import chat
from utils.client.local_server import running_server
from utils.client.overload import FailingFront
from utils.errors import BadInputError, RateLimitedError

pytestmark = pytest.mark.server

MODEL = "local/smollm2"


@pytest.fixture(scope="module")
def target():
    return running_server("smollm2").base_url


def test_retries_after_429s_and_answers(target):
    with FailingFront(target, failures=2, status=429, provider="local") as front:
        reply = chat(MODEL, "Name one fruit.", max_tokens=6, base_delay_s=0.2)
    assert [s for _, s in front.log] == [429, 429, 200]
    assert reply.text.strip() and reply.output_tokens >= 1
    times = [t for t, _ in front.log]
    assert times[1] - times[0] >= 0.1 and times[2] - times[1] >= 0.2  # back-off waited: 0.2*2^k times 0.5-1.5
    assert "LLMKIT_LOCAL_BASE_URL" not in os.environ  # the client goes back to the server itself


def test_waits_what_retry_after_asks_then_gives_up_in_one_sentence(target):
    with FailingFront(target, failures=9, status=529, retry_after_s=0.4, provider="local") as front:
        with pytest.raises(RateLimitedError, match="still rate-limited or failing after 3 tries"):
            chat(MODEL, "Name one fruit.", max_tokens=6, retries=2, base_delay_s=0.01)
    times = [t for t, _ in front.log]
    assert len(times) == 3 and all(b - a >= 0.4 for a, b in zip(times, times[1:]))


def test_front_restores_a_previous_setting_and_refuses_unknown_status(target, monkeypatch):
    monkeypatch.setenv("LLMKIT_LOCAL_BASE_URL", "http://127.0.0.1:9/v1")
    with FailingFront(target, failures=0, provider="local") as front:
        assert os.environ["LLMKIT_LOCAL_BASE_URL"] == front.url != "http://127.0.0.1:9/v1"
    assert os.environ["LLMKIT_LOCAL_BASE_URL"] == "http://127.0.0.1:9/v1"
    with pytest.raises(BadInputError, match="status must be one of"):
        FailingFront(target, status=418)
