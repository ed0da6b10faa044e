"""Settings, read from the environment and a `.env` file.

Never instantiated at import: `load_settings()` is called by the CLI, and tests
build `Settings(...)` directly.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import re
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from socialdesk import logs
from socialdesk.networks import registry
from socialdesk.sla import DEFAULT_TARGETS, BusinessHours, Policy, parse_duration, parse_targets


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable and the fix."""


class CannotListen(Exception):
    """The address and port the settings name could not be listened on (in use, not this machine's); the
    message names the setting. The environment, not the setting, is usually at fault: `run` exits 1."""

    @classmethod
    def of(cls, setting: str, host: str, port: int, exc: OSError) -> CannotListen:
        if exc.errno == errno.EADDRINUSE:
            return cls(f"{setting} {port} is in use on {host}: stop what listens there (another socialdesk?) "
                       f"or set {setting} to a free port")
        return cls(f"cannot listen on {host} port {port} ({exc.strerror or exc}): check SOCIALDESK_HTTP_HOST "
                   f"and {setting}")


# A host name as RFC 1123 spells it (labels of letters, digits and inner hyphens).
_HOST_NAME = re.compile(r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")

# The longest retention: a cutoff this far back is still a date (far more was an OverflowError in the
# retention job, every time it ran); keeping for longer is 0, keep forever.
MAX_RETENTION_DAYS = 36_500

# What `socialdesk run` does not start without (app.build checks them; `run --help` lists them first).
REQUIRED_TO_RUN = ("slack_bot_token", "slack_signing_secret")


class Settings(*registry.settings_classes(), BaseSettings):  # type: ignore[misc]
    """Everything socialdesk reads; each network package adds its own fields (networks.registry)."""

    # utf-8-sig: a BOM (Windows editors write one) would otherwise join the first variable's name.
    # allow_inf_nan off: "inf" was a budget ("budget $inf") and a card interval that never ends.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8-sig", extra="ignore",
                                      populate_by_name=True, allow_inf_nan=False)

    # Each description is what `socialdesk run --help` prints for the variable (cli/run.py).
    database_url: str = Field(
        "sqlite:///socialdesk.db", alias="SOCIALDESK_DATABASE_URL",
        description="where cases are kept: sqlite:///path/socialdesk.db or postgresql+psycopg://user:pass@host/db")
    slack_bot_token: SecretStr | None = Field(
        None, alias="SLACK_BOT_TOKEN", description="the Slack app's Bot User OAuth Token (xoxb-…)")
    slack_signing_secret: SecretStr | None = Field(
        None, alias="SLACK_SIGNING_SECRET", description="the Slack app's Signing Secret: proves a request is Slack's")
    slack_app_token: SecretStr | None = Field(
        None, alias="SLACK_APP_TOKEN",
        description="an app-level token (xapp-…, connections:write): set, Socket Mode; unset, HTTP mode")
    slack_api_url: str = Field("https://slack.com/api/", alias="SOCIALDESK_SLACK_API_URL",
                               description="the Slack Web API base (GovSlack, a proxy, tests)")
    http_host: str = Field("0.0.0.0", alias="SOCIALDESK_HTTP_HOST",
                           description="HTTP mode: the address to listen on (127.0.0.1 behind a local proxy)")
    http_port: int = Field(3000, alias="SOCIALDESK_HTTP_PORT", ge=1, le=65535,
                           description="HTTP mode: the port serving /slack/events and /healthz")
    metrics_port: int | None = Field(None, alias="SOCIALDESK_METRICS_PORT", ge=1, le=65535,
                                     description="a port serving /metrics (Prometheus) on SOCIALDESK_HTTP_HOST: "
                                                 "for Socket Mode, which has no HTTP port (HTTP mode serves "
                                                 "/metrics on its own port too); unset: none")
    own_handles: str = Field("", alias="SOCIALDESK_OWN_HANDLES",
                             description="the brand's own accounts, comma- or space-separated: their posts open no case")
    # Who may send public replies: user ids and/or user group ids; empty = the rule's channel members.
    reply_users: str = Field("", alias="SOCIALDESK_REPLY_USERS",
                             description="Slack user ids who may send public replies (unset: the case channel's members)")
    reply_groups: str = Field("", alias="SOCIALDESK_REPLY_GROUPS",
                              description="Slack user group ids whose members may send public replies")
    # Two-person rule: when approvers are set, replies by anyone else wait for one of them.
    approvers: str = Field("", alias="SOCIALDESK_APPROVERS",
                           description="Slack user ids: when set, anyone else's replies wait for one of them to approve")
    tags: str = Field("bug,billing,shipping,praise,question,refund", alias="SOCIALDESK_TAGS",
                      description="the tags offered on cases, comma-separated")
    saved_replies_file: str | None = Field(None, alias="SOCIALDESK_SAVED_REPLIES_FILE",
                                           description="a TOML file of saved replies (unset: three built-in examples)")
    # Seconds between card posts in one channel; Slack allows about one per second.
    slack_post_interval: float = Field(1.0, alias="SOCIALDESK_SLACK_POST_INTERVAL", ge=0,
                                       description="seconds between cards in one channel (Slack allows about one a second)")
    # Leases a dead process leaves behind (kill -9, a crashed replica): a card being posted is
    # retried (looked up first) this much later; another replica takes over a stream this soon.
    # A publish lease must outlast one Slack call (15 s timeout, retried); a stream lease is renewed
    # every third of its length.
    publish_lease_seconds: float = Field(
        60.0, alias="SOCIALDESK_PUBLISH_LEASE_SECONDS", ge=1, le=3600,
        description="seconds after which a card left half-posted by a dead process is looked up and retried")
    stream_lease_seconds: float = Field(
        20.0, alias="SOCIALDESK_STREAM_LEASE_SECONDS", ge=1, le=3600,
        description="seconds after which another replica takes over a dead one's network stream")
    log_level: str = Field("INFO", alias="SOCIALDESK_LOG_LEVEL",
                           description="DEBUG, INFO, WARNING… (tokens are masked at every level)")
    log_format: str = Field("text", alias="SOCIALDESK_LOG_FORMAT",
                            description="text: a line for a person; json: one JSON object per line (time, level, "
                                        "logger, message, case_id, rule_id, network) for a log collector")
    # First-response SLAs (see socialdesk.sla): targets per priority, the at-risk point as a
    # fraction of the target, who gets a DM on a breach, and optional business hours.
    sla_targets: str = Field(DEFAULT_TARGETS, alias="SOCIALDESK_SLA_TARGETS",
                             description="first-response targets per priority (30m, 2h, 1d, at most 30d; a "
                                         "priority left out has none)")
    sla_at_risk: float = Field(0.75, alias="SOCIALDESK_SLA_AT_RISK", gt=0, lt=1,
                               description="the fraction of a target after which a case is at risk and nudged")
    sla_lead: str = Field("", alias="SOCIALDESK_SLA_LEAD",
                          description="the Slack user id who gets a DM when a case breaches its target")
    # Who the "at risk" nudge mentions when nobody owns the case: a user (U…) or a user group (S…).
    oncall: str = Field("", alias="SOCIALDESK_ONCALL",
                        description="a Slack user id (U…) or user group id (S…) the SLA at-risk nudge mentions "
                                    "when nobody owns the case")
    business_hours: str = Field("", alias="SOCIALDESK_BUSINESS_HOURS",
                                description="SLA clocks run only then, e.g. 'Mon-Fri 09:00-17:00 Europe/Berlin' "
                                            "(unset: around the clock)")
    # How often open cases are checked against their SLA (the nudges are that late at most).
    sla_check_seconds: int = Field(30, alias="SOCIALDESK_SLA_CHECK_SECONDS", ge=1, le=3600,
                                   description="seconds between checks of open cases against their targets")
    # Who may manage rules, digests and webhooks from Slack (user ids), besides workspace admins/owners.
    admins: str = Field("", alias="SOCIALDESK_ADMINS",
                        description="Slack user ids who may manage rules, digests and webhooks from Slack "
                                    "(workspace admins and owners always may)")
    # The team's time zone (IANA name): digest days and weeks, schedules and business hours.
    timezone: str = Field("UTC", alias="SOCIALDESK_TIMEZONE",
                          description="the team's IANA time zone: digest days and weeks, schedules, \"today\"")
    # Retention (days; 0 keeps forever): raw network payloads, then whole resolved/ignored cases.
    retention_raw_days: int = Field(30, alias="SOCIALDESK_RETENTION_RAW_DAYS", ge=0,
                                    description="days to keep the networks' raw payloads (0 keeps them; at most "
                                                f"{MAX_RETENTION_DAYS}, 100 years)")
    retention_closed_days: int = Field(0, alias="SOCIALDESK_RETENTION_CLOSED_DAYS", ge=0,
                                       description="days after which quiet resolved and ignored cases are deleted "
                                                   f"(0 keeps them; at most {MAX_RETENTION_DAYS}, 100 years)")
    # Storms: a post near-duplicate to an open case of its rule written this long before joins
    # that case's incident, one card for all ("2h", "30m"; 0 turns incidents off).
    incident_window: str = Field("2h", alias="SOCIALDESK_INCIDENT_WINDOW",
                                 description="near-identical posts on one rule this close together share one "
                                             "incident card (2h, 30m; 0 turns incidents off)")
    # Ops alerts (jobs.ops_alerts): a source failing or behind for this long, or a gap it cannot fill,
    # is one message to this channel, and its recovery one more. Unset channel: no alerts.
    ops_channel: str = Field("", alias="SOCIALDESK_OPS_CHANNEL",
                             description="a Slack channel id (C…) told when a source fails, falls behind or misses "
                                         "posts, and when it recovers (unset: no alerts; invite the app there)")
    alert_after: str = Field("5m", alias="SOCIALDESK_ALERT_AFTER",
                             description="how long a source fails or is behind before the ops channel is told "
                                         "(5m, 1h)")
    webhooks_allow_loopback: bool = Field(
        False, alias="SOCIALDESK_WEBHOOKS_ALLOW_LOOPBACK",
        description="true: webhooks may go to this machine (127.0.0.1, ::1), for tests and the local demo")
    # Drafted replies (optional): an OpenAI-compatible API base (Ollama: http://localhost:11434/v1), the
    # model it serves, its key if it needs one. Unset URL: no "Draft a reply" button at all.
    llm_url: str | None = Field(None, alias="SOCIALDESK_LLM_URL",
                                description="an OpenAI-compatible API base for drafted replies, e.g. "
                                            "http://localhost:11434/v1 (unset: no Draft a reply button)")
    llm_model: str | None = Field(None, alias="SOCIALDESK_LLM_MODEL", validate_default=True,
                                  description="the model that server serves (llama3.2…); required with the URL")
    llm_api_key: SecretStr | None = Field(None, alias="SOCIALDESK_LLM_API_KEY",
                                          description="that server's API key, if it needs one")
    llm_timeout: float = Field(20.0, alias="SOCIALDESK_LLM_TIMEOUT", gt=0, le=120,
                               description="seconds a draft may take")

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object, info: ValidationInfo) -> object:
        # `VAR=` (a template's ${VAR} with nothing behind it) means unset: an empty secret passed the
        # "is not set" check, and a blank port was "not a valid integer". A text setting with a default
        # keeps its empty value: there it means something (no stream, incidents off).
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(text, str) or text.strip():
            return value
        field = cls.model_fields[info.field_name]  # type: ignore[index]
        if field.default is None:
            return None
        return value if isinstance(field.default, str) else field.default

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("http_host")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        # Checked here, not at the bind: waitress's "Invalid host/port" came as a traceback after the jobs started.
        host = value.strip()
        try:
            return str(ipaddress.ip_address(host.removeprefix("[").removesuffix("]")))
        except ValueError:
            pass
        if not _HOST_NAME.fullmatch(host):
            raise ValueError(f"{value!r} is not an address to listen on; use one like 0.0.0.0 (every interface), "
                             "127.0.0.1 or localhost, without http:// or a port (the port is SOCIALDESK_HTTP_PORT)")
        return host

    @field_validator("retention_raw_days", "retention_closed_days")
    @classmethod
    def _retention_bound(cls, value: int) -> int:
        if value > MAX_RETENTION_DAYS:
            raise ValueError(f"{value} days is more than 100 years: give at most {MAX_RETENTION_DAYS}, or 0 to keep "
                             "everything")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in logging.getLevelNamesMapping():  # a wrong one failed in logging, as a traceback
            raise ValueError(f"{value!r} is not a log level; use DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        fmt = value.strip().lower()
        if fmt not in logs.FORMATS:
            raise ValueError(f"{value!r} is not a log format; use text or json")
        return fmt

    @field_validator("llm_url")
    @classmethod
    def _api_base(cls, value: str | None) -> str | None:
        value = (value or "").strip().rstrip("/")
        if not value:
            return None
        if not value.startswith(("http://", "https://")) or value.endswith("/chat/completions"):
            raise ValueError("must be the base URL of an OpenAI-compatible API, like http://localhost:11434/v1 "
                             "(Ollama) or https://api.openai.com/v1, without /chat/completions")
        return value

    @field_validator("llm_model")
    @classmethod
    def _model_named(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = (value or "").strip() or None
        if value is None and info.data.get("llm_url"):
            raise ValueError("is not set: name the model SOCIALDESK_LLM_URL serves (for Ollama, one that "
                             "`ollama list` shows, like llama3.2)")
        return value

    @field_validator("sla_targets")
    @classmethod
    def _valid_targets(cls, value: str) -> str:
        parse_targets(value)  # ValueError → named by load_settings
        return value

    @field_validator("business_hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        if value.strip():
            BusinessHours.parse(value)
        return value.strip()

    @field_validator("incident_window")
    @classmethod
    def _valid_window(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("0", "off", ""):
            parse_duration(value)  # ValueError → named by load_settings
        return value

    @property
    def incident_timedelta(self) -> timedelta | None:
        """The incident window; None when incidents are off."""
        return None if self.incident_window in ("0", "off", "") else parse_duration(self.incident_window)

    @field_validator("ops_channel")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        value = value.strip().removeprefix("<#").removesuffix(">").split("|", 1)[0]
        if value and not re.fullmatch(r"[CG][A-Z0-9]{2,30}", value):
            raise ValueError("must be a Slack channel id like C012ABCDEF (not a #name); it is at the bottom of "
                             "the channel's details in Slack")
        return value

    @field_validator("alert_after")
    @classmethod
    def _valid_alert_after(cls, value: str) -> str:
        parse_duration(value)  # ValueError → named by load_settings
        return value.strip().lower()

    @property
    def alert_timedelta(self) -> timedelta:
        return parse_duration(self.alert_after)

    @field_validator("sla_lead")
    @classmethod
    def _lead_id(cls, value: str) -> str:
        value = value.strip().removeprefix("<@").removesuffix(">").lstrip("@")
        if value and not value[:1] in ("U", "W"):
            raise ValueError("must be a Slack user id like U012ABCDEF (not a name)")
        return value

    @field_validator("oncall")
    @classmethod
    def _oncall_id(cls, value: str) -> str:
        # Accepts what people paste: U0123, @U0123, <@U0123>, S0123, <!subteam^S0123> or <!subteam^S0123|@care>.
        value = value.strip().removeprefix("<").removesuffix(">").split("|", 1)[0]
        value = value.removeprefix("!subteam^").removeprefix("@").lstrip("@")
        if value and not re.fullmatch(r"[UWS][A-Z0-9]{2,20}", value):
            raise ValueError("must be a Slack user id like U012ABCDEF or a user group id like S012ABCDEF (not a "
                             "name); a group's id is in its link in Slack's People & user groups page")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name like Europe/Paris or America/New_York") from None
        return value.strip()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def admin_set(self) -> frozenset[str]:
        return self._ids(self.admins)

    @property
    def sla_policy(self) -> Policy:
        return Policy(
            targets=parse_targets(self.sla_targets),
            at_risk=self.sla_at_risk,
            business_hours=BusinessHours.parse(self.business_hours) if self.business_hours else None,
        )

    @property
    def own_handle_set(self) -> frozenset[str]:
        """Our own accounts, lower-cased, without '@'."""
        parts = self.own_handles.replace(",", " ").split()
        return frozenset(p.lstrip("@").lower() for p in parts if p.strip("@"))

    @staticmethod
    def _ids(value: str) -> frozenset[str]:
        return frozenset(p for p in value.replace(",", " ").split() if p)

    @property
    def reply_user_set(self) -> frozenset[str]:
        return self._ids(self.reply_users)

    @property
    def reply_group_set(self) -> frozenset[str]:
        return self._ids(self.reply_groups)

    @property
    def approver_set(self) -> frozenset[str]:
        return self._ids(self.approvers)

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.split(",") if t.strip()]

    def require(self, *names: str) -> None:
        """Raise ConfigError naming the first unset variable among `names` (field names)."""
        for name in names:
            if _unset(getattr(self, name)):
                alias = type(self).model_fields[name].alias
                raise ConfigError(f"{alias} is not set: {_HOW_TO_SET.get(name, 'set it in the environment or .env')}")


def _unset(value: object) -> bool:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return text is None or (isinstance(text, str) and not text.strip())


_HOW_TO_SET = {
    "slack_bot_token": "copy the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page",
    "slack_signing_secret": "copy the Signing Secret from your Slack app's Basic Information page",
    **registry.how_to_set(),
}


def load_settings(**overrides: object) -> Settings:
    """Read settings; turn pydantic's report into one line naming the variable."""
    try:
        return Settings(**overrides)
    except UnicodeDecodeError:  # UTF-16 from PowerShell's `>`, Latin-1 from an old editor
        raise ConfigError(".env is not UTF-8: save it as UTF-8") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        alias = Settings.model_fields[field].alias if field in Settings.model_fields else field
        said = first["msg"].removeprefix("Value error, ")  # pydantic's prefix to our validators' words
        raise ConfigError(f"{alias} is invalid: {said}. Fix it in the environment or .env") from None
