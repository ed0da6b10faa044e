"""FakeX's filtered stream: the rules endpoints and GET /2/tweets/search/stream.

Rules (GET/POST /2/tweets/search/stream/rules) answer in the shapes of
refs/x/python-twitter-testdata/streams/ (get_rules, post_rules, delete_rules,
delete_error) and the OpenAPI spec (`meta.sent`, `meta.summary` with valid/invalid,
`errors` beside `data`). Per-rule refusals are in the shapes third-party clients record
from X: invalid-rules with `details`, duplicate-rules with the `id` of the rule that has
the value; a request past the app's rule cap is refused whole (`RulesCapExceeded`).

The stream is newline-delimited JSON sent chunked, `\\r\\n` after each object and as the
keep-alive every `stream_keepalive_seconds` (X: at least every 20 s). Every post made on
this FakeX after a connection opened that matches a rule (the fake's search matcher,
fake/query.py) is sent once with `matching_rules: [{id, tag}]`, rendered with the fields
and expansions the connection asked for. One connection per app, as X allows on
pay-per-use access: a second gets X's 429 TooManyConnections problem.
"""

from __future__ import annotations

import json
import queue
import select
import socket
import threading
from datetime import UTC, datetime
from typing import Any

from socialdesk.networks.x.fake import data as d
from socialdesk.networks.x.fake import query as xq
from socialdesk.networks.x.fake.api import _check_params, _fields, _pick

STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"
_STREAM_PARAMS = {"backfill_minutes", "start_time", "end_time", "expansions", "tweet.fields", "post.fields",
                  "user.fields", "media.fields", "poll.fields", "place.fields"}
_RULES_GET_PARAMS = {"ids", "max_results", "pagination_token"}
_RULES_POST_PARAMS = {"dry_run", "delete_all"}

# refs/x/derived/error_samples.json "stream_too_many_connections_documented".
TOO_MANY_CONNECTIONS = {
    "title": "ConnectionException",
    "detail": "This stream is currently at the maximum allowed connection limit.",
    "connection_issue": "TooManyConnections",
    "type": "https://api.x.com/2/problems/streaming-connection",
}
# refs/x/derived/error_samples.json "stream_operational_disconnect_documented".
OPERATIONAL_DISCONNECT = {"errors": [{
    "title": "operational-disconnect",
    "disconnect_type": "UpstreamOperationalDisconnect",
    "detail": "This stream has been disconnected upstream for operational reasons.",
    "type": "https://api.x.com/2/problems/operational-disconnect",
}]}
# The filtered stream and its rules take the app's bearer token only (the spec's `BearerToken` security);
# a user's token gets the shape of d.UNSUPPORTED_AUTH with the supported type turned round (assumed).
APP_ONLY = frozenset({"stream", "rules", "rules_update"})
APP_ONLY_AUTH = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 User Context is forbidden for this endpoint.  "
              "Supported authentication types are [OAuth 2.0 Application-Only].",
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}
_RULES_PROBLEMS = "https://api.twitter.com/2/problems/"
# X's details for a rule of negations only, as a client recorded them (the rule "--b", 2022-10-21).
NEGATION_ONLY = ("Rules must contain a non-negation term (at position 1)",
                 "Rules must contain at least one positive, non-stopword clause (at position 1)")
_QUERY_ERROR_PREFIX = "There were errors processing your request: "


def invalid_rule(value: str, details: list[str]) -> dict:
    """X's refusal of one rule (recorded by a client: "Rules must contain a non-negation term (at position 1)")."""
    return {"value": value, "details": details, "title": "UnprocessableEntity",
            "type": _RULES_PROBLEMS + "invalid-rules"}


def duplicate_rule(value: str, rule_id: str) -> dict:
    """A rule whose value the app has already (the shape sferik/x-ruby's tests hold)."""
    return {"value": value, "id": rule_id, "title": "DuplicateRule", "type": _RULES_PROBLEMS + "duplicate-rules"}


def rule_cap(limit: int) -> dict:
    """A request that would pass the cap: clients check the top-level title "RulesCapExceeded" (wording assumed)."""
    return {"title": "RulesCapExceeded", "detail": f"Rule cap exceeded. You may add up to {limit} rules.",
            "type": _RULES_PROBLEMS + "rule-cap"}


def rule_missing(rule_id: str) -> dict:
    """Deleting a rule id the app does not have (assumed wording)."""
    return {"value": rule_id, "details": ["Rule does not exist"], "title": "Invalid Request",
            "type": _RULES_PROBLEMS + "invalid-request"}


def rule_too_long(value: str, limit: int) -> dict:
    return invalid_rule(value, [f"Rule is too long: it has {len(value)} characters, at most {limit} are allowed "
                                "(at position 1)"])  # wording assumed


def _sent() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_DROP, _SILENCE = object(), object()


