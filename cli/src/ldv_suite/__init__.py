"""ldv_suite: the `ldv` command that composes the components (`ldv serve`, `ldv demo`, ...).

Its interface is the command line, not Python names: nothing here is public to import.
"""

__all__: list[str] = []
