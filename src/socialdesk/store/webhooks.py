"""Outbound webhooks: the endpoints (their rows) and where they may point.

The delivery queue that feeds them (outbox, sending, delivery log) is in
store/webhook_deliveries.py.

Where webhooks may go: public addresses only. A URL is checked when it is added (a
literal address, or every address its name resolves to now) and again before each
send (jobs.webhooks resolves the name, checks every address and connects to the one
checked, so a name that resolves elsewhere later cannot redirect a delivery inward).
Refused: private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback (127/8, ::1),
link-local (169.254/16 with the cloud metadata service, fe80::/10), unspecified,
multicast and other special-purpose addresses (100.64/10, documentation ranges …),
also when wrapped in IPv6 (::ffff:a.b.c.d, 6to4, NAT64). Loopback is allowed only with
SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK=1, for tests and the local demo.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
import threading
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import delete, func
from sqlmodel import Session, select

from socialdesk.slack.text import ECHO_CHARS, echoed, plain_cut
from socialdesk.store.models import CaseEventRow, WebhookDeliveryRow, WebhookRow
from socialdesk.webhook_events import EVENT_KINDS


class WebhookInvalid(ValueError):
    """A URL or event list that cannot be used; the message says how to fix it."""


class WebhookNotFound(LookupError):
    def __init__(self, webhook_id: int) -> None:
        super().__init__(f"there is no webhook {webhook_id}; `socialdesk webhooks list` shows them")
        self.webhook_id = webhook_id


ALLOW_LOOPBACK_ENV = "SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK"
RESOLVE_SECONDS = 2.0  # at `add`: a slow DNS answer is not waited for (each send checks again)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]  # (host, port) -> addresses; raises OSError when the name does not resolve


class WebhookRefused(WebhookInvalid):
    """The URL's host is (or resolves to) an address webhooks must not reach."""


def validate_url(url: str, *, allow_loopback: bool = False, resolve: Resolver | None = None,
                 resolve_timeout: float = RESOLVE_SECONDS) -> str:
    """The URL as stored, or WebhookInvalid (WebhookRefused for its address) saying what is wrong.

    The host is checked as a literal address, or by resolving it (within `resolve_timeout`):
    a name that does not resolve yet is accepted, since every send resolves and checks it again.
    """
    url = url.strip()
    parts = check_url_form(url)
    host = parts.hostname or ""
    literal = literal_address(host)
    if literal is not None:
        check_address(host, str(literal), allow_loopback=allow_loopback)
        return url
    try:
        addresses = resolve_within(resolve or system_resolve, host, default_port(parts), timeout=resolve_timeout)
    except OSError:
        return url  # not (yet) in DNS, or DNS is slow: each send resolves and checks it
    for address in addresses:
        check_address(host, address, allow_loopback=allow_loopback)
    return url


