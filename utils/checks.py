"""A notebook's claims, read as sentences: each check prints what it verified, or stops the run naming what failed.

Two kinds of claim. A claim about the kit itself (a prompt token for token, an adapter reloaded, a count) is exact:
it is checked on every run, the rehearsal included. A claim about a model's quality (`about_model_quality=True`) is
made only where it held on every machine the claims table tried (`make claims`); the rehearsal's stand-in models
have random weights, so there it is named, not checked.
"""

from __future__ import annotations

import json

from .settings import rehearsing, setting


def _log(path: str, sentence: str, quality: bool, held: bool) -> None:
    """Append the claim to the claims log (a JSON line each), where `make claims` reads it."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"sentence": sentence, "quality": quality, "held": held}) + "\n")


def check(holds: bool, sentence: str, about_model_quality: bool = False) -> None:
    """Print '✓ sentence' when the claim holds; raise AssertionError with the sentence when it does not.

    about_model_quality: a claim about what a model does; in the rehearsal it is named, not checked, and under
    `make claims` (LLMKIT_CLAIMS_LOG set) a failure is counted and the run goes on."""
    holds = bool(holds)
    log = setting("LLMKIT_CLAIMS_LOG")
    if log:
        _log(log, sentence, about_model_quality, holds)
    if about_model_quality and rehearsing():
        print(f"· not checked in the rehearsal (its stand-in models have random weights): {sentence}")
        return
    if not holds:
        if about_model_quality and log:
            print(f"✗ this run did not show it: {sentence}")
            return
        raise AssertionError(f"this run does not support the claim: {sentence}")
    print(f"✓ {sentence}")
