"""The Fieldlab register that the demo loads: `demo/register/*.yaml` in the source tree."""

from __future__ import annotations

import os
from pathlib import Path

from ldv_logboek.register import Register, load_register_files

REGISTER_ENV = "LDV_DEMO_REGISTER"


def demo_register_dir() -> Path:
    """The folder with the demo register's YAML files.

    `LDV_DEMO_REGISTER` names another folder; by default the copy packed into the wheel, or
    the repository's `demo/register` when the suite is installed editable from a checkout.
    """
    if override := os.environ.get(REGISTER_ENV):
        return Path(override)
    # An installed wheel carries a copy next to this module (see the root pyproject.toml).
    packaged = Path(__file__).resolve().parent / "register_files"
    if packaged.is_dir():
        return packaged
    # cli/src/ldv_suite/demo/register.py -> the repository root is four folders up.
    return Path(__file__).resolve().parents[4] / "demo" / "register"


def load_demo_register() -> Register:
    """The demo register, parsed and checked (RegisterFileError names the file and its problems)."""
    folder = demo_register_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"demo register not found at {folder} (set {REGISTER_ENV} to its folder)")
    return load_register_files([folder])
