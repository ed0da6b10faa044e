"""manifest.yml is a valid Slack app manifest, checked offline against Slack's schema, and the README lists its
scopes."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from socialdesk.slack.scopes import BOT_SCOPES as CODE_SCOPES

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"
BOT_SCOPES = set(CODE_SCOPES)
# Where the top schema's $refs point; the same files are in refs/.../schemas/.
VERSIONED_URL = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


def _offline(uri: str) -> Resource:
    raise NoSuchResource(ref=uri)  # never fetch a schema from the network


@pytest.fixture(scope="module")
def validator(slack_refs: Path) -> jsonschema.Draft7Validator:
    root = slack_refs / "manifest-schema"
    registry = Registry(retrieve=_offline).with_resources(
        (VERSIONED_URL + path.name, Resource.from_contents(json.loads(path.read_text())))
        for path in sorted((root / "schemas").glob("manifest.schema.*.json"))
    )
    top = json.loads((root / "manifest.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(top)
    return jsonschema.Draft7Validator(top, registry=registry)


@pytest.fixture
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_manifest_is_valid(validator: jsonschema.Draft7Validator, manifest: dict) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)]
    assert errors == []


def test_manifest_asks_for_exactly_the_scopes_we_use(manifest: dict) -> None:
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    assert manifest["oauth_config"]["scopes"].keys() == {"bot"}


def test_every_scope_says_why() -> None:
    lines = MANIFEST.read_text().splitlines()
    where = {scope: [i for i, line in enumerate(lines) if line.strip() == f"- {scope}"] for scope in sorted(BOT_SCOPES)}
    assert {scope: len(found) for scope, found in where.items()} == {scope: 1 for scope in where}, \
        "each scope is listed once, as a `- scope` line of its own"
    for scope, [i] in where.items():
        assert i > 0 and lines[i - 1].strip().startswith("#"), f"no comment above scope {scope}"


def test_slash_command_and_events(manifest: dict) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/social"
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_slacks_own_examples(validator: jsonschema.Draft7Validator, slack_refs: Path, version: str) -> None:
    examples = slack_refs / "manifest-schema" / "tests" / "manifests" / version
    assert validator.is_valid(json.loads((examples / "manifest.valid.json").read_text()))
    assert not validator.is_valid(json.loads((examples / "manifest.invalid.json").read_text()))


def _drop_name(m: dict) -> None:
    del m["display_information"]["name"]


def _unknown_scope_type(m: dict) -> None:
    m["oauth_config"]["scopes"]["robot"] = ["chat:write"]


def _command_without_slash(m: dict) -> None:
    m["features"]["slash_commands"][0]["command"] = "social"


def _unknown_setting(m: dict) -> None:
    m["settings"]["socket_mode"] = True


@pytest.mark.parametrize("breakage", [_drop_name, _unknown_scope_type, _command_without_slash, _unknown_setting])
def test_broken_manifests_are_rejected(validator: jsonschema.Draft7Validator, manifest: dict, breakage) -> None:
    broken = copy.deepcopy(manifest)
    breakage(broken)
    assert not validator.is_valid(broken)


README = MANIFEST.parent / "README.md"


def readme_scopes() -> list[str]:
    """The scopes the README's list names, in order: each item starts with its scopes in backticks."""
    text = README.read_text(encoding="utf-8")
    start = text.index("The app asks for the fewest scopes")
    items = re.findall(r"^- ((?:`[^`]+`(?:, )?)+):", text[start:].split("\n\n", 2)[1], re.MULTILINE)
    return [scope for item in items for scope in re.findall(r"`([^`]+)`", item)]


def test_the_readme_lists_the_manifests_scopes(manifest: dict) -> None:
    assert readme_scopes() == manifest["oauth_config"]["scopes"]["bot"]
