"""X's settings, read with the rest (config.Settings inherits this; pydantic only)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings


class XSettings(BaseSettings):
    x_bearer_token: SecretStr | None = Field(
        None, alias="SOCIALDESK_X_BEARER_TOKEN",
        description="the X app's Bearer Token: reads recent search and the filtered stream")
    x_api_url: str = Field(
        "https://api.x.com", alias="SOCIALDESK_X_API_URL",
        description="the X API root (the client appends /2/…)")
    # The filtered stream carries every X search rule (else only those added with --stream).
    x_stream: bool = Field(
        False, alias="SOCIALDESK_X_STREAM",
        description="true: X's filtered stream carries every X search rule; false: only rules added with --stream")
    # Replying on X as the brand: OAuth 2.0 (PKCE; `socialdesk auth x`) or OAuth 1.0a keys.
    x_client_id: str | None = Field(
        None, alias="SOCIALDESK_X_CLIENT_ID",
        description="the X app's OAuth 2.0 Client ID, for `socialdesk auth x` (replying as the brand)")
    x_client_secret: SecretStr | None = Field(
        None, alias="SOCIALDESK_X_CLIENT_SECRET",
        description="its OAuth 2.0 Client Secret")
    x_redirect_uri: str = Field(
        "http://127.0.0.1:8765/x/callback", alias="SOCIALDESK_X_REDIRECT_URI",
        description="the callback URL registered with X for `socialdesk auth x`")
    x_authorize_url: str = Field(
        "https://x.com/i/oauth2/authorize", alias="SOCIALDESK_X_AUTHORIZE_URL",
        description="X's OAuth 2.0 authorize page (tests point it elsewhere)")
    x_api_key: SecretStr | None = Field(
        None, alias="SOCIALDESK_X_API_KEY",
        description="OAuth 1.0a instead of OAuth 2.0: the X app's API key")
    x_api_secret: SecretStr | None = Field(
        None, alias="SOCIALDESK_X_API_SECRET",
        description="OAuth 1.0a: the X app's API key secret")
    x_access_token: SecretStr | None = Field(
        None, alias="SOCIALDESK_X_ACCESS_TOKEN",
        description="OAuth 1.0a: the brand account's access token")
    x_access_secret: SecretStr | None = Field(
        None, alias="SOCIALDESK_X_ACCESS_SECRET",
        description="OAuth 1.0a: the brand account's access token secret")

    # X bills per resource read since February 2026 (refs/x/docs/pricing.mdx): the spend meter's
    # rates, X's published ones by default; change them when X's console shows others.
    x_rate_post_read: float = Field(
        0.005, ge=0, alias="SOCIALDESK_X_RATE_POST_READ",
        description="dollars X charges per post read (search, the filtered stream), once per post a UTC day")
    x_rate_user_read: float = Field(
        0.010, ge=0, alias="SOCIALDESK_X_RATE_USER_READ",
        description="dollars X charges per user read (the authors that come with posts), once per user a UTC day")
    x_rate_post_created: float = Field(
        0.015, ge=0, alias="SOCIALDESK_X_RATE_POST_CREATED",
        description="dollars X charges per post created (a reply as the brand)")
    x_rate_post_created_with_url: float = Field(
        0.200, ge=0, alias="SOCIALDESK_X_RATE_POST_CREATED_WITH_URL",
        description="dollars X charges per post created with a URL in its text (a reply with a link)")
    # X prices owned reads only for the app owner's own data read with that user's token; socialdesk reads
    # mentions with the app's bearer token, so they are post and user reads (refs/x/docs/pricing.mdx).
    x_rate_owned_read: float = Field(
        0.001, ge=0, alias="SOCIALDESK_X_RATE_OWNED_READ",
        description="dollars X charges per owned read (the app owner's own data read with that user's token; "
                    "mentions read with the bearer token are post and user reads)")
    x_monthly_post_reads_cap: int = Field(
        3_000_000, ge=0, alias="SOCIALDESK_X_MONTHLY_POST_READS_CAP",
        description="the most post reads X's pay-per-use plan allows a month (shown beside the month's reads)")
    x_monthly_budget: float | None = Field(
        None, gt=0, alias="SOCIALDESK_X_MONTHLY_BUDGET",
        description="dollars a month socialdesk may spend on X reads: an ops alert at 80 %, X's rules "
                    "pause at 100 % until the month turns or it is raised (unset: no limit)")

    @field_validator("x_api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


HOW_TO_SET = {
    "x_bearer_token": "create an app at developer.x.com and copy its Bearer Token",
}
SETTINGS = XSettings
