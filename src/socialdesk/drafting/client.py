"""One chat completion from an OpenAI-compatible endpoint: POST {url}/chat/completions.

Errors, all `DraftError`, whose message says what happened and what to do (shown in the
reply modal as it is):
- `Unreachable`: no connection (wrong URL, server down);
- `TimedOut`: no answer within the timeout;
- `Refused`: 401/403, the key was not accepted;
- `NoSuchModel`: 404, the server has no such model (or the URL is not an API base);
- `Busy`: 429, too many requests (Retry-After, when given, is in the message);
- `ServerFailed`: any other error status (5xx…);
- `Malformed`: the answer is not a chat completion;
- `EmptyDraft`: a completion with no text in its first choice.
The API key is sent as a bearer token and never appears in a message or a log line: a
server that echoes it in an error has it replaced.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 20.0
CONNECT_SECONDS = 5.0
SERVER_SAID = 200  # characters of a server's own error message kept in ours
# Reasoning models (served by Ollama, vLLM…) put their thinking before the answer.
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_QUOTES = ('""', "''", "“”", "«»", "„“")  # pairs a model may wrap a whole draft in


class DraftError(Exception):
    """Base of what can go wrong asking for a draft; `str()` is the message for the agent."""


class Unreachable(DraftError):
    pass


class TimedOut(DraftError):
    pass


class Refused(DraftError):
    pass


class NoSuchModel(DraftError):
    pass


class Busy(DraftError):
    pass


class ServerFailed(DraftError):
    pass


class Malformed(DraftError):
    pass


class EmptyDraft(DraftError):
    pass


@dataclass(frozen=True)
class Completion:
    text: str  # the first choice's content, stripped (a reasoning model's <think> part removed)
    model: str  # the model that answered, as the server names it
    cut: bool  # the server stopped at max_tokens: the draft may end mid-sentence


class Drafter:
    """Asks one endpoint for chat completions; made by `app.build` when SOCIALDESK_LLM_URL is set."""

    def __init__(self, *, url: str, model: str, api_key: str | None, http: httpx.Client,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self._api_key = api_key or None
        self._http = http

    def __repr__(self) -> str:  # never the key
        return f"Drafter(url={self.url!r}, model={self.model!r}, key={'set' if self._api_key else 'none'})"

    @property
    def where(self) -> str:
        """The server, as an agent can name it to an admin (no path, no credentials)."""
        parts = urlsplit(self.url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else self.url

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int) -> Completion:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.3,
                "stream": False}
        try:
            answer = self._http.post(f"{self.url}/chat/completions", json=body, headers=headers,
                                     timeout=httpx.Timeout(self.timeout, connect=min(CONNECT_SECONDS, self.timeout)))
        except httpx.TimeoutException:
            raise TimedOut(f"The language model at {self.where} did not answer within {self.timeout:g} s, so there is "
                           "no draft. Try again, or write the reply yourself; a smaller model answers faster.") from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"socialdesk could not reach the language model at {self.where} "
                              f"({type(exc).__name__}), so there is no draft. Write the reply yourself, and ask an "
                              "admin to check SOCIALDESK_LLM_URL and that the server is running.") from None
        if answer.status_code != 200:
            raise self._refusal(answer)
        return self._completion(answer)

    def _refusal(self, answer: httpx.Response) -> DraftError:
        status, said = answer.status_code, self._server_said(answer)
        log.warning("the language model at %s answered %d%s", self.where, status, f": {said}" if said else "")
        said = f" It said: “{said}”." if said else ""
        if status in (401, 403):
            return Refused(f"The language model at {self.where} refused socialdesk's key ({status}).{said} Ask an "
                           "admin to check SOCIALDESK_LLM_API_KEY; meanwhile, write the reply yourself.")
        if status == 404:
            return NoSuchModel(f"The server at {self.where} has no model “{self.model}” or no chat-completions API "
                               f"(404).{said} Ask an admin to check SOCIALDESK_LLM_MODEL (for Ollama: `ollama pull "
                               f"{self.model}`) and that SOCIALDESK_LLM_URL ends with /v1.")
        if status == 429:
            wait = answer.headers.get("retry-after", "")
            when = f"in {wait} s" if wait.isdigit() and len(wait) < 6 else "in a minute"
            return Busy(f"The language model is busy (429: too many requests).{said} Try again {when}.")
        return ServerFailed(f"The language model at {self.where} failed ({status}).{said} Try again in a minute; "
                            "if it keeps failing, ask an admin to look at the server's logs.")

    def _completion(self, answer: httpx.Response) -> Completion:
        malformed = Malformed(f"The server at {self.where} did not answer with a chat completion, so there is no "
                              "draft. Ask an admin to check that SOCIALDESK_LLM_URL is an OpenAI-compatible API "
                              "base (like http://localhost:11434/v1).")
        try:
            data = answer.json()
        except ValueError:
            raise malformed from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list):
            raise malformed
        first = choices[0] if choices and isinstance(choices[0], dict) else {}
        message = first.get("message") if isinstance(first.get("message"), dict) else {}
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise malformed
        text = _THINKING.sub("", content or "").strip()
        if len(text) >= 2 and text[0] + text[-1] in _QUOTES:  # a draft "quoted" as a whole
            text = text[1:-1].strip()
        if not text:
            raise EmptyDraft("The language model answered with an empty draft. Try again, or write the reply "
                             "yourself.")
        model = data.get("model")
        return Completion(text=text, model=model if isinstance(model, str) and model else self.model,
                          cut=first.get("finish_reason") == "length")

    def _server_said(self, answer: httpx.Response) -> str:
        """The server's own error message, short, on one line, without our key."""
        try:
            data = answer.json()
        except ValueError:
            said = answer.text
        else:
            error = data.get("error") if isinstance(data, dict) else None
            said = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else ""
            said = said if isinstance(said, str) else json.dumps(said)[:SERVER_SAID]
        said = " ".join(said.split())
        if self._api_key:
            said = said.replace(self._api_key, "[key]")
        return said[:SERVER_SAID - 1] + "…" if len(said) > SERVER_SAID else said


__all__ = ["Busy", "Completion", "DraftError", "Drafter", "EmptyDraft", "Malformed", "NoSuchModel", "Refused",
           "ServerFailed", "TimedOut", "Unreachable"]
