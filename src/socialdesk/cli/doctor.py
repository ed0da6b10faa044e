"""`socialdesk doctor`: checks what an admin gets wrong, one line each, and changes nothing.

In order: the bot token (`auth.test`), the scopes Slack granted it (the `x-oauth-scopes`
header Slack sends with every Web API answer) against the ones manifest.yml asks for
(slack/scopes.py; tests/test_manifest.py keeps the two equal), this machine's clock
against the `Date` of Slack's answer, the database (reachable, migrated to head; it is
not migrated here), the bot's membership of every rule's channel (`conversations.info`),
and each network's credentials (`Network.check`, one cheap call the network package makes).

A line is ✓ (fine), ✗ (what is wrong and what to do) or – (not checked, and why). Exit 0
when nothing is ✗, 1 otherwise. Imports stay light at module level: `socialdesk --help`
builds this parser.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socialdesk.cli.common import EXIT_ENVIRONMENT

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from socialdesk.config import Settings
    from socialdesk.networks.base import StoredCredential

CLOCK_TOLERANCE_SECONDS = 30.0  # Slack refuses requests signed 5 minutes off; SLA timers drift long before that
INVITE = "in Slack, open the channel and type /invite @{bot}"
TOKEN_FIX = ("copy the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page into "
             "SLACK_BOT_TOKEN")
_REFUSED_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                  "not_allowed_token_type"}


def add_parser(commands) -> None:  # type: ignore[no-untyped-def]
    commands.add_parser(
        "doctor", help="check the Slack token, scopes, channels, networks, database and clock",
        description="Check what is often set up wrong: the Slack bot token, the scopes it was granted (against "
                    "manifest.yml), that the bot is in every rule's channel, that each network's credentials "
                    "work, that the database answers and is migrated, and that this machine's clock agrees "
                    "with Slack's. One line per check: ✓ fine, ✗ what is wrong and what to do, – not checked. "
                    "Exits 0 when nothing is wrong, 1 otherwise. Changes nothing (run `socialdesk db upgrade` "
                    "to migrate).").set_defaults(func=cmd_doctor)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not checked (`said` says why)
    said: str

    def line(self) -> str:
        from socialdesk.logs import url_passwords_masked

        mark = {True: "✓", False: "✗", None: "–"}[self.ok]
        # Lines quote settings and error texts: a URL's password (SOCIALDESK_SLACK_API_URL) is masked as in the logs.
        return url_passwords_masked(f"{mark} {self.name}: {self.said}")


def cmd_doctor(settings: Settings, _args: argparse.Namespace) -> int:
    import httpx

    with httpx.Client(timeout=15) as http:
        checks = []
        for check in run_checks(settings, http=http, clock=lambda: datetime.now(UTC)):
            print(check.line(), flush=True)  # each as it is known: a network that hangs shows where
            checks.append(check)
    return EXIT_ENVIRONMENT if any(c.ok is False for c in checks) else 0


def run_checks(settings: Settings, *, http: Any, clock: Callable[[], datetime]) -> Iterator[Check]:
    """Every check, in order; `http` is the networks' client, `clock` this machine's time."""
    slack = _SlackAnswers(settings)
    yield slack.token_check()
    yield slack.scopes_check()
    yield slack.clock_check(clock)
    engine, db_check = _database(settings)
    yield db_check
    rules = _rules(engine) if engine is not None else None
    try:
        yield from slack.channel_checks(rules)
        yield from _network_checks(settings, rules, engine=engine, http=http, clock=clock)
    finally:
        if engine is not None:
            engine.dispose()


# --- Slack ------------------------------------------------------------------------------


@dataclass
class _SlackAnswers:
    """auth.test asked once: its answer (or refusal) feeds the token, scopes and clock checks."""

    settings: Settings
    client: Any = None
    identity: Mapping[str, Any] | None = None  # auth.test's answer, when the token is a bot's and accepted
    headers: dict[str, str] = field(default_factory=dict)  # of auth.test's answer, names lower-cased
    asked: tuple[float, float] | None = None  # time.time() before and after auth.test, when Slack answered
    failure: Check | None = None

    def token_check(self) -> Check:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        name = "Slack bot token"
        if self.settings.slack_bot_token is None:
            self.failure = Check(name, False, f"SLACK_BOT_TOKEN is not set: {TOKEN_FIX}")
            return self.failure
        self.client = WebClient(token=self.settings.slack_bot_token.get_secret_value(),
                                base_url=self.settings.slack_api_url, timeout=15)
        before = time.time()
        try:
            answer = self.client.auth_test()
        except SlackApiError as exc:  # Slack answered: its headers still tell the time
            self.asked, self.headers = (before, time.time()), _lower(exc.response.headers)
            error = str(exc.response.get("error") or exc.response.status_code)
            fix = TOKEN_FIX if error in _REFUSED_TOKEN else "check the token and SOCIALDESK_SLACK_API_URL"
            self.failure = Check(name, False, f"Slack refused it ({error}): {fix}")
            return self.failure
        except Exception as exc:  # noqa: BLE001 - urllib's errors (refused, DNS, timeout): Slack did not answer
            self.failure = Check(name, False, f"Slack did not answer at {self.settings.slack_api_url} "
                                              f"({type(exc).__name__}: {exc}): check this machine's network "
                                              "and SOCIALDESK_SLACK_API_URL")
            return self.failure
        self.asked, self.headers = (before, time.time()), _lower(answer.headers)
        if not answer.get("bot_id"):
            self.failure = Check(name, False, f"it is not a bot token (Slack says it is {answer.get('user')}'s): "
                                              f"{TOKEN_FIX}")
            return self.failure
        self.identity = answer.data  # type: ignore[assignment]
        return Check(name, True, f"accepted: @{answer.get('user')} ({answer.get('user_id')}) in "
                                 f"{answer.get('team')} ({answer.get('team_id')})")

    def scopes_check(self) -> Check:
        from socialdesk.slack.scopes import BOT_SCOPES

        name = "Slack scopes"
        if self.identity is None:
            return Check(name, None, "not checked: the bot token did not work (above)")
        header = self.headers.get("x-oauth-scopes")
        if header is None:  # Slack always sends it; a proxy in between, or an emulator, may not
            return Check(name, None, "not checked: Slack's answer to auth.test had no x-oauth-scopes header "
                                     f"(is SOCIALDESK_SLACK_API_URL, {self.settings.slack_api_url}, a proxy "
                                     "or an emulator?); compare the app's OAuth & Permissions page with "
                                     "manifest.yml by hand")
        return scopes_verdict(header, BOT_SCOPES)

    def clock_check(self, clock: Callable[[], datetime]) -> Check:
        name = "clock"
        if self.asked is None:
            return Check(name, None, "not checked: it is compared with the Date of Slack's answer, and there was "
                                     "none (above)")
        try:
            # Date is in whole seconds, cut down: Slack's time was within the second after it.
            slack_time = parsedate_to_datetime(self.headers["date"]).timestamp() + 0.5
        except (KeyError, TypeError, ValueError, IndexError):
            return Check(name, None, "not checked: Slack's answer had no readable Date header")
        # Our time at the middle of the call (`clock` is read now: it may be a test's, the call's span is real).
        ours = clock().timestamp() - (time.time() - sum(self.asked) / 2)
        return clock_verdict(ours - slack_time)

    def channel_checks(self, rules: list[Any] | None) -> Iterator[Check]:
        name = "rule channels"
        if self.identity is None:
            yield Check(name, None, "not checked: the bot token did not work (above)")
            return
        if rules is None:
            yield Check(name, None, "not checked: the database did not work (above)")
            return
        channels = rule_channels(rules)
        if not channels:
            yield Check(name, None, "no rules yet (socialdesk rules add …)")
            return
        for channel, rule_ids in channels.items():
            yield self._membership(channel, rule_ids)

    def _membership(self, channel: str, rule_ids: list[int]) -> Check:
        from slack_sdk.errors import SlackApiError

        bot = self.identity["user"] if self.identity else "socialdesk"
        rules = ("rule " if len(rule_ids) == 1 else "rules ") + ", ".join(map(str, rule_ids))
        name = f"channel {channel} ({rules})"
        try:
            info = self.client.conversations_info(channel=channel)["channel"]
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            if error == "channel_not_found":
                return Check(name, False, f"Slack has no channel {channel} that the bot can see: check the rule's "
                                          f"channel id, or, for a private channel, {INVITE.format(bot=bot)}")
            if error == "missing_scope":
                return Check(name, False, f"Slack refused conversations.info (missing_scope "
                                          f"{exc.response.get('needed') or ''}): add the scope and reinstall the app")
            return Check(name, False, f"Slack refused conversations.info ({error}); try again, or check the id")
        except Exception as exc:  # noqa: BLE001 - Slack stopped answering midway
            return Check(name, False, f"Slack did not answer ({type(exc).__name__}); try again")
        label = f"#{info.get('name')}" if info.get("name") else channel
        if info.get("is_archived"):
            return Check(name, False, f"{label} is archived: unarchive it, or move the rules to another channel")
        if not info.get("is_member"):
            return Check(name, False, f"the bot is not a member of {label}, so its cards cannot be posted: "
                                      + INVITE.format(bot=bot))
        return Check(name, True, f"the bot is a member of {label}")


def scopes_verdict(header: str, wanted: tuple[str, ...] | frozenset[str]) -> Check:
    """The granted scopes (x-oauth-scopes, comma-separated) against those manifest.yml asks for."""
    granted = {s.strip() for s in header.split(",") if s.strip()}
    missing = [s for s in wanted if s not in granted]
    if missing:
        return Check("Slack scopes", False, f"missing {', '.join(missing)}: add them under OAuth & Permissions → "
                                            "Bot Token Scopes (or update the app from manifest.yml), then "
                                            "reinstall the app to the workspace")
    extra = sorted(granted - set(wanted))
    return Check("Slack scopes", True, f"all {len(wanted)} that manifest.yml asks for are granted"
                                       + (f" (also granted, unused: {', '.join(extra)})" if extra else ""))


def clock_verdict(skew_seconds: float) -> Check:
    """`skew_seconds`: this machine's time minus Slack's."""
    where = "ahead of" if skew_seconds > 0 else "behind"
    if abs(skew_seconds) > CLOCK_TOLERANCE_SECONDS:
        return Check("clock", False, f"this machine's clock is {abs(skew_seconds):.0f} s {where} Slack's: turn on "
                                     "time sync (NTP; `timedatectl set-ntp true` on most Linux) — Slack refuses "
                                     "requests more than 5 minutes off, and SLA timers and digests run late")
    return Check("clock", True, f"within {CLOCK_TOLERANCE_SECONDS:.0f} s of Slack's (off by {abs(skew_seconds):.0f} s)")


def rule_channels(rules: list[Any]) -> dict[str, list[int]]:
    """Every channel a rule posts to (its own and its routes'), with the rules that do, in rule order."""
    channels: dict[str, list[int]] = {}
    for rule in rules:
        for channel in [rule.channel_id, *(rule.routes or {}).values()]:
            if channel and rule.id not in channels.setdefault(channel, []):
                channels[channel].append(rule.id)
    return channels


def _lower(headers: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


# --- the database -----------------------------------------------------------------------


def _database(settings: Settings) -> tuple[Engine | None, Check]:
    """The engine (None when it cannot be used) and the check's line. Never creates or migrates anything."""
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from socialdesk.store.db import alembic_config, current_revision, head_revision, make_engine

    name = "database"
    try:
        url = make_url(settings.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not Path(url.database).exists():  # connecting would create an empty file
            return None, Check(name, False, f"there is no database file at {url.database}: run `socialdesk db "
                                            "upgrade` to create it, or set SOCIALDESK_DATABASE_URL to the right one")
        engine = make_engine(settings.database_url)
    except (ArgumentError, ModuleNotFoundError, ValueError):  # the URL is not quoted: it may hold a password
        return None, Check(name, False, "SOCIALDESK_DATABASE_URL is not a database URL socialdesk can use: set it "
                                        "to sqlite:///path/socialdesk.db or postgresql+psycopg://user:pass@host/db")
    try:
        found = current_revision(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        said = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]  # the driver's words, no URL
        return None, Check(name, False, f"it did not answer ({said}): check SOCIALDESK_DATABASE_URL and that the "
                                        "database is running")
    head = head_revision()
    if found == head:
        return engine, Check(name, True, f"{engine.dialect.name}, migrated to the latest revision ({head})")
    engine.dispose()
    if found is None:
        return None, Check(name, False, "it has no socialdesk tables yet: run `socialdesk db upgrade` (or start "
                                        "`socialdesk run`, which migrates first)")
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config(engine)).walk_revisions()}
    if found not in known:
        return None, Check(name, False, f"it is at revision {found}, which this socialdesk does not know (its latest "
                                        f"is {head}): a newer version migrated it; run that version")
    return None, Check(name, False, f"it is at revision {found}, behind this socialdesk's {head}: run `socialdesk db "
                                    "upgrade` (or restart `socialdesk run`, which migrates first)")


def _rules(engine: Engine) -> list[Any]:
    from socialdesk.store import rules as rule_store
    from socialdesk.store.db import read_scope

    with read_scope(engine) as session:
        return rule_store.list_rules(session=session)


# --- the networks -----------------------------------------------------------------------


class _Unsaved:
    """A CredentialStore in memory, for the sign-in checks while the database cannot be used."""

    def __init__(self) -> None:
        self._credential: StoredCredential | None = None

    def load(self, *, lock: bool = False) -> StoredCredential | None:
        return self._credential

    def save(self, credential: StoredCredential) -> None:
        self._credential = credential

    def release(self) -> None:
        pass

    def delete(self) -> bool:
        had, self._credential = self._credential is not None, None
        return had


def _network_checks(settings: Settings, rules: list[Any] | None, *, engine: Engine | None, http: Any,
                    clock: Callable[[], datetime]) -> Iterator[Check]:
    from socialdesk.networks import registry
    from socialdesk.networks.base import NetworkError
    from socialdesk.store.credentials import DatabaseCredentials

    # A network signs in with the tokens `socialdesk auth` stored; with no usable database, from scratch.
    credentials = (lambda net: DatabaseCredentials(engine, net)) if engine is not None else (lambda net: _Unsaved())
    networks = registry.build(settings, http=http, clock=clock, credentials=credentials)
    for net, network in networks.items():
        used = [r for r in rules or [] if r.network == net]
        name = network.info.label
        if network.check is None:
            if used:
                kinds = sorted({r.kind for r in used})
                ids = ", ".join(str(r.id) for r in used)
                yield Check(name, False, f"not set up, and rule(s) {ids} need it: "
                                         + "; ".join(dict.fromkeys(network.missing(k) for k in kinds)))
            else:
                yield Check(name, None, "not set up (no rule uses it)")
            continue
        try:
            yield Check(name, True, network.check())
        except NetworkError as exc:  # the network package's message says what to fix
            yield Check(name, False, str(exc))
        except Exception as exc:  # noqa: BLE001 - one network's surprise must not hide the others' lines
            yield Check(name, False, f"the check failed unexpectedly ({type(exc).__name__}: {exc}); run "
                                     "`socialdesk auth " + net + "` for details")
