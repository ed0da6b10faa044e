"""A local demo: a Slack stand-in workspace and its page."""
