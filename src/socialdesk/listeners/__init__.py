"""Slack listeners. Each module exposes `register(app, deps)`; every listener acks first."""
