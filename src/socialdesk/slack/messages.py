"""Short texts the app says in threads and ephemeral replies. Untrusted text is escaped."""

from __future__ import annotations

from socialdesk.domain import CaseStatus
from socialdesk.slack.text import escape, escape_within, link

S = CaseStatus
NOW_IS = {
    S.NEW: "waiting for someone to claim it",
    S.REOPENED: "reopened and waiting for someone to claim it",
    S.CLAIMED: "claimed",
    S.REPLIED: "replied",
    S.RESOLVED: "resolved",
    S.IGNORED: "ignored",
}


def quote(text: str, limit: int = 2500) -> str:
    body, cut = escape_within(text, limit)
    return ">" + body.replace("\n", "\n>") + ("…" if cut else "")


def claimed(user_id: str) -> str:
    return f"🙋 <@{user_id}> claimed this case."


def unclaimed(user_id: str) -> str:
    return f"↩️ <@{user_id}> gave this case back to the queue."


def assigned(user_id: str, assignee: str, *, told_as: str | None = None) -> str:
    """`told_as`: the assignee's name ("@bob") when a DM tells them: named, not mentioned, so they
    are notified once; without it (their name unknown, or they took it themselves) a mention."""
    if told_as and told_as != assignee:
        return f"👉 <@{user_id}> assigned this case to *{escape(told_as)}* (a DM tells them)."
    return f"👉 <@{user_id}> assigned this case to <@{assignee}>."


def resolved(user_id: str, outcome: str | None = None) -> str:
    """`outcome`: its label ("answered", "duplicate of #12"), if one was chosen."""
    return f"✅ <@{user_id}> resolved this case" + (f": {outcome}." if outcome else ".")


def duplicate_linked(user_id: str, duplicate: int) -> str:
    """In the thread of the case a duplicate names."""
    return f"🔗 <@{user_id}> resolved case #{duplicate} as a duplicate of this case."


def resolved_yours(user_id: str, case_id: int, outcome: str | None, card: str | None) -> str:
    """The DM to a case's owner when someone else resolved it; `card`: its permalink, if Slack gave one."""
    where = f"<{card}|case #{case_id}>" if card else f"case #{case_id}"
    how = f" ({outcome})" if outcome else ""
    return (f"✅ <@{user_id}> resolved {where}{how}, which you owned. Nothing to do; if it is not done, "
            "use *Reopen* on its card.")


def resolved_yours_in_incident(user_id: str, case_ids: list[int], outcome: str) -> str:
    """The one DM to an owner whose cases an incident's "Resolve all" resolved."""
    cases = ", ".join(f"#{c}" for c in case_ids)
    which = f"case {cases}" if len(case_ids) == 1 else f"{len(case_ids)} cases you owned ({cases})"
    owned = ", which you owned," if len(case_ids) == 1 else ""
    return (f"✅ <@{user_id}> resolved {which}{owned} with the rest of their incident ({outcome}). Nothing to do; "
            "if one is not done, use *Reopen* on its card.")


def reopened(user_id: str) -> str:
    return f"🔁 <@{user_id}> reopened this case: it is back in the queue, and a first reply is due again."


def not_spam(user_id: str) -> str:
    return f"✅ <@{user_id}> marked this case not spam: it is open again, waiting for a claim."


def not_spam_refused(status: S, assignee: str | None, case_id: int) -> str:
    """"Not spam" on a case no longer filed as likely spam (someone was quicker, or it was reopened)."""
    if status is S.IGNORED:
        return (f"Case #{case_id} was ignored by an agent, not filed as spam automatically, so \"Not spam\" does "
                "nothing. Use *Reopen* on its card to open it again.")
    return f"Case #{case_id} is {NOW_IS[status]} already: it is not filed as spam any more. The card shows it as it is now."


def ignored(user_id: str, reason: str) -> str:
    return f"🚫 <@{user_id}> ignored this case as {reason.replace('_', ' ')}."


def tagged(user_id: str, tags: list[str], priority: str) -> str:
    shown = ", ".join(f"#{t}" for t in tags) or "no tags"
    body, _ = escape_within(shown, 500)
    return f"🏷️ <@{user_id}> set {body} · {priority} priority."


def note(user_id: str, text: str) -> str:
    return f"📝 *Internal note* by <@{user_id}> (not sent to the customer):\n{quote(text)}"


def reply_sent(agent: str, text: str, url: str, approver: str | None = None, *, network: str) -> str:
    """`network`: its label for people (NetworkInfo.label)."""
    by = f"<@{agent}>" + (f", approved by <@{approver}>," if approver and approver != agent else "")
    return f"📣 {by} replied publicly:\n{quote(text)}\n{link(url, f'View the reply on {network}')}"


def reply_marked(agent: str, url: str, via: str, *, network: str) -> str:
    how = f"from {network}'s own composer" if via == "intent" else "outside socialdesk"
    return f"📣 <@{agent}> replied {how}: {link(url, f'view the reply on {network}')}"


def awaiting_approval(agent: str, approvers: list[str], text: str) -> str:
    who = " or ".join(f"<@{a}>" for a in approvers)
    return f"✋ <@{agent}> wrote a public reply that needs approval by {who}:\n{quote(text)}"


def approval_decided(verb: str, approver: str, agent: str, text: str) -> str:
    return f"{'✅' if verb == 'approved' else '✖️'} <@{approver}> {verb} <@{agent}>'s reply:\n{quote(text)}"


def transition_refused(action: str, status: S, assignee: str | None, case_id: int) -> str:
    """A stale or conflicting click: say what the case is now."""
    owner = f" by <@{assignee}>" if assignee and status in (S.CLAIMED, S.REPLIED) else ""
    return f"Case #{case_id} is now {NOW_IS[status]}{owner}, so it can't be {action}. The card shows it as it is now."


def claim_lost(status: S, assignee: str | None, case_id: int) -> str:
    if status is S.CLAIMED and assignee:
        return f"Case #{case_id} is already claimed by <@{assignee}>."
    return transition_refused("claimed", status, assignee, case_id)


def unclaim_refused(status: S, assignee: str | None, case_id: int) -> str:
    if status is S.CLAIMED and assignee:
        return f"Only <@{assignee}>, who claimed case #{case_id}, can give it back."
    return f"Case #{case_id} is now {NOW_IS[status]}; there is no claim to give back."


def case_missing(case_id: str) -> str:
    return f"Case {case_id} is not in socialdesk's database any more. Ask an admin to check the server logs."


def not_allowed_to_reply(case_id: int) -> str:
    return (f"You can't send public replies for case #{case_id}. Replies go out as the company, so only the "
            "people an admin allows can send them (members of the case's channel, unless the admin chose "
            "users or groups). Add a note instead, or ask a teammate. This attempt was recorded.")


def refused_after_submit(refusal: str, text: str) -> str:
    """A refusal the modal could not show (it was decided after the ack), with what was typed: nothing is lost."""
    return f"{refusal}\nWhat you wrote, not sent:\n{quote(text, limit=4000)}"


def reply_failed(error: str) -> str:
    return f"⚠️ Your reply was *not* sent. {error}"
