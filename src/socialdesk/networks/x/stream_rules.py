"""X's filtered-stream rules kept in step with socialdesk's streamed rules.

X holds the rules of an app's stream (GET/POST /2/tweets/search/stream/rules); a
posted rule is `{"value": <query>, "tag": <opaque string>}` and X gives it an id.
Ours are tagged `socialdesk:<rule id>` (`socialdesk:3,7` when several rules share one
query: X refuses a second rule with the same value as a duplicate), so each streamed
post's `matching_rules` names the rules it belongs to. Rules with any other tag are
another tool's (one app, one rule set): they are never deleted or changed.

A sync reads X's rules, deletes ours that are no longer wanted (a rule removed, paused,
its query changed or its group of ids changed), then adds the missing ones. X answers an
add with per-rule `errors` beside `data` (invalid-rules with `details`, duplicate-rules
with the id of the rule that has the value) and a whole-request refusal when the app's
rule cap would be passed (`RulesCapExceeded`); those come back as refused rules with X's
reason, for a person. Response shapes: refs/x/python-twitter-testdata/streams/ and the
OpenAPI spec (RulesLookupResponse, AddOrDeleteRulesResponse, Problem types).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from socialdesk.networks.base import SourceRejected
from socialdesk.networks.x.api import json_body, problems, send
from socialdesk.networks.x.parse import describe_error

log = logging.getLogger(__name__)

RULES_PATH = "/2/tweets/search/stream/rules"
TAG_PREFIX = "socialdesk:"
BATCH = 100  # rules per add or delete request
PAGE = 1000  # X's largest page of rules
INVALID_RULES = "invalid-rules"
DUPLICATE_RULES = "duplicate-rules"
RULE_CAP = "rule-cap"


def tag_for(rule_ids: Iterable[int]) -> str:
    return TAG_PREFIX + ",".join(str(i) for i in sorted(set(rule_ids)))


def ids_from_tag(tag: str | None) -> tuple[int, ...]:
    """Our rule ids in a tag; () for another tool's tag."""
    if not tag or not tag.startswith(TAG_PREFIX):
        return ()
    parts = tag[len(TAG_PREFIX):].split(",")
    return tuple(int(p) for p in parts if p.isdigit()) if all(p.isdigit() for p in parts) else ()


def problem_kind(error: Mapping[str, Any]) -> str:
    """The last part of a problem's type URL: "invalid-rules", "duplicate-rules", "rule-cap" …"""
    return str(error.get("type") or "").rstrip("/").rsplit("/", 1)[-1]


def refusal_reason(error: Mapping[str, Any]) -> str:
    """X's reason for not adding one rule, for the person who wrote it."""
    details = error.get("details")
    if isinstance(details, list) and details:
        return "X refused the query: " + "; ".join(str(d) for d in details)
    if problem_kind(error) == DUPLICATE_RULES:
        return f"X's stream already has this query under another tag (X rule {error.get('id')})"
    return "X refused the query: " + describe_error(dict(error))


class StreamRules:
    """The app's stream rules at X, as seen with its bearer token."""

    def __init__(self, *, http: httpx.Client, api_url: str, bearer_token: str) -> None:
        self._http = http
        self._url = api_url.rstrip("/") + RULES_PATH
        self._headers = {"Authorization": f"Bearer {bearer_token}"}

    def list(self) -> list[dict[str, Any]]:
        """Every rule of the app: [{"id", "value", "tag"?}]."""
        rules: list[dict[str, Any]] = []
        params: dict[str, Any] = {"max_results": PAGE}
        while True:
            body = json_body(send(self._http, "GET", self._url, params, self._headers, what="stream rules"))
            if not isinstance(body, dict) or not isinstance(body.get("data") or [], list):
                raise SourceRejected(f"X answered the stream rules with an unexpected body: {str(body)[:200]}")
            rules += [r for r in body.get("data") or [] if isinstance(r, dict) and "id" in r]
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                return rules
            params = {"max_results": PAGE, "pagination_token": token}

    def sync(self, wanted: Mapping[str, Iterable[int]]) -> dict[int, str]:
        """Make our rules at X exactly `wanted` (query → the rule ids that share it).

        Returns the rule ids X refused, with its reason. Raises SourceError when X could
        not be asked (nothing is assumed: the next sync starts from X's rules again).
        """
        want = {tag_for(ids): query for query, ids in wanted.items() if query and ids}
        ours = [r for r in self.list() if ids_from_tag(r.get("tag"))]
        kept: set[tuple[str, str]] = set()
        stale: list[str] = []
        for rule in ours:
            key = (str(rule.get("tag")), str(rule.get("value")))
            if want.get(key[0]) == key[1] and key not in kept:
                kept.add(key)
            else:  # unwanted, changed, or a second copy (two replicas added it at once)
                stale.append(str(rule["id"]))
        missing = [(tag, value) for tag, value in want.items() if (tag, value) not in kept]
        for start in range(0, len(stale), BATCH):
            self._post({"delete": {"ids": stale[start:start + BATCH]}})
        refused: dict[str, str] = {}
        for start in range(0, len(missing), BATCH):
            refused |= self._add(missing[start:start + BATCH])
        if stale or missing:
            log.info("X stream rules: %d deleted, %d added, %d refused", len(stale),
                     len(missing) - len(refused), len(refused))
        return {rule_id: reason for tag, reason in refused.items() for rule_id in ids_from_tag(tag)}

    # --- adding -----------------------------------------------------------------------

    def _add(self, rules: list[tuple[str, str]]) -> dict[str, str]:
        """Add (tag, value) pairs; the tags X refused, with its reason."""
        answer = self._post({"add": [{"value": value, "tag": tag} for tag, value in rules]}, refusals_ok=True)
        if answer.status_code >= 400:  # the whole request: the rule cap (anything else raised in _post)
            if len(rules) == 1:
                return {rules[0][0]: _cap_reason(answer)}
            refused: dict[str, str] = {}
            for index, rule in enumerate(rules):  # one at a time: as many as fit, in the order given
                refused |= self._add([rule])
                if rule[0] in refused:
                    return refused | {tag: refused[rule[0]] for tag, _ in rules[index + 1:]}
            return refused
        body = json_body(answer)
        by_value = {value: tag for tag, value in rules}
        refused, duplicates = {}, []
        for error in body.get("errors") or [] if isinstance(body, dict) else []:
            if not isinstance(error, dict) or error.get("value") not in by_value:
                continue
            tag = by_value[error["value"]]
            if problem_kind(error) == DUPLICATE_RULES:
                duplicates.append((tag, error))
            else:
                refused[tag] = refusal_reason(error)
        if duplicates:  # ours already (another replica's sync got there first), or another tool's
            present = {(str(r.get("tag")), str(r.get("value"))) for r in self.list()}
            for tag, error in duplicates:
                if (tag, error["value"]) not in present:
                    refused[tag] = refusal_reason(error)
        return refused

    def _post(self, body: dict[str, Any], *, refusals_ok: bool = False) -> httpx.Response:
        return send(self._http, "POST", self._url, {}, self._headers, what="stream rules", body=body,
                    accept=_is_cap if refusals_ok else None)


def _is_cap(response: httpx.Response) -> bool:
    return any(e.get("title") == "RulesCapExceeded" or problem_kind(e) == RULE_CAP for e in problems(response))


def _cap_reason(response: httpx.Response) -> str:
    body = response.json()
    detail = body.get("detail") or next((e.get("detail") for e in body.get("errors") or [] if isinstance(e, dict)),
                                        "") or "the app's rule cap is reached"
    return f"X's stream holds no more rules for this app: {detail}"
