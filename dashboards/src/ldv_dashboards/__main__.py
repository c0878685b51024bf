"""`python -m ldv_dashboards build [DIR]`: regenerate the dashboards and provisioning files."""

from __future__ import annotations

import sys
from pathlib import Path

from ldv_dashboards.build import SOURCE_ROOT, in_source_checkout, write


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "build" or len(argv) > 2:
        print("usage: python -m ldv_dashboards build [DIR]", file=sys.stderr)
        return 2
    if len(argv) == 1 and not in_source_checkout():
        print("not in a source checkout: give a folder to write into", file=sys.stderr)
        return 2
    for path in write(Path(argv[1]) if len(argv) == 2 else SOURCE_ROOT):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
