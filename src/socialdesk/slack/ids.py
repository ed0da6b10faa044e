"""Every action_id, callback_id and metadata type, defined once."""

CLAIM = "case_claim"
UNCLAIM = "case_unclaim"
OPEN_POST = "case_open_post"

# Message metadata on every card: lets a restarted publisher find a card it posted
# just before a crash instead of posting a second one.
CASE_METADATA_TYPE = "socialdesk_case"
