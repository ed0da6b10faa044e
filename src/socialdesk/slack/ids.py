"""Every action_id, callback_id and metadata type, defined once."""

# Card buttons and overflow menu (values carry the case id).
CLAIM = "case_claim"
UNCLAIM = "case_unclaim"
REPLY = "case_reply"
NOTE = "case_note"
RESOLVE = "case_resolve"
REOPEN = "case_reopen"
MENU = "case_menu"  # overflow: assign, ignore, tags, unclaim, open in network
OPEN_POST = "case_open_post"

# A notice's "Open" (the assignee's DM): a link to the card, and no Claim (assigning made it theirs).
NOTICE_OPEN = "notice_open"

# Triage: a case filed as likely spam at ingest (collapsed card) is reopened as new.
NOT_SPAM = "case_not_spam"

# Overflow option values are "<verb>:<case id>".
MENU_ASSIGN = "assign"
MENU_IGNORE = "ignore"
MENU_TAGS = "tags"
MENU_UNCLAIM = "unclaim"
MENU_OPEN = "open"

# Modals (callback ids) and what acts inside them.
NOTE_MODAL = "note_modal"
REPLY_MODAL = "reply_modal"
ASSIGN_MODAL = "assign_modal"
IGNORE_MODAL = "ignore_modal"
TAGS_MODAL = "tags_modal"
MARK_REPLIED_MODAL = "mark_replied_modal"
RESOLVE_MODAL = "resolve_modal"  # the Resolve button: how it was resolved (listeners/resolutions.py)
DUPLICATE_MODAL = "resolve_duplicate_modal"  # pushed over it for "Duplicate": of which case
SAVED_REPLY = "reply_saved_select"

# Input blocks/elements inside modals.
NOTE_INPUT = "note_text"
REPLY_INPUT = "reply_text"  # dispatches as the agent types (listeners.replies redraws the count)
REPLY_COUNT = "reply_count"  # the block id of the count under it
QUOTED_POST = "quoted_post"  # a modal's quote of the customer's post (the reply modal's: the one it answers)
REPLY_FIRST_POST = "reply_first_post"  # under a quoted follow-up: the case's first post, shorter
REPLY_NEWER = "reply_newer"  # on submit: the customer wrote again meanwhile; the modal now answers that post
REPLY_OWNER = "reply_owner"  # the reply modal's line saying a teammate owns the case (or is writing to it)
ASSIGNEE_INPUT = "assignee"
IGNORE_REASON_INPUT = "ignore_reason"
TAGS_INPUT = "tags"
PRIORITY_INPUT = "priority"
REPLY_URL_INPUT = "reply_url"
OUTCOME_INPUT = "resolve_outcome"
DUPLICATE_OF_INPUT = "resolve_duplicate_of"

# Answers at hand in the reply modal: suggestions (FAQ entries, answered cases) and drafted replies.
USE_ANSWER = "reply_use_answer"  # "Use this" on a suggestion; value: its key ("faq:12", "case:34")
DRAFT_REPLY = "reply_draft"  # "✨ Draft a reply" (only with SOCIALDESK_LLM_URL); value: the case id
ANSWERS_BLOCK = "reply_answers"  # block ids: the heading, then "reply_answers-0", "-1", … one per suggestion
DRAFT_BLOCK = "reply_draft_line"  # the draft's button or its state (drafting, drafted, failed)

# After a refused reply (ephemeral buttons), and approvals (in the card's thread).
OPEN_IN_NETWORK = "reply_open_in_network"
MARK_REPLIED = "reply_mark_replied"
APPROVE_REPLY = "reply_approve"
REJECT_REPLY = "reply_reject"
EDIT_REPLY = "reply_edit"

# Message metadata on every card: lets a restarted publisher find a card it posted
# just before a crash instead of posting a second one.
CASE_METADATA_TYPE = "socialdesk_case"
APPROVE_EDIT_MODAL = "reply_approve_edit_modal"

