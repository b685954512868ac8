"""llm-engineering-kit: the shared code every notebook imports."""

from .errors import LLMKitError
from .llm import ChatResult, chat
from .profile import Profile, get_profile, seed_everything, setup

__all__ = ["ChatResult", "LLMKitError", "Profile", "chat", "get_profile", "seed_everything", "setup"]
