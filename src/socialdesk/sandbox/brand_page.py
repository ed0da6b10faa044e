"""A local network's page for people: what the brand's account posted there, each post under
the one it answers and above the customers' answers to it, so a reply sent from Slack can be
seen where the customer sees it. Each network's local stand-in (networks/<name>/fake/local.py)
serves one from its fake's posts; the demo's sidebar links to it.

Standard library only; every value is HTML-escaped. The page reloads itself every few seconds.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

REFRESH_SECONDS = 5


@dataclass(frozen=True)
class PagePost:
    handle: str  # without "@"
    name: str
    text: str  # plain text, as the author wrote it
    at: str  # when, as the network says it (ISO 8601)


@dataclass(frozen=True)
class BrandPost:
    post: PagePost
    answers: PagePost | None = None  # the post it replies to
    replies: Sequence[PagePost] = field(default_factory=tuple)  # what people answered it


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f5f8fa; color: #0f1419; }
header { background: #fff; border-bottom: 1px solid #e1e8ed; padding: 12px 20px; }
header h1 { font-size: 18px; margin: 0; } header p { margin: 4px 0 0; color: #536471; font-size: 13px; }
main { max-width: 640px; margin: 16px auto; padding: 0 12px; }
.thread { background: #fff; border: 1px solid #e1e8ed; border-radius: 12px; margin-bottom: 14px; padding: 10px 14px; }
.post { padding: 6px 0; } .post + .post { border-top: 1px solid #eff3f4; }
.who { font-weight: 600; } .handle, .at { color: #536471; font-size: 13px; }
.text { white-space: pre-wrap; margin-top: 2px; } .brand { background: #f2f9ff; margin: 0 -14px; padding: 6px 14px; }
.label { color: #536471; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.empty { color: #536471; text-align: center; padding: 40px 0; }
"""


def render(title: str, account: str, items: Sequence[BrandPost]) -> str:
    """The page (pure): newest brand post first."""
    e = html.escape

    def post(p: PagePost, css: str = "") -> str:
        return (f'<div class="post {css}" data-testid="post"><span class="who">{e(p.name or p.handle)}</span> '
                f'<span class="handle">@{e(p.handle)}</span> <span class="at">· {e(p.at)}</span>'
                f'<div class="text">{e(p.text)}</div></div>')

    threads = []
    for item in items:
        parts = []
        if item.answers is not None:
            parts.append('<div class="label">In reply to</div>' + post(item.answers))
        parts.append(post(item.post, "brand"))
        if item.replies:
            parts.append('<div class="label">Replies</div>' + "".join(post(r) for r in item.replies))
        threads.append(f'<section class="thread" data-testid="brand-post">{"".join(parts)}</section>')
    body = "".join(threads) or ('<p class="empty">Nothing yet. Reply to a case in the demo workspace: the reply '
                                "appears here, as the customer sees it.</p>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}"><style>{_STYLE}</style></head><body>'
            f'<header><h1>{e(title)}</h1><p>What @{e(account)} posted, as people on this network see it '
            f"(a local stand-in: nothing here left this machine). Reloads every {REFRESH_SECONDS} s.</p></header>"
            f"<main>{body}</main></body></html>")


class BrandPage:
    """Serves `render(title, account, posts())` at / and the same as JSON at /posts.json."""

    def __init__(self, *, title: str, account: str, posts: Callable[[], Sequence[BrandPost]],
                 host: str = "127.0.0.1", port: int = 0) -> None:
        page = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: the page reloads itself
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                if path in ("/", "/index.html"):
                    body, ctype = render(page.title, page.account, page.posts()).encode(), "text/html; charset=utf-8"
                elif path == "/posts.json":
                    body = json.dumps([asdict(p) for p in page.posts()]).encode()
                    ctype = "application/json"
                else:
                    self.send_error(404, "Not here: the page is at /")
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        self.title, self.account, self.posts = title, account, posts
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> BrandPage:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), name="brand-page", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
