"""The settings as `socialdesk run --help` lists them, read from the fields themselves."""

from __future__ import annotations

from dataclasses import dataclass

from socialdesk.config import REQUIRED_TO_RUN, Settings
from socialdesk.networks import registry


@dataclass(frozen=True)
class SettingHelp:
    """One variable as `socialdesk run --help` shows it."""

    variable: str
    description: str
    default: str | None  # as it would be written in the environment; None: unset unless set


def setting_groups() -> list[tuple[str, list[SettingHelp]]]:
    """Every setting, from the fields themselves: those `run` requires, socialdesk's other ones, then each
    network's under its label."""
    def of(name: str) -> SettingHelp:
        field = Settings.model_fields[name]
        return SettingHelp(field.alias or name, field.description or "", _as_written(field.default))

    network_fields = {name: net for net in registry.names()
                      for name in registry.settings_class(net).model_fields}
    own = [n for n in Settings.model_fields if n not in network_fields and n not in REQUIRED_TO_RUN]
    return [("required", [of(n) for n in REQUIRED_TO_RUN]), ("Slack and the app", [of(n) for n in own])] + [
        (registry.label(net), [of(n) for n, owner in network_fields.items() if owner == net])
        for net in registry.names()]


def _as_written(default: object) -> str | None:
    if default is None or default == "":
        return None
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)
