"""The fault table as a suite (#11). `python bench/faults.py` runs the same faults against the
running app a number of times and prints fault | tries | lost | duplicated | worst ack | pass.

Each fault and where it is reproduced (here unless a path is given):

Requests from Slack
- stale, missing, tampered or non-numeric signatures and timestamps; bodies that are not a
  form or JSON; oversized bodies .............. test_request_guard.py, tests/slack/test_verify.py
- a signed command replayed within the window . test_request_guard.py
- forged view metadata and button values ...... test_forged_input.py
- a card button naming another card's case .... test_forged_input.py, tests/listeners/test_actions.py
- made-up tags, oversized notes and replies ... test_forged_input.py
- an Events API retry ......................... test_publish_and_poll_faults.py
- 20 concurrent claims on one card ............ tests/e2e/test_claims.py

Acks
- 100 clicks with SQLite write-locked by another process ... test_acks_under_lock.py
- a command that writes during a lock; reads during a lock . tests/listeners/test_binding.py
- a busy database and the replay check ..................... tests/slack/test_verify.py

Polling and publishing
- kill -9 and SIGTERM mid-publish ............. test_publish_and_poll_faults.py
- kill -9 mid-poll, then a restart ............ test_poll_restart.py
- X 429 (with and without a reset), 503 ....... test_publish_and_poll_faults.py, tests/jobs/test_poll_faults.py
- a 200 that is not the JSON a source expects . tests/jobs/test_poll_faults.py
- an expired page token ....................... tests/jobs/test_poll_cursor.py
- two replicas racing for one rule ............ tests/jobs/test_poll_replicas.py
- three replicas, kill -9 of the stream holder  test_replicas.py (polls once per interval, cards and
  digests once, the stream moved within 30 s); replicas migrating at once: tests/store/test_db_upgrade.py
- Slack 429 with Retry-After while publishing . tests/jobs/test_publish.py
- hostile text in posts ....................... test_hostile_text.py

The server and outbound calls
- slow sockets (slowloris) .................... test_slow_clients.py
- webhook URLs to internal addresses .......... tests/store/test_webhooks.py, tests/jobs/test_webhooks.py
- secrets in logs ............................. tests/test_logs.py
- Socket Mode: dropped connections, refresh ... tests/e2e/test_socket_mode.py
"""
