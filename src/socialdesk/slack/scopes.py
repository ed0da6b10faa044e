"""The bot scopes the code needs; manifest.yml must ask for exactly these (a test checks)."""

BOT_SCOPES = ("chat:write", "commands", "channels:history", "groups:history")
