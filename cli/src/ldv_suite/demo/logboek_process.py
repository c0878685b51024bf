"""Run `ldv serve` as one of the demo's own Logboeken: `python -m ldv_suite.demo.logboek_process serve ...`.

The same command as `ldv serve ...` (same arguments, same `LDV_*` settings), plus one thing a
demo needs: it stops when `ldv demo` is gone, so no Logboek outlives a demo that was killed
and keeps its data directory locked.
"""

from __future__ import annotations

from ldv_suite.demo.parent_watch import exit_with_parent


def main() -> None:
    exit_with_parent()
    from ldv_suite.cli import app

    app(prog_name="ldv")  # its arguments: sys.argv[1:]


if __name__ == "__main__":
    main()
