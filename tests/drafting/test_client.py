"""The chat-completions client (drafting.client) against FakeChat on 127.0.0.1: what it sends, what it
makes of each answer, and that the API key is never in an error, a log line or a repr."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import httpx
import pytest

from socialdesk.drafting import client as c
from socialdesk.drafting.fake import NO_ANSWER, FakeChat, canned_reply
from socialdesk.logs import RedactingFilter

KEY = "sk-proj-Q2xpZW50VGVzdEtleQ-9f8e7d"
MESSAGES = [{"role": "system", "content": "You draft replies."}, {"role": "user", "content": "Draft it."}]


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    with FakeChat(api_key=KEY, models=("m1",)) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def drafter(chat: FakeChat, http: httpx.Client, **kw) -> c.Drafter:
    return c.Drafter(**({"url": chat.url + "/", "model": "m1", "api_key": KEY, "http": http, "timeout": 1.0} | kw))


def test_a_completion_is_asked_as_openai_documents_and_read_from_the_first_choice(chat, http):
    done = drafter(chat, http).complete(MESSAGES, max_tokens=141)
    assert done == c.Completion(text=NO_ANSWER, model="m1", cut=False)
    [request] = chat.requests
    assert request.path == "/v1/chat/completions"  # the trailing slash of the URL is not doubled
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"model": "m1", "messages": MESSAGES, "max_tokens": 141, "temperature": 0.3,
                              "stream": False}


def test_the_fake_answers_in_the_chat_completion_shape(chat, http):
    answer = http.post(chat.url + "/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                       json={"model": "m1", "messages": MESSAGES, "max_tokens": 5}).json()
    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    assert answer["model"] == "m1" and isinstance(answer["created"], int)
    [choice] = answer["choices"]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "length"  # 5 tokens: cut
    assert len(choice["message"]["content"]) == 15
    assert set(answer["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    bare = http.post(chat.url.removesuffix("/v1") + "/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                     json={"model": "m1", "messages": MESSAGES})
    assert bare.status_code == 200  # /chat/completions without /v1, as some servers serve it
    assert canned_reply({"messages": [{"content": "1. FAQ entry. Question: Q?\n   Answer: Do X."}]}) == \
        "Sorry about that! Do X."


@pytest.mark.parametrize("fault, error, says", [
    (lambda chat: chat.fail_next(500, message="CUDA out of memory"), c.ServerFailed,
     "failed (500). It said: “CUDA out of memory”. Try again in a minute; if it keeps failing, ask an admin"),
    (lambda chat: chat.fail_next(502, message="<html>" + "bad gateway " * 40), c.ServerFailed, "…”. Try again"),
    (lambda chat: chat.fail_next(429, headers={"Retry-After": "12"}), c.Busy, "Try again in 12 s."),
    (lambda chat: chat.fail_next(429, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}), c.Busy,
     "Try again in a minute."),
    (lambda chat: chat.fail_next(403), c.Refused, "refused socialdesk's key (403)."),
    (lambda chat: chat.answer_next(b"{not json"), c.Malformed, "did not answer with a chat completion"),
    (lambda chat: chat.answer_next({"choices": "many"}), c.Malformed, "like http://localhost:11434/v1"),
    (lambda chat: chat.answer_next({"choices": [{"message": {"content": ["a", "b"]}}]}), c.Malformed, "completion"),
    (lambda chat: chat.answer_next({"choices": []}), c.EmptyDraft, "an empty draft. Try again"),
    (lambda chat: chat.answer_next({"choices": [{"message": {"content": None}}]}), c.EmptyDraft, "empty draft"),
    (lambda chat: chat.answer_next({"choices": [{"message": {"content": "<think>hmm</think>  "}}]}), c.EmptyDraft,
     "empty draft"),
    (lambda chat: chat.delay_next(1.5), c.TimedOut, "did not answer within 1 s"),
], ids=["500", "502-long", "429", "429-date", "403", "not-json", "choices-not-a-list", "content-not-text",
        "no-choice", "null-content", "only-thinking", "timeout"])
def test_every_failure_is_one_error_that_says_what_to_do(chat, http, fault, error, says):
    fault(chat)
    with pytest.raises(error) as raised:
        drafter(chat, http).complete(MESSAGES, max_tokens=100)
    assert says in str(raised.value) and isinstance(raised.value, c.DraftError)
    assert KEY not in str(raised.value)


def test_a_wrong_key_echoed_by_the_server_is_never_repeated(http, caplog):
    with FakeChat(api_key="sk-another-one") as chat, caplog.at_level(logging.DEBUG):
        with pytest.raises(c.Refused) as raised:
            drafter(chat, http).complete(MESSAGES, max_tokens=50)
        assert chat.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert "It said: “Incorrect API key provided: [key].”" in str(raised.value)
    assert "SOCIALDESK_LLM_API_KEY" in str(raised.value)
    assert [r.levelname for r in caplog.records if r.name == "socialdesk.drafting.client"] == ["WARNING"]
    assert KEY not in "\n".join(r.getMessage() for r in caplog.records)
    assert KEY not in repr(drafter(chat, http)) and "key=set" in repr(drafter(chat, http))


def test_a_bearer_header_in_any_log_line_is_masked():
    """Belt and braces: a library logging our request headers would still not print the key."""
    record = logging.LogRecord("httpx", logging.DEBUG, __file__, 1, "headers: %s",
                               (json.dumps({"Authorization": f"Bearer {KEY}"}),), None)
    RedactingFilter().filter(record)
    assert KEY not in record.getMessage()
    bare = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed with key %s", (KEY,), None)
    RedactingFilter().filter(bare)
    assert KEY not in bare.getMessage() and bare.getMessage().startswith("failed with key sk-pr…[redacted]")


def test_no_key_no_header_and_an_unknown_model_or_server_is_named(chat, http):
    with FakeChat(models=("m1",)) as open_chat:
        drafter(open_chat, http, api_key=None).complete(MESSAGES, max_tokens=50)
        assert "authorization" not in open_chat.requests[0].headers
        with pytest.raises(c.NoSuchModel) as raised:
            drafter(open_chat, http, model="llama9", api_key=None).complete(MESSAGES, max_tokens=50)
    assert "no model “llama9”" in str(raised.value) and "`ollama pull llama9`" in str(raised.value)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(c.Unreachable) as raised:
        c.Drafter(url=f"http://127.0.0.1:{port}/v1", model="m1", api_key=KEY, http=http, timeout=1).complete(
            MESSAGES, max_tokens=50)
    assert str(raised.value).startswith(f"socialdesk could not reach the language model at 127.0.0.1:{port} "
                                        "(ConnectError)")


def test_thinking_quotes_and_the_served_model_name_are_handled(chat, http):
    chat.answer_next({"model": "llama3.2:3b", "choices": [{"message": {"content": "<think>\nplan\n</think>\n“Hello!”"},
                                                           "finish_reason": "length"}]})
    assert drafter(chat, http).complete(MESSAGES, max_tokens=50) == c.Completion("Hello!", "llama3.2:3b", True)
