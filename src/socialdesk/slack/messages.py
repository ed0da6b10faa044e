"""Short texts the app says in threads and ephemeral replies."""

from __future__ import annotations

from socialdesk.domain import CaseStatus


def claimed(user_id: str) -> str:
    return f"🙋 <@{user_id}> claimed this case."


def unclaimed(user_id: str) -> str:
    return f"↩️ <@{user_id}> gave this case back to the queue."


def claim_lost(status: CaseStatus, assignee: str | None, case_id: int) -> str:
    if status is CaseStatus.CLAIMED and assignee:
        return f"Case #{case_id} is already claimed by <@{assignee}>."
    return f"Case #{case_id} is now {status.value}; it can no longer be claimed."


def unclaim_refused(status: CaseStatus, assignee: str | None, case_id: int) -> str:
    if status is CaseStatus.CLAIMED and assignee:
        return f"Only <@{assignee}>, who claimed case #{case_id}, can give it back."
    return f"Case #{case_id} is now {status.value}; there is no claim to give back."


def case_missing(case_id: str) -> str:
    return f"Case {case_id} is not in socialdesk's database any more. Ask an admin to check the server logs."