def default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def check_url_form(url: str) -> SplitResult:
    """The URL's parts if it is written as a webhook URL must be (its address is not looked at)."""
    if len(url) > 2048:
        raise WebhookInvalid("the URL is longer than 2048 characters")
    bad = next((c for c in url if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Zs")), None)
    if bad is not None:
        raise WebhookInvalid(f"the URL contains a space, control or invisible character (U+{ord(bad):04X}); "
                             "copy it again without spaces or line breaks")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookInvalid(f"{echoed(url, 100)} is not an http(s) URL; give the full address, e.g. https://crm.example.com/hooks/socialdesk")
    if "@" in parts.netloc:
        raise WebhookInvalid("the URL carries a user name or password (user:pass@host); webhooks are "
                             "authenticated by their signature: leave the credentials out")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (port is not None and not 1 <= port <= 65535) or parts.netloc.endswith(":"):
        raise WebhookInvalid(f"{echoed(parts.netloc, 100)} has an invalid port; use a number from 1 to 65535, or none")
    host = parts.hostname
    literal = literal_address(host)
    if literal is None:
        _check_name(host)
    if parts.scheme == "http" and not (host == "localhost" or (literal is not None and literal.is_loopback)):
        raise WebhookInvalid("use https:// — case data and signatures must not cross the network in clear text "
                             "(http:// is allowed only for localhost and 127.0.0.1, for testing)")
    return parts


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def _check_name(host: str) -> None:
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise WebhookInvalid(f"{echoed(host, 100)} is not a valid host name") from None
    labels = ascii_host.removesuffix(".").split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise WebhookInvalid(f"{echoed(host, 100)} is not a valid host name (letters, digits, '-' and dots)")
    if re.fullmatch(r"[0-9]+|0x[0-9a-f]*", labels[-1]):
        # 2130706433, 0x7f.1, 127.1: the system would read these as IPv4 addresses
        raise WebhookInvalid(f"{echoed(host, 100)} is not a valid address; write an IPv4 address as four numbers "
                             "(a.b.c.d) or use the host name")


def _unwrapped(ip: Address) -> Address:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address (the one really reached)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


LOOPBACK = "a loopback address (this machine)"


def address_problem(address: str, *, allow_loopback: bool = False) -> str | None:
    """Why webhooks must not go to `address` (None: a public address they may go to)."""
    try:
        given = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    ip = _unwrapped(given)
    if ip.is_loopback:
        problem = None if allow_loopback else LOOPBACK
    elif ip.is_unspecified:
        problem = "the unspecified address"
    elif ip.is_link_local:
        problem = "a link-local address (169.254/16, fe80::/10, where cloud metadata services answer)"
    elif ip.is_multicast:
        problem = "a multicast address"
    elif any(ip.version == net.version and ip in net for net in PRIVATE):
        problem = "a private address (10/8, 172.16/12, 192.168/16, fc00::/7)"
    elif not ip.is_global or ip.is_reserved:
        problem = "a special-purpose address, not a public one"
    else:
        problem = None
    if problem is not None and ip != given:
        problem = f"{problem} ({ip} written as IPv6)"
    return problem


def check_address(host: str, address: str, *, allow_loopback: bool = False) -> None:
    """Raise WebhookRefused when `address` (what `host` is or resolves to) is not for webhooks."""
    problem = address_problem(address, allow_loopback=allow_loopback)
    if problem is None:
        return
    literal = literal_address(host.strip("[]").split("%", 1)[0])
    shown = plain_cut(host, 100)
    where = f"{shown} is" if literal is not None else f"{shown} resolves to {address},"
    if problem.startswith(LOOPBACK):
        raise WebhookRefused(f"{where} {problem}: webhooks go only to public addresses; to send them to a local "
                             f"receiver (tests, the local demo) set {ALLOW_LOOPBACK_ENV}=1")
    raise WebhookRefused(f"{where} {problem}: webhooks go only to public addresses, "
                         "so they cannot reach internal services")


def system_resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the system's order (raises OSError)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_within(resolve: Resolver, host: str, port: int, *, timeout: float) -> list[str]:
    """`resolve(host, port)`, given up after `timeout` seconds (TimeoutError; getaddrinfo has no timeout)."""
    outcome: list = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(resolve(host, port))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome.append(exc)
        done.set()

    threading.Thread(target=run, name="webhook-dns", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"no DNS answer for {host} within {timeout:g} s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    if not outcome[0]:
        raise OSError(f"{host} resolves to no address")
    return outcome[0]


def parse_events(names: Sequence[str] | str | None) -> list[str]:
    """["case.opened", …] from a list or "case.opened,case.resolved"; empty (or "all") means every event."""
    if isinstance(names, str):
        names = names.split(",")
    wanted = [n.strip().lower() for n in names or () if n.strip()]
    if wanted in ([], ["all"], ["*"]):
        return []
    unknown = [n for n in wanted if n not in EVENT_KINDS]
    if unknown:
        raise WebhookInvalid(f"unknown event {plain_cut(', '.join(unknown), ECHO_CHARS)}; choose from {', '.join(EVENT_KINDS)} (or leave out for all)")
    return sorted(set(wanted), key=list(EVENT_KINDS).index)


def display_url(url: str) -> str:
    """The URL without its query and with long path segments hidden (they are often tokens)."""
    parts = urlsplit(url)
    path = "/".join(s if len(s) <= 16 else s[:4] + "…" for s in parts.path.split("/"))
    return f"{parts.scheme}://{parts.netloc}{path}"


# --- the endpoints ---


def add_webhook(*, session: Session, url: str, events: Sequence[str] | str | None = None, secret: str | None = None,
                created_by: str, now: datetime, allow_loopback: bool = False, resolve: Resolver | None = None,
                resolve_timeout: float = RESOLVE_SECONDS) -> WebhookRow:
    """A new webhook gets events from now on (not the history before it)."""
    if secret is not None and len(secret.strip()) < 16:
        raise WebhookInvalid("a secret must be at least 16 characters; leave --secret out to have one generated")
    wanted = parse_events(events)
    url = validate_url(url, allow_loopback=allow_loopback, resolve=resolve, resolve_timeout=resolve_timeout)  # DNS last
    newest = session.exec(select(func.max(CaseEventRow.id))).one()
    webhook = WebhookRow(url=url, secret=(secret or "").strip() or secrets.token_urlsafe(32),
                         events=wanted, created_by=created_by, created_at=now,
                         last_event_id=int(newest or 0))
    session.add(webhook)
    session.flush()
    return webhook


def get_webhook(*, session: Session, webhook_id: int) -> WebhookRow:
    webhook = session.get(WebhookRow, webhook_id, populate_existing=True)
    if webhook is None:
        raise WebhookNotFound(webhook_id)
    return webhook


def list_webhooks(*, session: Session) -> list[WebhookRow]:
    return list(session.exec(select(WebhookRow).order_by(WebhookRow.id)))


def set_active(*, session: Session, webhook_id: int, active: bool) -> WebhookRow:
    """Paused: nothing is sent. Resumed: what happened meanwhile is delivered, oldest first."""
    webhook = get_webhook(session=session, webhook_id=webhook_id)
    webhook.active = active
    session.add(webhook)
    session.flush()
    return webhook


def remove_webhook(*, session: Session, webhook_id: int) -> WebhookRow:
    """The webhook and its delivery log."""
    webhook = get_webhook(session=session, webhook_id=webhook_id)
    session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == webhook_id))
    session.delete(webhook)
    session.flush()
    return webhook