class StreamConnection:
    """One open GET /2/tweets/search/stream: what to send it, sent by the handler thread."""

    def __init__(self, fake: Any, key: str, query: dict[str, str]) -> None:
        self.fake, self.key, self.query = fake, key, query
        self._queue: queue.Queue[Any] = queue.Queue()
        self.ended = threading.Event()
        self.silent = False

    def send(self, body: dict) -> None:
        self._queue.put(json.dumps(body, ensure_ascii=False).encode() + b"\r\n")

    def send_raw(self, data: bytes) -> None:
        self._queue.put(data)

    def drop(self, body: dict | None = None) -> None:
        """End abruptly (no last chunk), after `body` (an in-stream error) when given."""
        if body is not None:
            self.send(body)
        self._queue.put(_DROP)

    def serve(self, handler: Any, headers: dict[str, str]) -> None:
        try:
            handler.send_response(200)
            for name, value in {"content-type": d.JSON, **headers, "transfer-encoding": "chunked"}.items():
                handler.send_header(name, value)
            handler.end_headers()
            while not self.fake._stopping.is_set():
                try:
                    item = self._queue.get(timeout=self.fake.stream_keepalive_seconds)
                except queue.Empty:
                    item = b"\r\n"  # the keep-alive
                if item is _DROP or _client_left(handler.connection):
                    break
                if self.silent:
                    continue  # a dead link: nothing gets through, not even keep-alives
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(item), item))
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client went away
        finally:
            handler.close_connection = True
            self.ended.set()
            self.fake._stream_ended(self)


