"""ldv_sdk: Logboek Dataverwerkingen (LDV) logging for a service, over OpenTelemetry.

Three lines::

    import ldv_sdk
    ldv_sdk.configure(organisation="dienst-toeslagen", service_name="huurtoeslag", pseudonym_key=KEY,
                      register_base_uri="https://register.toeslagen.example/processing-activities")

    @ldv_sdk.verwerking("huurtoeslag", subject="bsn")
    def bereken_huurtoeslag(bsn: str) -> int: ...

Nothing is captured unless named; subject ids are pseudonymised before they leave the
process; records go to a durable local spool and from there to the Logboek's collector.
"""

from ldv_sdk._processing import Declaration, Verwerking, current, verwerking
from ldv_sdk._propagator import LdvPropagator
from ldv_sdk._runtime import configure, flush, shutdown
from ldv_sdk._server import LdvMiddleware, LdvWsgiMiddleware
from ldv_sdk._spool import Spool
from ldv_sdk.errors import (
    ConfigurationError,
    LdvError,
    LoggingFailed,
    ProcessingReentered,
    SpoolClosed,
    SpoolDiskFull,
    SpoolFull,
)
from ldv_sdk.settings import LdvConfig

__all__ = [
    "ConfigurationError",
    "Declaration",
    "LdvConfig",
    "LdvError",
    "LdvMiddleware",
    "LdvPropagator",
    "LdvWsgiMiddleware",
    "LoggingFailed",
    "ProcessingReentered",
    "Spool",
    "SpoolClosed",
    "SpoolDiskFull",
    "SpoolFull",
    "Verwerking",
    "configure",
    "current",
    "flush",
    "shutdown",
    "verwerking",
]
__version__ = "0.1.0"
