"""A local network's page: what the brand posted, under the post it answers, escaped, served over HTTP."""

from __future__ import annotations

import httpx

from socialdesk.sandbox.brand_page import BrandPage, BrandPost, PagePost, render

CUSTOMER = PagePost(handle="dana_k", name="Dana <b>K</b>", text="My screen cracked <script>x()</script>",
                    at="2026-12-01T10:00:00Z")
REPLY = PagePost(handle="brand", name="Brand", text="Sorry & thanks: DM us", at="2026-12-01T10:05:00Z")
BACK = PagePost(handle="dana_k", name="Dana", text="Thanks!", at="2026-12-01T10:06:00Z")


def test_the_page_shows_each_brand_post_under_what_it_answers_and_escapes_everything() -> None:
    page = render("Local A", "brand", [BrandPost(REPLY, CUSTOMER, (BACK,))])
    assert "<script>" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page and "Dana &lt;b&gt;K&lt;/b&gt;" in page
    assert page.index("My screen cracked") < page.index("Sorry &amp; thanks") < page.index("Thanks!")
    assert "In reply to" in page and "Replies" in page and "What @brand posted" in page


def test_an_empty_page_says_how_to_fill_it() -> None:
    assert "Reply to a case in the demo workspace" in render("Local A", "brand", [])


def test_the_page_is_served_with_its_posts_as_they_are_now() -> None:
    posts: list[BrandPost] = []
    page = BrandPage(title="Local A", account="brand", posts=lambda: posts).start()
    try:
        assert "Nothing yet" in httpx.get(page.url).text
        posts.append(BrandPost(REPLY, CUSTOMER))
        assert "Sorry &amp; thanks" in httpx.get(page.url).text
        [shown] = httpx.get(page.url + "posts.json").json()
        assert shown["post"]["text"] == "Sorry & thanks: DM us" and shown["answers"]["handle"] == "dana_k"
        assert httpx.get(page.url + "nope").status_code == 404
    finally:
        page.stop()
