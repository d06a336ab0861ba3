"""A TL;DR from an OpenAI-compatible chat endpoint (a local llama.cpp or Ollama server), bounded in time and size.

One ``POST {tldr_url}/v1/chat/completions`` per paper, not streamed; the answer is read up to
``tldr_max_response_bytes`` and ``tldr_timeout`` seconds, and its text goes through the same tidying as the
extractive TL;DR (one line, at most ``MAX_CHARS``). Anything that goes wrong is an ``LLMError`` with one line
saying what, never a traceback: the caller keeps the extractive TL;DR.
"""

from __future__ import annotations

import re
import time

import httpx
import orjson

from .extractive import MAX_CHARS, tidy

PROMPT = (
    "Write a one-sentence TL;DR of this paper for a researcher skimming a list: what it contributes, in plain "
    "words, at most 30 words. Answer with the sentence only.")
_ABSTRACT_CHARS = 4000
"""Longest abstract sent (a local model's context is small; the contribution is stated early)."""
_PREFIX = re.compile(r"^\s*(?:\*\*)?(?:tl;?dr|summary|one-sentence summary)(?:\*\*)?\s*[:\-–—]\s*", re.IGNORECASE)
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


class LLMError(RuntimeError):
    """The endpoint could not give a TL;DR; ``endpoint_down`` when asking again now is pointless (no connection,
    a timeout, an HTTP error), as opposed to one bad answer."""

    def __init__(self, message: str, endpoint_down: bool = False) -> None:
        super().__init__(message)
        self.endpoint_down = endpoint_down


def chat_url(base: str) -> str:
    """``http://host:port`` or ``…/v1`` -> the chat-completions URL."""
    base = base.strip().rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


class ChatSummarizer:
    """Asks one endpoint for TL;DRs; one HTTP connection kept for a run. Use as a context manager."""

    def __init__(self, url: str, model: str, *, timeout: float = 20.0, max_response_bytes: int = 65536,
                 api_key: str = "", max_chars: int = MAX_CHARS) -> None:
        self.url = chat_url(url)
        self.model = model
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.max_chars = max_chars
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # No environment proxies: the endpoint is named by the operator, usually on loopback.
        self.client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), headers=headers,
                                   trust_env=False, follow_redirects=False)

    @property
    def origin(self) -> str:
        return f"llm:{self.model}"

    def __enter__(self) -> "ChatSummarizer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.client.close()

    def summarize(self, title: str, abstract: str) -> str:
        """The model's TL;DR of one paper, tidied; LLMError when there is none to be had."""
        body = {"model": self.model, "temperature": 0, "max_tokens": 120, "stream": False, "messages": [
            {"role": "system", "content": PROMPT},
            {"role": "user", "content": f"Title: {title}\n\nAbstract: {abstract[:_ABSTRACT_CHARS]}"}]}
        answer = self._post(orjson.dumps(body))
        try:
            text = orjson.loads(answer)["choices"][0]["message"]["content"]
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            raise LLMError(f"{self.url} answered something that is not a chat completion") from None
        if not isinstance(text, str):
            raise LLMError(f"{self.url} answered a chat completion without text")
        text = _PREFIX.sub("", _THINKING.sub("", text)).strip().strip('"“”').strip()
        tldr = tidy(text, self.max_chars) if text else None
        if not tldr:
            raise LLMError(f"{self.url} answered an empty TL;DR")
        return tldr

    def _post(self, body: bytes) -> bytes:
        deadline = time.monotonic() + self.timeout
        try:
            with self.client.stream("POST", self.url, content=body,
                                    headers={"Content-Type": "application/json",
                                             "Accept-Encoding": "identity"}) as response:
                if response.status_code != 200:
                    raise LLMError(f"{self.url} answered HTTP {response.status_code}", endpoint_down=True)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_response_bytes:
                    raise LLMError(f"{self.url} sent {int(declared):,} bytes, over the limit of "
                                   f"{self.max_response_bytes:,} (PAPERFEED_TLDR_MAX_RESPONSE_BYTES)")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise LLMError(f"{self.url} sent more than {self.max_response_bytes:,} bytes "
                                       "(PAPERFEED_TLDR_MAX_RESPONSE_BYTES)")
                    if time.monotonic() > deadline:
                        raise LLMError(f"{self.url} took more than {self.timeout:g} s (PAPERFEED_TLDR_TIMEOUT)",
                                       endpoint_down=True)
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.TimeoutException:
            raise LLMError(f"{self.url} took more than {self.timeout:g} s (PAPERFEED_TLDR_TIMEOUT)",
                           endpoint_down=True) from None
        except httpx.HTTPError as error:
            raise LLMError(f"{self.url}: {type(error).__name__}: {error}".rstrip(": "), endpoint_down=True) from None