def _client_left(sock: socket.socket) -> bool:
    """The client closed its end (a silent connection writes nothing, so no write would fail)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class StreamApi:
    """Stream endpoints and state, mixed into FakeX (which supplies _lock, _posts, _match_ctx, _pick …)."""

    stream_keepalive_seconds = 20.0
    stream_rules_max = 1000  # pay-per-use: 1,000 rules of 1,024 characters (refs/x/docs/introduction.mdx)
    stream_rule_max_length = 1024

    def _init_stream(self) -> None:
        self._stream_rules: dict[str, dict] = {}  # id → {"id", "value", "tag"?}
        self._stream_trees: dict[str, Any] = {}
        self._stream_connections: list[StreamConnection] = []
        self._rule_seq = 0

    # --- what tests do --------------------------------------------------------------------

    @property
    def stream_rules(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._stream_rules.values()]

    def add_stream_rule(self, value: str, tag: str | None = None) -> dict:
        """A rule made by someone else (another tool on the same app)."""
        with self._lock:
            return self._store_rule(value, tag)

    def stream_connections(self) -> int:
        with self._lock:
            return sum(not c.ended.is_set() for c in self._stream_connections)

    def drop_stream(self, *, operational: bool = False) -> None:
        """End every stream connection abruptly (after X's operational-disconnect line, if asked)."""
        with self._lock:
            for connection in self._stream_connections:
                connection.drop(OPERATIONAL_DISCONNECT if operational else None)

    def silence_stream(self) -> None:
        """The connections stay open and send nothing at all (no keep-alive either)."""
        with self._lock:
            for connection in self._stream_connections:
                connection.silent = True

    def send_on_stream(self, body: dict) -> None:
        """Send any object on the open connections (a new message type, an error beside data …)."""
        with self._lock:
            for connection in self._stream_connections:
                connection.send(body)

    def send_raw_on_stream(self, data: bytes) -> None:
        """Send `data` as it is on the open connections (no line end added: a body that never ends a line)."""
        with self._lock:
            for connection in self._stream_connections:
                connection.send_raw(data)

    # --- endpoints ------------------------------------------------------------------------

    def _stream_connect(self, q, body, headers):
        _check_params(q, _STREAM_PARAMS)
        key = headers.get("authorization", "")
        if any(c.key == key and not c.ended.is_set() for c in self._stream_connections):
            return 429, TOO_MANY_CONNECTIONS, {}
        connection = StreamConnection(self, key, dict(q))
        self._stream_connections.append(connection)
        return 200, connection, {}

    def _rules_get(self, q, body, headers):
        _check_params(q, _RULES_GET_PARAMS)
        rules = list(self._stream_rules.values())
        if q.get("ids"):
            wanted = set(q["ids"].split(","))
            rules = [r for r in rules if r["id"] in wanted]
        limit = int(q.get("max_results") or 1000)
        start = 0
        if token := q.get("pagination_token"):
            start = int(token, 16) if len(token) == 16 and all(c in "0123456789abcdef" for c in token) else -1
            if start < 0:
                return 400, d.bad_param("pagination_token", token, "The `pagination_token` query parameter value "
                                        f"[{token}] is not valid"), {}
        page = rules[start:start + limit]
        meta: dict[str, Any] = {"sent": _sent(), "result_count": len(page)}
        if start + limit < len(rules):
            meta["next_token"] = f"{start + limit:016x}"
        answer: dict[str, Any] = {"data": [dict(r) for r in page]} if page else {}
        return 200, {**answer, "meta": meta}, {}

    def _rules_post(self, q, body, headers):
        _check_params(q, _RULES_POST_PARAMS)
        dry_run = q.get("dry_run") == "true"
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None
        if q.get("delete_all") == "true":
            return 200, self._delete([str(i) for i in self._stream_rules], dry_run), {}
        if isinstance(payload, dict) and set(payload) == {"add"} and isinstance(payload["add"], list) \
                and all(isinstance(r, dict) and isinstance(r.get("value"), str) for r in payload["add"]):
            return self._add(payload["add"], dry_run)
        delete = payload.get("delete") if isinstance(payload, dict) and set(payload) == {"delete"} else None
        if isinstance(delete, dict) and isinstance(delete.get("ids"), list):
            return 200, self._delete([str(i) for i in delete["ids"]], dry_run), {}
        if isinstance(delete, dict) and isinstance(delete.get("values"), list):
            by_value = {r["value"]: r["id"] for r in self._stream_rules.values()}
            return 200, self._delete([by_value.get(v, v) for v in delete["values"]], dry_run), {}
        key = next(iter(payload), "$") if isinstance(payload, dict) and payload else "$"
        # refs/x/python-twitter-testdata/streams/delete_error.json
        return 400, d.invalid_request([{"parameters": {key: []}, "message": "JSON doesn't match expected schema"}]), {}

    def _add(self, rules: list[dict], dry_run: bool):
        errors: list[dict] = []
        valid: list[dict] = []
        values = {r["value"]: r["id"] for r in self._stream_rules.values()}
        for rule in rules:
            value, tag = rule["value"], rule.get("tag")
            if len(value) > self.stream_rule_max_length:
                errors.append(rule_too_long(value, self.stream_rule_max_length))
                continue
            try:
                tree = xq.parse_query(value)
            except xq.QueryError as exc:
                errors.append(invalid_rule(value, [str(exc).removeprefix(_QUERY_ERROR_PREFIX) + " (at position 1)"]))
                continue
            if not xq.has_positive_term(tree):
                errors.append(invalid_rule(value, list(NEGATION_ONLY)))
                continue
            if value in values:
                errors.append(duplicate_rule(value, values[value] or ""))
                continue
            values[value] = ""
            valid.append({"value": value, **({"tag": tag} if tag else {})})
        if len(self._stream_rules) + len(valid) > self.stream_rules_max:
            return 400, rule_cap(self.stream_rules_max), {}
        created = [self._store_rule(r["value"], r.get("tag"), dry_run=dry_run) for r in valid]
        invalid = sum(e["title"] != "DuplicateRule" for e in errors)
        meta = {"sent": _sent(), "summary": {"created": len(created), "not_created": len(errors),
                                             "valid": len(rules) - invalid, "invalid": invalid}}
        answer: dict[str, Any] = {"data": created} if created else {}
        answer["meta"] = meta
        if errors:
            answer["errors"] = errors
        return (201 if created else 200), answer, {}

    def _delete(self, ids: list[str], dry_run: bool) -> dict:
        deleted = [i for i in ids if i in self._stream_rules]
        if not dry_run:
            for rule_id in deleted:
                self._stream_rules.pop(rule_id)
                self._stream_trees.pop(rule_id, None)
        answer: dict[str, Any] = {"meta": {"sent": _sent(), "summary": {"deleted": len(deleted),
                                                                        "not_deleted": len(ids) - len(deleted)}}}
        missing = [rule_missing(i) for i in ids if i not in deleted]
        if missing:
            answer["errors"] = missing
        return answer

    # --- delivering -----------------------------------------------------------------------

    def _store_rule(self, value: str, tag: str | None, *, dry_run: bool = False) -> dict:
        self._rule_seq += 1
        rule_id = str(d.snowflake(datetime.now(UTC), self._rule_seq))
        rule = {"id": rule_id, "value": value, **({"tag": tag} if tag else {})}
        if not dry_run:
            self._stream_rules[rule_id] = rule
            self._stream_trees[rule_id] = xq.parse_query(value)
        return dict(rule)

    def _publish(self, post_id: int) -> None:
        """Send a new post to the open connections if it matches rules (called under the lock)."""
        live = [c for c in self._stream_connections if not c.ended.is_set()]
        if not live:
            return
        post, ctx = self._posts[post_id], self._match_ctx[post_id]
        matched = [{"id": rid, "tag": self._stream_rules[rid].get("tag", "")}
                   for rid, tree in self._stream_trees.items() if xq.matches(tree, post, ctx)]
        if not matched:
            return
        for connection in live:
            fields = _fields(connection.query, ("tweet.fields", "post.fields"), d.TWEET_FIELDS)
            line: dict[str, Any] = {"data": _pick(post, fields, d.DEFAULT_TWEET_FIELDS)}
            if includes := self._includes([post], connection.query, fields):
                line["includes"] = includes
            line["matching_rules"] = [{k: v for k, v in m.items() if v} for m in matched]
            connection.send(line)

    def _stream_ended(self, connection: StreamConnection) -> None:
        with self._lock:
            if connection in self._stream_connections:
                self._stream_connections.remove(connection)

    def _end_streams(self) -> None:
        with self._lock:
            for connection in self._stream_connections:
                connection.drop()
