"""A notebook's claims, read as sentences: each check prints what it verified, or stops the run naming what failed."""

from __future__ import annotations

from .standins.rehearsal import assert_unless_rehearsing


def check(holds: bool, sentence: str, about_model_quality: bool = False) -> None:
    """Print '✓ sentence' when the claim holds; raise AssertionError with the sentence when it does not.

    about_model_quality: the claim is about what a trained model does, so the rehearsal (random weights) names it
    as not checked instead of failing."""
    if about_model_quality:
        assert_unless_rehearsing(holds, sentence)
        return
    if not holds:
        raise AssertionError(f"this run does not support the claim: {sentence}")
    print(f"✓ {sentence}")