# `/social` lists (mine, queue, author): Prev/Next replace the ephemeral with another page.
# The button value is JSON: {"v": subcommand, "a": argument, "o": offset}.
LOOKUP_PREV = "lookup_prev"
LOOKUP_NEXT = "lookup_next"
# A queue row's buttons (`/social queue`, App Home); value: JSON {"c": case id, "a": filters, "o": offset}.
QUEUE_CLAIM = "queue_claim"
QUEUE_ASSIGN = "queue_assign"
# App Home's saved view of the queue (its filters, kept per person).
HOME_QUEUE_FILTER = "home_queue_filter"  # "Filter…": opens QUEUE_FILTER_MODAL
HOME_QUEUE_CLEAR = "home_queue_clear"  # "Show all": forgets the saved filters
QUEUE_FILTER_MODAL = "queue_filter_modal"
QUEUE_FILTER_INPUT = "queue_filter"

# App Home (admins): rules, digest schedules, webhooks.
HOME_RULE_PAUSE = "home_rule_pause"
HOME_RULE_RESUME = "home_rule_resume"
HOME_RULE_EDIT = "home_rule_edit"
RULE_MODAL = "rule_modal"
HOME_DIGEST_ADD = "home_digest_add"
HOME_DIGEST_REMOVE = "home_digest_remove"
DIGEST_MODAL = "digest_modal"
WEBHOOK_TEST = "webhook_test"  # value: the webhook id; handled in listeners/webhooks.py
HOME_REFRESH = "home_refresh"
DIGEST_BACKLOG = "digest_backlog"  # a link button in digests: to the oldest waiting card
# Inputs of the rule editor and the digest schedule modal (block id = action id).
RULE_QUERY_INPUT = "rule_query"
RULE_CHANNEL_INPUT = "rule_channel"
RULE_EVERY_INPUT = "rule_every"
RULE_KEYWORDS_INPUT = "rule_keywords"
RULE_FOLLOWERS_INPUT = "rule_followers"
RULE_SLA_INPUT = "rule_sla"
RULE_STREAM_INPUT = "rule_stream"
RULE_STREAM_ON = "stream"  # the checkbox option's value
RULE_SPAM_INPUT = "rule_ignore_spam"  # triage: likely spam opens as ignored
RULE_SPAM_ON = "ignore_spam"  # the checkbox option's value
RULE_ROUTE_INPUT = "rule_route"  # one block per intent: f"{RULE_ROUTE_INPUT}_{intent}", this action id in each
RULE_TAG_ROUTES_INPUT = "rule_tag_routes"  # "refund=C0BILLING, battery=C0HARDWARE"
DIGEST_SPEC_INPUT = "digest_spec"
DIGEST_CHANNELS_INPUT = "digest_channels"
DIGEST_USERS_INPUT = "digest_users"

# Save as FAQ (resolved cards) and the curated entry's own buttons.
FAQ_SAVE = "case_faq_save"
FAQ_MODAL = "faq_modal"
FAQ_EDIT = "faq_edit"
FAQ_WITHDRAW = "faq_withdraw"

# Incidents (storms of near-duplicate posts as one card; listeners/incidents.py). The incident
# card's buttons carry its anchor case's id; "Split out" on a member's message carries the member's.
INCIDENT_REPLY_ALL = "incident_reply_all"
INCIDENT_RESOLVE_ALL = "incident_resolve_all"
INCIDENT_RESOLVE_MODAL = "incident_resolve_modal"
INCIDENT_IGNORE_ALL = "incident_ignore_all"
INCIDENT_SPLIT = "incident_split"
INCIDENT_REPLY_MODAL = "incident_reply_modal"
INCIDENT_IGNORE_MODAL = "incident_ignore_modal"
INCIDENT_REPLY_INPUT = "incident_reply_text"
# Message metadata on a member's message in the incident card's thread (finds it after a crash).
INCIDENT_MEMBER_METADATA_TYPE = "socialdesk_incident_member"
