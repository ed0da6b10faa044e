"""The bot scopes the code needs; manifest.yml must ask for exactly these (a test checks)."""

BOT_SCOPES = (
    "chat:write",  # cards, thread lines, ephemeral answers
    "commands",  # /social
    "channels:history",  # find a card posted just before a crash, by its metadata
    "groups:history",
    "channels:read",  # who is in a case's channel: by default they may reply publicly
    "groups:read",
    "usergroups:read",  # SOCIALDESK_REPLY_GROUPS: members of user groups may reply
    "users:read",  # an agent's name for saved replies ({agent}); is this user a workspace admin
    "im:write",  # DMs: digests and SLA escalations to managers, exports to the requester
    "files:write",  # /social export uploads the file (files upload v2)
)
