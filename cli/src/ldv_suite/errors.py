"""The exceptions of the `ldv` command.

    LdvError                      (ldv_logboek.errors) every exception the suite raises on purpose
    └── SuiteError                `ldv` could not do what was asked; the message says why
        ├── PortUnavailable       a port `ldv serve` should listen on cannot be bound (also an OSError); `ldv_suite.server`
        ├── OpenCollectorRefused  no senders configured and OTLP reachable beyond this machine (also a ValueError); `ldv_suite.server`
        ├── SettingsRefused       invalid settings, one line per problem naming the variable, no value; `ldv_suite.settings_errors`
        ├── DemoError             the demo could not run; `ldv_suite.demo.run`
        ├── ServiceFailed         a demo service did not start or stopped answering; `ldv_suite.demo.launcher`
        ├── ScenarioFailed        a step of the demo scenario was not answered with 200; `ldv_suite.demo.scenario`
        ├── PeerUnavailable       a demo organisation's service did not answer another (502); `ldv_suite.demo.services.peers`
        └── InvalidTargetError    the demo issuer refuses a token exchange's target (RFC 8693 `invalid_target`, 400; also an Authlib OAuth2Error); `ldv_suite.demo.token_service`

The subclasses live next to the code that raises them; this module holds their common base.
The register's and the store's errors come from the core's tree.
"""

from __future__ import annotations

from ldv_logboek import LdvError

__all__ = ["SuiteError"]


class SuiteError(LdvError):
    """`ldv` could not do what was asked; the message says why."""
