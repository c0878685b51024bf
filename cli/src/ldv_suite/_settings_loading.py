"""Loading the `ldv` command's settings: every problem one line on stderr and exit code 2.

Shared by the commands in `ldv_suite.cli` and `ldv_suite._log_commands` (which `cli` registers,
so it cannot import `cli` back).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ldv_suite.settings import ServeSettings


def serve_settings(config: Path | None, **overrides: object) -> ServeSettings:
    """ServeSettings from `config`, the environment and the flags, or a readable error naming where a bad
    one was given and exit code 2."""
    import tomllib

    from ldv_suite.settings_errors import SettingsRefused, config_namer, load_settings

    def load() -> ServeSettings:
        if config is not None and not config.is_file():  # pydantic-settings would skip it silently
            raise SettingsRefused([f"{config}: no such file (--config)"])
        try:
            namer = config_namer(ServeSettings, overrides, config)
            return load_settings(ServeSettings, lambda: ServeSettings.load(config, **overrides), namer)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsRefused([f"{config}: not valid TOML: {' '.join(str(exc).split())}"]) from None

    [settings] = checked(load)
    return settings


def checked(*loaders: Callable[[], Any]) -> list[Any]:
    """Each loader's settings; when any is invalid, every problem of all of them, one line each on
    stderr (`invalid settings: <where>: <problem>`, never a value), then exit code 2. Plain text,
    like `ldv_suite.cli._register_refused`: no wrapping, no markup."""
    from ldv_suite.settings_errors import SettingsRefused

    results: list[Any] = []
    lines: list[str] = []
    for load in loaders:
        try:
            results.append(load())
        except SettingsRefused as exc:
            lines += exc.lines
    if lines:
        for line in dict.fromkeys(lines):  # a shared variable (LDV_ORGANISATION_KEYS) is named once
            typer.echo(f"invalid settings: {line}", err=True)
        raise typer.Exit(2)
    return results


