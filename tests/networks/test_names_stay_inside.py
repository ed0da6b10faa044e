"""Nothing outside `socialdesk/networks/` names a network: adding one is adding a package."""

from __future__ import annotations

import re
from pathlib import Path

import socialdesk

SRC = Path(socialdesk.__file__).resolve().parent
# Names of networks and their products, hosts and ids; `X-Foo` HTTP headers and `X` as a
# variable are not the network, so X is only matched where it reads as the network.
NAMES = re.compile(
    r"(?i:bluesky|bsky|atproto|jetstream|mastodon|fediverse|twitter|tweet|t\.co/|x\.com|\bdid:plc)"
    r"|\bX\b(?![-_])(?!\s*=)|[\"']x[\"']|\bNetwork\.X\b|\bx_(?:api|bearer|client|access|redirect|authorize)"
)


def offending_lines(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_dir() or "networks" in path.relative_to(root).parts[:1]:
            continue
        if path.suffix not in (".py", ".js", ".html", ".css", ".md", ".json", ".mako"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if NAMES.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()[:120]}")
    return found


def test_no_network_is_named_outside_its_package():
    assert offending_lines(SRC) == []


def test_the_grep_finds_a_name_where_there_is_one(tmp_path):
    (tmp_path / "card.py").write_text('LABEL = {"x": "X"}\nheaders = {"X-Slack-Signature": sig}\n')
    (tmp_path / "stream.py").write_text("# reads Jetstream\nX = 3\n")
    (tmp_path / "networks").mkdir()
    (tmp_path / "networks" / "fine.py").write_text('NAME = "x"  # X is named here, and that is the place\n')
    assert offending_lines(tmp_path) == ['card.py:1: LABEL = {"x": "X"}', "stream.py:1: # reads Jetstream"]
