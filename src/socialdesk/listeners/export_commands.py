"""`/social export …`: the file is built after the ack and sent to the requester in a DM.

Only admins (SOCIALDESK_ADMINS, or workspace admins and owners) may export: a file holds
every matching customer's posts across all channels, while the right to reply is per
channel, so "may reply" is not a sound test for "may take all of this away". Exports
from Slack stop at SLACK_LIMIT records; the CLI (`socialdesk export`) has no limit.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from socialdesk import export
from socialdesk.listeners.deps import Deps
from socialdesk.slack.blocks.lookup import Reply, plain
from socialdesk.slack.text import ECHO_CHARS, escape, plain_cut
from socialdesk.store.db import read_scope

log = logging.getLogger(__name__)

HELP = ("• `/social export [jsonl|csv|md] [since:7d] [until:2026-11-30] [status:resolved] [rule:3] [curated] "
        "[redact]` — cases (or curated FAQ entries) as a file, sent to you in a DM (admins)\n")
USAGE = ("Usage: `/social export [jsonl|csv|md] [since:7d|2026-11-01] [until:2026-11-30] "
         "[status:resolved,replied] [rule:3] [curated] [redact]`, e.g. `/social export md since:30d redact`.")
SLACK_LIMIT = 50_000
FORMAT_WORDS = {"jsonl": "jsonl", "json": "jsonl", "csv": "csv", "md": "md", "markdown": "md"}
FORMAT_LABEL = {"jsonl": "JSON Lines", "csv": "CSV", "md": "Markdown"}


@dataclass(frozen=True)
class Request:
    fmt: str
    flt: export.ExportFilter
    redacted: bool
    described: str  # the filters in words, for the message beside the file


def parse(args: list[str], *, now: datetime, deps: Deps) -> Request:
    """The words after `export`; raises export.FilterError with a line to show."""
    fmt, redacted, curated = "jsonl", False, False
    since = until = None
    statuses: frozenset[str] = frozenset()
    rule_id = None
    described: list[str] = []
    for word in args:
        key, _, value = word.partition(":")
        key = key.lower()
        if not value and key in FORMAT_WORDS:
            fmt = FORMAT_WORDS[key]
        elif not value and key == "redact":
            redacted = True
        elif not value and key in ("curated", "faq"):
            curated = True
        elif value and key in ("since", "until"):
            when = export.parse_when(value, now=now, upper=key == "until", tz=deps.tz)
            since, until = (when, until) if key == "since" else (since, when)
            described.append(f"{key} {value}")
        elif value and key == "status":
            statuses = export.parse_statuses(value)
            described.append(f"status {', '.join(sorted(statuses))}")
        elif value and key == "rule":
            rule_id = export.parse_rule(value)
            described.append(f"rule {rule_id}")
        else:
            raise export.FilterError(f"`{plain_cut(word, ECHO_CHARS)}` is not something export understands")
    flt = export.check_range(export.ExportFilter(since=since, until=until, statuses=statuses, rule_id=rule_id,
                                                 curated_only=curated))
    if redacted:
        described.append("redacted")
    return Request(fmt=fmt, flt=flt, redacted=redacted, described=" · ".join(described))


def run(deps: Deps, client: WebClient | None, *, user_id: str, args: list[str], text: str,
        channel_id: str = "") -> Reply:
    if not deps.is_admin(user_id):
        return plain("Exports hold customers' posts from every channel, so only socialdesk admins can run them "
                     "(SOCIALDESK_ADMINS, or workspace admins). Ask an admin, or run `socialdesk export` on the server.")
    try:
        request = parse(args, now=deps.clock(), deps=deps)
    except export.FilterError as exc:
        return plain(f"{escape(str(exc))}\n{USAGE}")
    if client is None:
        return plain("socialdesk cannot upload files here. Run `socialdesk export` on the server instead.")
    what = "FAQ entries" if request.flt.curated_only else "cases"
    preparing = plain(f"Preparing your export ({FORMAT_LABEL[request.fmt]}, {what})… "
                      "I will send the file to you in a direct message.")
    return replace(preparing, after=lambda: deliver(deps, client, user_id=user_id, channel_id=channel_id,
                                                    request=request))


def deliver(deps: Deps, client: WebClient, *, user_id: str, channel_id: str, request: Request) -> None:
    """Write the file (streaming) to a temporary directory and upload it to the requester's DM."""
    now = deps.clock()
    filename = f"socialdesk-{'faq' if request.flt.curated_only else 'cases'}-{now:%Y%m%d-%H%M}.{request.fmt}"
    dm = None
    try:
        dm = client.conversations_open(users=user_id)["channel"]["id"]
        with read_scope(deps.engine) as session:
            total = export.count_records(session=session, flt=request.flt)
        keep = deps.settings.own_handle_set if deps.settings is not None else frozenset()
        with tempfile.TemporaryDirectory(prefix="socialdesk-export-") as workdir:
            path = Path(workdir) / filename
            with path.open("w", encoding="utf-8", newline="") as out:
                written = export.export(engine=deps.engine, flt=request.flt, fmt=request.fmt, out=out,
                                        redacted=request.redacted, keep_handles=keep, limit=SLACK_LIMIT,
                                        names=deps.names)
            comment = (f"Your export: {export.counted(written, curated=request.flt.curated_only)} "
                       f"as {FORMAT_LABEL[request.fmt]}")
            comment += f" ({escape(request.described)})." if request.described else "."
            if total > written:
                comment += (f" Slack exports stop at {SLACK_LIMIT:,} (oldest first) and {total:,} match: "
                            "run `socialdesk export` on the server for all of them.")
            client.files_upload_v2(channel=dm, file=str(path), filename=filename, title=filename,
                                   initial_comment=comment)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.warning("export for %s not delivered: %s", user_id, error or exc)
        _tell(client, user_id=user_id, dm=dm, channel_id=channel_id,
              text=f"Your export could not be sent: Slack said `{escape(str(error or 'an error'))}`. "
                   "Try again in a moment, or run `socialdesk export` on the server.")
    except Exception:  # noqa: BLE001 - the person must hear about it; the log gets the trace
        log.exception("export for %s failed", user_id)
        _tell(client, user_id=user_id, dm=dm, channel_id=channel_id,
              text="Your export failed while it was being written (the server log has the details). "
                   "Try again, or run `socialdesk export` on the server.")


def _tell(client: WebClient, *, user_id: str, dm: str | None, channel_id: str, text: str) -> None:
    """In the DM when it opened, else (or if that fails) privately where the command was typed."""
    attempts = []
    if dm:
        attempts.append(lambda: client.chat_postMessage(channel=dm, text=text))
    if channel_id:
        attempts.append(lambda: client.chat_postEphemeral(channel=channel_id, user=user_id, text=text))
    for attempt in attempts:
        try:
            attempt()
            return
        except SlackApiError as exc:
            log.warning("could not tell %s that the export failed: %s", user_id, exc)
