"""`python -m ldv_dashboards build [DIR]`: regenerate the dashboards and provisioning files."""

from __future__ import annotations

import sys
from pathlib import Path

from ldv_dashboards.build import SOURCE_ROOT, write


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "build" or len(argv) > 2:
        print("usage: python -m ldv_dashboards build [DIR]", file=sys.stderr)
        return 2
    for path in write(Path(argv[1]) if len(argv) == 2 else SOURCE_ROOT):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
