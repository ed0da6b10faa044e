"""`socialdesk demo` in a real browser: cards arrive, alice claims and replies, bob sees it.

Drives the demo workspace's page in the system Chromium (Debian's `chromium`, see
scripts/install-browser.sh) through Playwright; Playwright's own browsers are never used.
Saves test-artifacts/demo.png and docs/demo.png (the README's screenshot).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.waiting import wait_for

CHROMIUM = Path("/usr/bin/chromium")
REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
REPLY_TEXT = "So sorry about the battery, Mo! Please DM us your order number and we'll swap it."
DANA_REPLY = "Sorry about the screen, Dana! Acme Care covers one screen repair a year."
STORM_REPLY = "{author} the wifi drops after update 4.2 are a known bug: the fix (4.2.1) is rolling out today. Sorry!"


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(what, pytrace=False)
    pytest.skip(what)


def _demo_command() -> list[str]:
    """`python -m socialdesk demo` once the CLI has it, else the module's own entry point."""
    wired = subprocess.run([sys.executable, "-m", "socialdesk", "demo", "--help"], capture_output=True, timeout=30)
    if wired.returncode == 0:
        return [sys.executable, "-m", "socialdesk", "demo"]
    return [sys.executable, "-m", "socialdesk.demo.run"]


def _browser_api():  # type: ignore[no-untyped-def]
    """playwright.sync_api, when the system Chromium and the package are there (else skip, or fail in CI)."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing: run scripts/install-browser.sh")
    try:
        from playwright import sync_api
    except ImportError:
        _missing("the playwright package is missing: pip install -e '.[dev]'")
    return sync_api


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, list[str], subprocess.Popen, threading.Event]]:
    """The demo's URL, its output lines so far, the process, and an event set once all its output is read."""
    _browser_api()  # skip before starting anything
    port = free_port()
    env = {**os.environ, "SOCIALDESK_LOG_LEVEL": "INFO"}
    proc = subprocess.Popen(
        [*_demo_command(), "--speed", "10", "--port", str(port), "--db", str(tmp_path / "demo.db"), "--duration", "85"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env,
    )
    lines: list[str] = []
    finished = threading.Event()

    def read() -> None:
        try:
            lines.extend(proc.stdout)  # type: ignore[arg-type]  # until the process closes it
        finally:
            finished.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        pattern = re.compile(rf"Open in your browser:\s+(http://127\.0\.0\.1:{port}\S*)")
        url = wait_for(lambda: next((m.group(1) for line in list(lines) if (m := pattern.search(line))), None)
                       or (proc.poll() is not None and "exited") or None, timeout=30, what="the demo's URL", every=0.1)
        assert url != "exited", "the demo exited early:\n" + "".join(lines)
        yield url, lines, proc, finished
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(5)


def _act_as(page, name: str) -> None:  # type: ignore[no-untyped-def]
    switch = page.locator('[data-testid="agent-switch"]')
    options = switch.locator("option")
    options.first.wait_for(state="attached")
    for i in range(options.count()):
        option = options.nth(i)
        if name in (option.inner_text() or "").casefold() or name == option.get_attribute("value"):
            switch.select_option(value=option.get_attribute("value"))
            return
    raise AssertionError(f"no agent {name!r} in the picker: {options.all_inner_texts()}")


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_demo_claim_reply_and_another_agent_sees_it(
        demo: tuple[str, list[str], subprocess.Popen, threading.Event], tmp_path: Path) -> None:
    sync_api = _browser_api()
    expect = sync_api.expect
    url, lines, proc, finished = demo
    output = lambda: "".join(lines)  # noqa: E731

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(15_000)
            page.goto(url)
            _act_as(page, "alice")
            page.locator('[data-testid="channel"][data-name="social-care"]').click()

            # A card arrives (mo_rivera's post is seeded before start) and alice claims it.
            card = page.locator('[data-testid="message"]').filter(has_text="battery goes from 100%").first
            expect(card).to_be_visible(timeout=30_000)
            ts = card.get_attribute("data-ts")
            assert ts, "card without data-ts"
            card = page.locator(f'[data-testid="message"][data-ts="{ts}"]').first
            card.get_by_role("button", name="Claim", exact=True).click()
            expect(card).to_contain_text("🙋 @alice")  # the status line: claimed by alice
            # Slack's date tokens are drawn as Slack draws them ("claimed just now", "posted today 14:05"),
            # not as their fallback ("2026-11-27 14:05 UTC", for clients that cannot).
            expect(card).not_to_contain_text(" UTC")

            # Reply: the modal's textarea counts as the network does while typing (one over its limit shows),
            # submit, and the card says Replied.
            card.get_by_role("button", name="Reply", exact=True).click()
            modal = page.locator('[data-testid="modal"]')
            expect(modal).to_be_visible()
            modal.locator("textarea").first.fill("a" * 281)
            expect(modal).to_contain_text("281/280 characters, as X counts them: 1 too many")  # mo_rivera is on X
            expect(modal).not_to_contain_text("3000")  # Slack's box limit is not the network's
            modal.locator("textarea").first.fill(REPLY_TEXT)
            expect(modal).to_contain_text(f"{len(REPLY_TEXT)}/")
            expect(modal.locator("textarea").first).to_have_value(REPLY_TEXT)  # the redraw kept what was typed
            modal.locator('[data-testid="modal-submit"]').click()
            expect(modal).to_be_hidden()
            expect(card).to_contain_text("Replied")

            # The reply is logged in the card's thread.
            card.locator('[data-testid="open-thread"]').click()
            thread = page.locator('[data-testid="thread"]')
            expect(thread).to_be_visible()
            expect(thread).to_contain_text(REPLY_TEXT[:40])

            # Triage on the cards: the cracked screen reads complaint (not "positive"), and the giveaway was
            # filed as likely spam, collapsed with its reasons and a Not spam button.
            dana = page.locator('[data-testid="message"]').filter(has_text="cracked like a spiderweb").first
            expect(dana).to_contain_text("complaint")

            # Dana writes back only once she has been answered; her answer joins her card's thread.
            dana.scroll_into_view_if_needed()
            dana.get_by_role("button", name="Reply", exact=True).click()
            expect(modal).to_be_visible()
            modal.locator("textarea").first.fill(DANA_REPLY)
            modal.locator('[data-testid="modal-submit"]').click()
            expect(modal).to_be_hidden()
            dana.locator('[data-testid="open-thread"]').click()
            expect(thread).to_contain_text("getting back to me", timeout=30_000)

            # The local X page shows the replies where the customers see them.
            pages = page.locator('[data-testid="local-page"]')
            expect(pages).to_have_count(3)
            local_x = pages.filter(has_text="Local X").first.get_attribute("href")
            network = browser.new_page()
            network.goto(local_x)
            expect(network.locator("body")).to_contain_text(REPLY_TEXT[:40])
            expect(network.locator("body")).to_contain_text("getting back to me")
            network.screenshot(path=str(REPO_ROOT / "test-artifacts" / "demo-local-x.png"))
            network.close()
            spam = page.locator('[data-testid="message"]').filter(has_text="FREE phone").first
            expect(spam).to_contain_text("likely spam", timeout=30_000)
            expect(spam.get_by_role("button", name="Not spam", exact=True)).to_be_visible()

            # bob sees the same card state.
            _act_as(page, "bob")
            page.locator('[data-testid="channel"][data-name="social-care"]').click()
            expect(page.locator('[data-testid="message"]').filter(has_text="wifi").first).to_be_visible(timeout=30_000)
            bobs = page.locator(f'[data-testid="message"][data-ts="{ts}"]').first
            expect(bobs).to_contain_text("Replied")
            bobs.scroll_into_view_if_needed()
            bobs.locator('[data-testid="open-thread"]').click()
            expect(thread).to_contain_text(REPLY_TEXT[:40])

            # bob adds an internal note, then resolves the case.
            bobs.get_by_role("button", name="Note", exact=True).click()
            expect(modal).to_be_visible()
            modal.locator("textarea").first.fill("Swap approved, tracking sent by DM.")
            modal.locator('[data-testid="modal-submit"]').click()
            expect(modal).to_be_hidden()
            expect(thread).to_contain_text("Swap approved, tracking sent by DM.")
            bobs.get_by_role("button", name="Resolve", exact=True).click()  # asks how: answered (it was replied)
            expect(modal).to_be_visible()
            modal.locator('select[data-action-id="resolve_outcome"]').select_option("answered")
            modal.locator('[data-testid="modal-submit"]').click()
            expect(modal).to_be_hidden()
            expect(bobs).to_contain_text("Resolved · answered")
            expect(bobs.get_by_role("button", name="Reopen", exact=True)).to_be_visible()

            # The overflow menu: bob assigns Lena's shipping question to alice.
            lena = page.locator('[data-testid="message"]').filter(has_text="still says 'preparing'").first
            lena.scroll_into_view_if_needed()
            lena.locator('[data-testid="overflow"]').click()
            lena.get_by_role("menuitem", name="Assign…").click()
            expect(modal).to_be_visible()
            modal.locator("select").first.select_option(label="Alice (@alice)")
            modal.locator('[data-testid="modal-submit"]').click()
            expect(modal).to_be_hidden()
            expect(lena).to_contain_text("🙋 @alice · assigned by @bob")

            artifacts = REPO_ROOT / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            shot = artifacts / "demo.png"
            page.screenshot(path=str(shot))
            if os.environ.get("UPDATE_SCREENSHOT") == "1":  # the README's picture
                shutil.copyfile(shot, REPO_ROOT / "docs" / "demo.png")

            # The wifi storm is one incident card: its six cases are in the card's thread, and bob answers
            # them all with one reviewed reply, which reaches each customer once.
            storm = page.locator('[data-testid="message"]').filter(has_text="6 posts like this").first
            expect(storm).to_be_visible(timeout=30_000)
            expect(page.locator('[data-testid="message"]').filter(has_text="posts like this")).to_have_count(1)
            storm.scroll_into_view_if_needed()
            storm.locator('[data-testid="open-thread"]').click()
            expect(thread.get_by_role("button", name="Split out", exact=True)).to_have_count(5)
            storm.get_by_role("button", name="Reply to all…", exact=True).click()
            expect(modal).to_be_visible()
            expect(modal).to_contain_text("6 customers")
            modal.locator("textarea").first.fill(STORM_REPLY)
            modal.locator('[data-testid="modal-submit"]').click()
            expect(modal).to_be_hidden()
            expect(thread).to_contain_text("replied to all (6 sent)", timeout=30_000)
            expect(storm).to_contain_text("Replied")

            # carol leads the team (an admin): her App Home manages rules and digests.
            _act_as(page, "carol")
            page.locator("#app-home").click()
            home = page.locator('[data-testid="home-view"]')
            expect(home).to_contain_text("Waiting for a claim", timeout=30_000)
            expect(home).to_contain_text("Rule 1")
            # App Home opens at the top, and channels show by name (<#C…>), not by id.
            assert page.evaluate("document.getElementById('messages').scrollTop") == 0
            expect(home).to_contain_text("#social-care")
            expect(home).not_to_contain_text("#C0")
            home.get_by_role("button", name="Add digest…").click()
            expect(modal).to_be_visible()
            modal.locator("input[type=text]").first.fill("daily 09:00")
            modal.locator("select").first.select_option(label="#social-care")
            modal.locator('[data-testid="modal-submit"]').click()
            expect(modal).to_be_hidden()
            expect(home).to_contain_text("daily 09:00")

            # A case link (a permalink) jumps to the card in its channel.
            home.locator("a.permalink").first.click()
            expect(page.locator("#channel-header")).to_have_text("# social-care")
            expect(page.locator("#messages .message.highlight")).to_have_count(1)

            # /social export delivers a file in carol's DM (App Home's messages), which opens.
            page.locator('[data-testid="composer"]').fill("/social export md")
            page.locator('[data-testid="composer"]').press("Enter")
            expect(page.locator('[data-testid="ephemeral"]').filter(has_text="Preparing your export")).to_be_visible()
            unread = page.locator('[data-testid="home-unread"]')
            expect(unread).to_be_visible(timeout=30_000)  # the DM is unread until App Home is opened
            page.locator("#app-home").click()
            expect(unread).to_be_hidden()
            file = page.locator('[data-testid="file"]').first
            expect(file).to_be_visible(timeout=30_000)
            expect(file).to_contain_text("socialdesk-cases-")
            href = file.locator("a.file-name").get_attribute("href")
            assert "## Case" in httpx.get(href, timeout=10).text
        except Exception:
            with contextlib.suppress(Exception):
                (REPO_ROOT / "test-artifacts").mkdir(exist_ok=True)
                page.screenshot(path=str(REPO_ROOT / "test-artifacts" / "demo-failure.png"))
            print(output())
            raise
        finally:
            browser.close()

    assert proc.poll() is None, "the demo stopped during the test:\n" + output()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0, output()
    wait_for(finished.is_set, timeout=10, what="the demo's output, read to its end")
    assert "demo stopped" in output()
    # A browser that leaves mid long-poll is a broken pipe in the workspace's log, not a failure.
    tracebacks = output().count("Traceback (most recent call last)")
    disconnects = output().count("BrokenPipeError") + output().count("ConnectionResetError")
    assert tracebacks <= disconnects, output()
    # The day's authors and posts vary enough for both priorities (keywords, followers, a verified author).
    with sqlite3.connect(tmp_path / "demo.db") as db:
        priorities = dict(db.execute("SELECT priority, COUNT(*) FROM cases GROUP BY priority").fetchall())
    assert priorities.get("high", 0) >= 3 and priorities.get("normal", 0) >= 3, priorities

