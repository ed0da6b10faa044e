"""socialdesk: social customer care, worked from Slack."""

__version__ = "0.1.0"
