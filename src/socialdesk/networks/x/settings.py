"""X's settings, read with the rest (config.Settings inherits this; pydantic only)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings


class XSettings(BaseSettings):
    x_bearer_token: SecretStr | None = Field(None, alias="SOCIALDESK_X_BEARER_TOKEN")
    x_api_url: str = Field("https://api.x.com", alias="SOCIALDESK_X_API_URL")
    # The filtered stream carries every X search rule (else only those added with --stream).
    x_stream: bool = Field(False, alias="SOCIALDESK_X_STREAM")
    # Replying on X as the brand: OAuth 2.0 (PKCE; `socialdesk auth x`) or OAuth 1.0a keys.
    x_client_id: str | None = Field(None, alias="SOCIALDESK_X_CLIENT_ID")
    x_client_secret: SecretStr | None = Field(None, alias="SOCIALDESK_X_CLIENT_SECRET")
    x_redirect_uri: str = Field("http://127.0.0.1:8765/x/callback", alias="SOCIALDESK_X_REDIRECT_URI")
    x_authorize_url: str = Field("https://x.com/i/oauth2/authorize", alias="SOCIALDESK_X_AUTHORIZE_URL")
    x_api_key: SecretStr | None = Field(None, alias="SOCIALDESK_X_API_KEY")
    x_api_secret: SecretStr | None = Field(None, alias="SOCIALDESK_X_API_SECRET")
    x_access_token: SecretStr | None = Field(None, alias="SOCIALDESK_X_ACCESS_TOKEN")
    x_access_secret: SecretStr | None = Field(None, alias="SOCIALDESK_X_ACCESS_SECRET")

    @field_validator("x_api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


HOW_TO_SET = {
    "x_bearer_token": "create an app at developer.x.com and copy its Bearer Token",
}
SETTINGS = XSettings
