"""A mentions rule's account, for `socialdesk rules add --kind mentions`: looked up once, when the
rule is added (the rule keeps the account's id, which survives renames), and what the lookup was
billed for. The network's CLI module does the looking up (`mentions_query`, `mentions_billed`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from socialdesk.cli.common import CliError, Unavailable
from socialdesk.networks import registry
from socialdesk.networks.base import NetworkError, RateLimited, SourceUnavailable

if TYPE_CHECKING:
    from socialdesk.config import Settings


def own_account(settings: Settings, args: argparse.Namespace) -> str:
    """--account, else the first of SOCIALDESK_OWN_HANDLES (in the order written)."""
    if args.account and args.account.strip("@"):
        return args.account.strip().lstrip("@")
    handles = [h.lstrip("@") for h in settings.own_handles.replace(",", " ").split() if h.strip("@")]
    if not handles:
        raise CliError("a mentions rule needs our account: pass --account HANDLE or set SOCIALDESK_OWN_HANDLES")
    return handles[0]


def mentions_billed(network: str, query: str) -> tuple:  # tuple[BilledReads, ...]
    """What looking up the account of a mentions rule's query was billed for (nothing on most networks)."""
    for module in registry.cli_modules():
        if getattr(module, "NETWORK", None) == network and hasattr(module, "mentions_billed"):
            return tuple(module.mentions_billed(query))
    return ()


def mentions_query(settings: Settings, network: str, handle: str) -> str:
    """Looked up once, when the rule is added: the rule keeps the account's id, which survives renames."""
    for module in registry.cli_modules():
        if getattr(module, "NETWORK", None) == network and hasattr(module, "mentions_query"):
            try:
                return str(module.mentions_query(settings, handle))
            except (SourceUnavailable, RateLimited) as exc:
                raise Unavailable(f"{exc}; try again later") from None
            except (NetworkError, ValueError) as exc:
                raise CliError(str(exc)) from None
    raise CliError(f"{registry.label(network)} has no mentions rules")
