"""Bluesky's settings, read with the rest (config.Settings inherits this; pydantic only)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

# A public Jetstream instance run by Bluesky (Jetstream's README lists them).
PUBLIC_JETSTREAM = "wss://jetstream2.us-east.bsky.network/subscribe"


class BlueskySettings(BaseSettings):
    bluesky_handle: str | None = Field(
        None, alias="SOCIALDESK_BLUESKY_HANDLE",
        description="the brand's Bluesky account, like acme.bsky.social")
    bluesky_app_password: SecretStr | None = Field(
        None, alias="SOCIALDESK_BLUESKY_APP_PASSWORD",
        description="an app password of that account (Settings → Privacy and security → App passwords)")
    bluesky_service_url: str = Field(
        "https://bsky.social", alias="SOCIALDESK_BLUESKY_SERVICE_URL",
        description="the account's PDS (XRPC base)")
    # Empty: no stream, Bluesky rules are polled with search instead.
    bluesky_jetstream_url: str = Field(
        PUBLIC_JETSTREAM, alias="SOCIALDESK_BLUESKY_JETSTREAM_URL",
        description="a Jetstream /subscribe address for live posts; empty: no stream, search only")

    @field_validator("bluesky_service_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("bluesky_jetstream_url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError("must be a ws:// or wss://…/subscribe address, or empty for no stream")
        return value

    @field_validator("bluesky_handle")
    @classmethod
    def _bare_handle(cls, value: str | None) -> str | None:
        return (value or "").strip().lstrip("@") or None


SETTINGS = BlueskySettings
HOW_TO_SET = {
    "bluesky_handle": "set it to the brand account's handle, like acme.bsky.social",
    "bluesky_app_password": "create an app password in Bluesky under Settings → Privacy and security → App passwords",
}
