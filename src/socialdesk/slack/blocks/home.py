"""App Home: a short summary for the person who opened it."""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View


def home_view(*, user_id: str, unclaimed: int, mine: int) -> View:
    return View(
        type="home",
        blocks=[
            HeaderBlock(text="socialdesk"),
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*{mine}* case{'s' if mine != 1 else ''} claimed by <@{user_id}> · "
                    f"*{unclaimed}* waiting for someone to claim"
                )
            ),
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="New posts arrive as cards in the channels your rules name. "
                        "Click *Claim* on a card to take it."
                    )
                ]
            ),
        ],
    )
