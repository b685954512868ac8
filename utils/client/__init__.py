"""The LLM client: one `chat()` for every provider, the providers as data, keys, request rules, error sentences,
the kit's local model server, and what a call costs."""

from .llm import ChatResult, chat

__all__ = ["ChatResult", "chat"]
