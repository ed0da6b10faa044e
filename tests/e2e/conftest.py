from __future__ import annotations

from collections.abc import Iterator

import pytest

from socialdesk.networks.x.fake.server import FakeX
from tests.support.app_process import AppProcess, app_env
from tests.support.slack_proxy import SlackProxy

X_TOKEN = "e2e-bearer"


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(bearer_token=X_TOKEN, own_username="acmephones", require_user_context=True) as server:
        yield server


@pytest.fixture
def slack_proxy(slack_emulator) -> Iterator[SlackProxy]:
    with SlackProxy(slack_emulator.url) as proxy:
        yield proxy


def oauth1_env(fake_x: FakeX) -> dict[str, str]:
    """The brand account's OAuth 1.0a keys, as FakeX knows them: replies are signed for real."""
    keys = fake_x.oauth1_keys
    return {"SOCIALDESK_X_API_KEY": keys.consumer_key, "SOCIALDESK_X_API_SECRET": keys.consumer_secret,
            "SOCIALDESK_X_ACCESS_TOKEN": keys.token, "SOCIALDESK_X_ACCESS_SECRET": keys.token_secret}


@pytest.fixture
def app(db_url, slack_proxy, fake_x, tmp_path) -> Iterator[AppProcess]:
    """The app as a process (not started): tests add rules with its CLI, then start it."""
    process = AppProcess(
        env=app_env(db_url=db_url, slack_api_url=slack_proxy.url, x_url=fake_x.url, x_token=X_TOKEN,
                    SOCIALDESK_SLACK_POST_INTERVAL="0.3", **oauth1_env(fake_x)),
        log_path=tmp_path / "app.log",
    )
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.stop()
    print(process.log()[-4000:])  # shown by pytest on failure


# End-to-end tests drive whole processes and mostly wait on poll intervals; PostgreSQL
# behaviour is covered by every store test on both databases. Here it runs only where
# concurrency or crash-safety meets the database: tests marked `both_databases`.
def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    keep, dropped = [], []
    for item in items:
        on_postgres = "[postgres]" in item.nodeid and "/e2e/" in item.nodeid.replace("\\", "/")
        if on_postgres and item.get_closest_marker("both_databases") is None:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
