"""Rows 14 and 15: webhook URLs that point inside (server-side request forgery), and slow clients
holding hundreds of sockets open (slowloris)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import httpx

from faults.common import ACK_LIMIT, Bench, RowResult, Stack, note_log
from tests.support.slack_signing import FORM, sign

# --- 14 ----------------------------------------------------------------------------------------


def internal_urls() -> dict[str, str]:
    """what -> URL; every one must be refused when it is added (the app runs without the loopback allowance)."""
    urls = {
        "127.0.0.1 (no loopback allowance)": "http://127.0.0.1:8080/hooks/socialdesk",
        "169.254.169.254 (cloud metadata)": "https://169.254.169.254/latest/meta-data/",
        "10.x": "https://10.20.30.40/hooks/socialdesk",
        "[::1]": "https://[::1]:8443/hooks/socialdesk",
        "localhost (a name resolving to loopback)": "https://localhost/hooks/socialdesk",
        "[::ffff:169.254.169.254] (IPv4 in IPv6)": "https://[::ffff:169.254.169.254]/latest/",
        "0x7f000001 (loopback in hex)": "https://0x7f000001/hooks/socialdesk",
        "127.1 (short loopback)": "https://127.1/hooks/socialdesk",
    }
    host = socket.gethostname()
    try:
        if host != "localhost" and ipaddress.ip_address(socket.getaddrinfo(host, 443)[0][4][0]).is_loopback:
            urls[f"{host} (this machine's name, loopback in /etc/hosts)"] = f"https://{host}/hooks/socialdesk"
    except (OSError, ValueError):
        pass
    return urls


def webhook_ssrf(bench: Bench, tries: int) -> RowResult:
    r = RowResult(tries=tries)
    urls = internal_urls()
    reasons: dict[str, str] = {}
    with Stack(bench, "webhook-ssrf") as s:
        s.start()
        channel = s.emu.new_channel("hooks")
        for i in range(tries):
            for what, url in urls.items():
                cli = s.app.cli("webhooks", "add", url, check=False)
                r.check(cli.returncode != 0 and "added" not in cli.stdout,
                        f"CLI: {what} accepted: {cli.stdout.strip()[:120]!r}")
                if i == 0:
                    reasons[what] = cli.stderr.strip().removeprefix("socialdesk: ").split(": webhooks go")[0][:90]
                resp, seconds = s.send(s.command("mia", f"webhooks add {url}", channel))
                if r.check(resp.status_code == 200, f"/social webhooks add, {what}: HTTP {resp.status_code}"):
                    r.acks.append(seconds)
                    answer = resp.json().get("text", "") if resp.content else ""
                    r.check(not answer.startswith("Webhook ") or " added" not in answer,
                            f"/social: {what} accepted: {answer[:120]!r}")
        r.notes.append("refused as: " + "; ".join(f"{w.split(' (')[0]} -> {why}" for w, why in reasons.items()))
        stored = [row[0] for row in s.rows("SELECT url FROM webhooks")]
        r.duplicated = len(stored)
        r.check(not stored, f"webhooks stored: {stored}")
        note_log(r, s, fail=False)
    r.done = (f"{len(urls)} internal webhook URLs ({', '.join(k.split(' (')[0] for k in urls)}) added with "
              f"`socialdesk webhooks add` and `/social webhooks add` as an admin, {tries}x: exit codes, answers "
              "and the webhooks table checked")
    return r


# --- 15 ----------------------------------------------------------------------------------------

SLOW_SOCKETS = 200
ATTACK_SECONDS = 8.0
HEADERS = b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Slow: "


def dribble(socks: list[socket.socket], stop: threading.Event) -> int:
    """One byte to each socket in turn, ~20 times a second, never finishing the headers; bytes sent."""
    sent, position = 0, 0
    while not stop.wait(0.05):
        for sock in socks:
            byte = HEADERS[position:position + 1] if position < len(HEADERS) else b"a"
            try:
                sock.send(byte)
                sent += 1
            except OSError:
                pass
        position += 1
    return sent


def slowloris(bench: Bench, tries: int) -> RowResult:
    r = RowResult(tries=tries)
    health: list[float] = []
    with Stack(bench, "slowloris") as s:
        s.start()
        channel = s.emu.new_channel("slow")
        for i in range(tries):
            socks: list[socket.socket] = []
            stop = threading.Event()
            try:
                for _ in range(SLOW_SOCKETS):
                    socks.append(socket.create_connection(("127.0.0.1", s.app.port), timeout=5))
                feeder = threading.Thread(target=dribble, args=(socks, stop), daemon=True)
                feeder.start()
                probe(s, r, channel, health, i)
            except OSError as exc:
                r.problems.append(f"try {i + 1}: opened {len(socks)} of {SLOW_SOCKETS} sockets: {exc}")
            finally:
                stop.set()
                for sock in socks:
                    sock.close()
        alive = s.app.proc is not None and s.app.proc.poll() is None
        r.check(alive, "the app is not running any more")
        if health:
            r.notes.append(f"/healthz under attack: {len(health)} probes, worst {max(health) * 1000:.0f} ms")
        note_log(r, s, fail=False)
    r.done = (f"{SLOW_SOCKETS} sockets opened at once, each sent its headers a byte at a time (never finished) for "
              f"{ATTACK_SECONDS:.0f} s, {tries}x; meanwhile GET /healthz and a signed `/social help` every 0.5 s, "
              "each on a new connection")
    return r


def probe(s: Stack, r: RowResult, channel: str, health: list[float], i: int) -> None:
    """GET /healthz and a signed command, on fresh connections, until the attack time is over."""
    deadline = time.monotonic() + ATTACK_SECONDS
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            ok = httpx.get(s.app.url + "/healthz", timeout=5).status_code == 200
        except httpx.HTTPError as exc:
            ok = False
            r.problems.append(f"try {i + 1}: /healthz: {type(exc).__name__}")
        health.append(time.perf_counter() - started)
        r.check(ok, f"try {i + 1}: /healthz did not answer 200")
        body = s.command("alice", "help", channel)
        try:
            started = time.perf_counter()
            resp = httpx.post(s.app.events_url, content=body, headers={"Content-Type": FORM, **sign(body, s.secret)},
                              timeout=10)
            seconds = time.perf_counter() - started
            if r.check(resp.status_code == 200, f"try {i + 1}: /social help: HTTP {resp.status_code}"):
                r.acks.append(seconds)
                r.check(seconds <= ACK_LIMIT, f"try {i + 1}: /social help answered after {seconds:.1f} s")
        except httpx.HTTPError as exc:
            r.problems.append(f"try {i + 1}: /social help: {type(exc).__name__}")
        time.sleep(0.5)
