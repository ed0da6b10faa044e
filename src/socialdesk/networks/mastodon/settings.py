"""Mastodon's settings, read with the rest (config.Settings inherits this; pydantic only)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings


class MastodonSettings(BaseSettings):
    # The brand account's instance, e.g. https://mastodon.social. No default: there is no central server.
    mastodon_url: str | None = Field(
        None, alias="SOCIALDESK_MASTODON_URL",
        description="the brand account's instance, like https://mastodon.social")
    # An access token of the brand account with the scopes read and write:statuses.
    mastodon_token: SecretStr | None = Field(
        None, alias="SOCIALDESK_MASTODON_TOKEN",
        description="that account's access token (scopes read and write:statuses)")
    # Off: no streaming connection, Mastodon rules are polled (hashtag timelines, notifications, search).
    mastodon_streaming: bool = Field(
        True, alias="SOCIALDESK_MASTODON_STREAMING",
        description="false: no streaming connection, Mastodon rules are polled")

    @field_validator("mastodon_url")
    @classmethod
    def _instance_address(cls, value: str | None) -> str | None:
        value = (value or "").strip().rstrip("/")
        if not value:
            return None
        if "://" not in value:
            value = "https://" + value  # "mastodon.social" is what people copy from the address bar
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be the instance's address, like https://mastodon.social")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"must be the instance's address only, like {parts.scheme}://{parts.netloc} "
                             "(no path: the API is found under it)")
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("mastodon_token")
    @classmethod
    def _bare_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip().removeprefix("Bearer ").strip()
        return SecretStr(token) if token else None


SETTINGS = MastodonSettings
HOW_TO_SET = {
    "mastodon_url": "set it to the brand account's instance, like https://mastodon.social",
    "mastodon_token": "on the brand account's instance open Preferences → Development → New application, "
                      "allow the scopes read and write:statuses, and copy 'Your access token'",
}
