"""Statuses → Posts, on the statuses real Mastodon answered (refs recordings) and on hostile HTML."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from socialdesk.networks.mastodon.content import MAX_HTML, html_to_text
from socialdesk.networks.mastodon.parse import (
    MAX_TEXT,
    BadStatus,
    handle_of,
    is_newer,
    post_from_status,
    snowflake_at,
    text_of,
    time_of,
)
from tests.support.refs import REFS

RECORDINGS = REFS / "mastodon" / "mastodonpy-cassettes" / "decoded"
HOST = "localhost:3000"


def _statuses(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        if "content" in value and "account" in value:
            yield value
        for child in value.values():
            yield from _statuses(child)
    elif isinstance(value, list):
        for child in value:
            yield from _statuses(child)


def recorded(name: str | None = None) -> list[Mapping[str, Any]]:
    files = sorted(RECORDINGS.glob(f"{name or '*'}.json"))
    if not files:
        pytest.skip(f"the recordings are not at {RECORDINGS}")
    return [s for f in files for exchange in json.loads(f.read_text()) for s in _statuses(exchange["response_body"])]


def test_every_recorded_status_becomes_a_post() -> None:
    statuses = recorded()
    assert len(statuses) > 40
    for status in statuses:
        post = post_from_status(status, instance_host=HOST)
        assert post.network == "mastodon" and post.external_id == status["id"]
        assert post.url == status["url"] and post.author.external_id == status["account"]["id"]
        assert post.author.handle == f"{status['account']['acct']}@{HOST}"
        assert "<" not in post.text and post.text
        assert post.created_at.tzinfo is not None and post.raw["id"] == status["id"]
        assert post.lang == status["language"] and not post.is_repost


def test_a_recorded_reply_names_its_parent_and_the_account_it_answers() -> None:
    [reply] = [s for s in recorded("test_status_reply") if s["in_reply_to_id"]][:1]
    post = post_from_status(reply, instance_host=HOST)
    assert post.text == "@mastodonpy_test_2@localhost:3000 same!"
    assert post.is_reply and post.in_reply_to_id == "117020583245459824"
    assert post.conversation_id == "117020583245459824"  # without a known root, the parent stands in
    assert post.in_reply_to_account == "mastodonpy_test_2@localhost:3000"
    assert post.metrics == {"reply_count": 0, "repost_count": 0, "like_count": 0, "quote_count": 0}
    assert post_from_status(reply, instance_host=HOST, conversation_id="1").conversation_id == "1"


def test_a_recorded_hashtag_reads_as_text() -> None:
    status = recorded("test_hashtag_tl")[0]
    post = post_from_status(status, instance_host=HOST)
    assert post.text == "#hoot (hashtag toot)"
    assert post.conversation_id == status["id"] and not post.is_reply


def _status(content: str, **extra: Any) -> dict[str, Any]:
    base = dict(recorded("test_status_reply")[0])
    base.update({"content": content, "spoiler_text": "", "media_attachments": [], "mentions": [], "poll": None,
                 **extra})
    return base


def test_content_warnings_media_and_polls_are_described() -> None:
    status = _status("<p>the screen is cracked</p>", spoiler_text="broken  phone",
                     media_attachments=[{"type": "image", "description": "a cracked\nscreen"},
                                        {"type": "video", "description": ""}, {"type": "gifv", "description": "x"}],
                     poll={"options": [{"title": "yes"}, {"title": "no"}]})
    assert text_of(status) == ("CW: broken phone\n\nthe screen is cracked\n\n[image: a cracked screen]\n[video]\n"
                               "[GIF: x]\n[poll: yes / no]")


def test_links_keep_their_full_address() -> None:
    html = ('<p>see <a href="https://acme.example/help/articles/12345-reset" rel="nofollow noopener" '
            'target="_blank"><span class="invisible">https://</span><span class="ellipsis">acme.example/help/'
            'articles/1234</span><span class="invisible">5-reset</span></a> or '
            '<a href="https://other.example/x/y/z">other.example/x…</a> or '
            '<a href="https://evil.example/login">https://acme.example/login</a> or '
            '<a href="https://acme.example/faq">our FAQ</a></p>')
    assert html_to_text(html) == ("see https://acme.example/help/articles/12345-reset or https://other.example/x/y/z "
                                  "or https://acme.example/login (https://evil.example/login) or "
                                  "our FAQ (https://acme.example/faq)")


def test_mentions_read_with_their_server() -> None:
    status = _status('<p><span class="h-card"><a href="https://social.example/@bob" class="u-url mention">@<span>'
                     'bob</span></a></span> and <a href="https://mastodon.example/@ann" class="u-url mention">@<span>'
                     'ann</span></a> and <a href="https://far.example/users/cy" class="mention">@cy</a></p>',
                     mentions=[{"id": "1", "acct": "bob@social.example", "url": "https://social.example/@bob"},
                               {"id": "2", "acct": "ann", "url": "https://mastodon.example/@ann"}])
    assert text_of(status, instance_host="mastodon.example") == \
        "@bob@social.example and @ann@mastodon.example and @cy@far.example"


def test_hostile_markup_leaves_only_text() -> None:
    html = ('<script>alert("x")</script><style>p{color:red}</style><p>Hello <b>wo<i>rld</i></b>'
            '<!-- hidden --> &amp; &lt;!channel&gt; &#x1F600; &nbsp;bye<iframe src="https://x">in</iframe></p>'
            '<p><a href="javascript:alert(1)">click</a> <img src="x" alt=":blobcat:"> <svg><text>no</text></svg>'
            '<template>not shown</template></p><ul><li>one</li><li>two</li></ul><blockquote>quoted</blockquote>'
            '<p>line<br>break<br/>again</p><div><p>unclosed <span>spans')
    assert html_to_text(html) == ("Hello world & <!channel> 😀 bye\n\nclick :blobcat:\n\n- one\n- two\n\nquoted\n\n"
                                  "line\nbreak\nagain\n\nunclosed spans")


def test_deep_and_oversized_markup_is_read_without_running_away() -> None:
    deep = "<div>" * 15_000 + "deep" + "</div>" * 15_000
    assert html_to_text(deep) == "deep"
    nested_link = '<a href="https://acme.example">' + "<span>" * 5_000 + "acme.example" + "</span>" * 5_000 + "</a>"
    assert html_to_text(nested_link) == "https://acme.example"
    huge = "<p>" + "word " * 200_000 + "</p><p>tail</p>"
    text = html_to_text(huge)
    assert "tail" not in text and len(text) <= MAX_HTML
    long_status = _status("<p>" + "a" * (MAX_TEXT + 500) + "</p>")
    assert len(text_of(long_status)) == MAX_TEXT and text_of(long_status).endswith("…")
    assert html_to_text("") == "" and html_to_text("plain\ntext  only") == "plain text only"


def test_a_reblog_is_a_repost_showing_the_original() -> None:
    original = dict(recorded("test_hashtag_tl")[0])
    booster = dict(original["account"], id="42", acct="bob@social.example", username="bob")
    boost = dict(original, id=str(int(original["id"]) + 1), account=booster, reblog=original, content="", url=None,
                 uri="https://social.example/users/bob/statuses/9/activity")
    post = post_from_status(boost, instance_host=HOST)
    assert post.is_repost and post.external_id == boost["id"] and post.author.handle == "bob@social.example"
    assert post.text == "#hoot (hashtag toot)" and post.url == original["url"]
    assert post.conversation_id == original["id"]


def test_remote_handles_keep_their_server_and_ids_order_by_time() -> None:
    assert handle_of("ann", "mastodon.example") == "ann@mastodon.example"
    assert handle_of("@ann@social.example", "mastodon.example") == "ann@social.example"
    when = datetime(2026, 8, 1, 13, 53, 15, 910000, tzinfo=UTC)
    floor = snowflake_at(when)
    assert time_of(floor) == when and time_of("42") is None
    recorded_id = "117020583258292382"  # made at 13:53:15.909 by the recorded server
    assert is_newer(recorded_id, snowflake_at(datetime(2026, 8, 1, 13, 53, 15, tzinfo=UTC)))
    assert not is_newer(recorded_id, floor) and is_newer("10", "9") and not is_newer("x", "1")


def test_a_status_without_an_account_is_an_error_the_sources_skip() -> None:
    with pytest.raises(BadStatus):
        post_from_status({"id": "1", "content": "<p>x</p>"}, instance_host=HOST)


def test_an_accounts_creation_day_is_read_from_recorded_statuses() -> None:
    statuses = [s for s in recorded() if s["account"].get("created_at")]
    assert len(statuses) > 40
    for status in statuses:
        author = post_from_status(status, instance_host=HOST).author
        assert author.created_at is not None and author.created_at.tzinfo is UTC
        assert author.created_at.isoformat().startswith(status["account"]["created_at"][:10])


def _fine() -> dict[str, Any]:
    return {"id": "117020583258292382", "created_at": "2026-08-01T13:53:15.909Z", "content": "<p>acme broke</p>",
            "account": {"id": "7", "acct": "ann@other.example", "username": "ann", "display_name": "Ann"}}


@pytest.mark.parametrize("change", [
    {"id": ["1"]}, {"id": True}, {"id": ""}, {"account": ["ann"]}, {"account": {"id": ["7"], "acct": "ann"}},
    {"account": {"id": "7", "acct": {"x": 1}}}, {"account": {"id": "7", "display_name": 3}},
    {"account": {"id": "7", "avatar": ["https://x"]}}, {"content": ["<p>x</p>"]}, {"spoiler_text": 5},
    {"in_reply_to_id": ["1"]}, {"media_attachments": "image"}, {"mentions": {"acct": "bob"}},
    {"language": ["en"]}, {"reblog": {"id": "5", "content": 1, "account": {"id": "7"}}},
], ids=lambda change: ",".join(change))
def test_a_status_whose_fields_have_the_wrong_type_is_refused(change: dict[str, Any]) -> None:
    assert post_from_status(_fine(), instance_host=HOST).text == "acme broke"
    with pytest.raises(BadStatus):
        post_from_status({**_fine(), **change}, instance_host=HOST)


def test_anything_else_reading_a_status_raises_is_a_bad_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the callers skip: a parser's own failure (BeautifulSoup's ParserRejectedMarkup was an Exception)."""
    def rejected(*args: Any, **kwargs: Any) -> str:
        raise Exception("The markup you provided was rejected by the parser")  # noqa: TRY002 - as bs4 does

    monkeypatch.setattr("socialdesk.networks.mastodon.parse.html_to_text", rejected)
    with pytest.raises(BadStatus):
        post_from_status(_fine(), instance_host=HOST)


def test_lone_surrogates_anywhere_in_the_text_read_as_the_replacement_character() -> None:
    status = {**_fine(), "spoiler_text": "cw \ud800", "content": "<p>acme \udfff</p>",
              "media_attachments": [{"type": "image", "description": "a \udc00"}]}
    assert text_of(status) == "CW: cw \ufffd\n\nacme \ufffd\n\n[image: a \ufffd]"
