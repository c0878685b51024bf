"""The exceptions of the core, and the base of every exception the LDV suite raises.

    LdvError                      every exception of ldv_logboek, ldv_sdk, ldv_collector, ldv_inzicht, ldv_suite
    ├── StorageError              the store did not do what was asked
    │   ├── StorageUnavailable    not reachable or overloaded now; the same call may succeed later (503)
    │   └── StorageFault          refused for a reason a retry does not fix (500, with an incident id)
    └── RegisterError             the register of processing activities refused input (also a ValueError)
        ├── RegisterFileError     a register file that cannot be read: the file and every problem in it
        └── RegisterConflict      a stored version would change; the register only grows by new versions
    └── TransparencyLogError      the transparency log (ldv_logboek.tlog) refused or found something
        ├── NoteError             a signed note, key, checkpoint or cosignature that is malformed or does not verify (also a ValueError)
        ├── ProofError            a proof that cannot be made or read: sizes out of range, wrong length (also a ValueError)
        └── LogIntegrityError     the stored log contradicts itself or a checkpoint it signed: the writer will not append

Each component has an `errors.py` of its own whose tree hangs under `LdvError`, so
`except LdvError` catches everything the suite raises on purpose and nothing else. Pure
Python: the SDK imports it without the storage dependencies.
"""

from __future__ import annotations

import uuid
from pathlib import Path

__all__ = [
    "LdvError",
    "RegisterConflict",
    "RegisterError",
    "RegisterFileError",
    "StorageError",
    "StorageFault",
    "StorageUnavailable",
    "TransparencyLogError",
    "NoteError",
    "ProofError",
    "LogIntegrityError",
]


class LdvError(Exception):
    """Base class of every exception the LDV suite raises on purpose."""


class StorageError(LdvError):
    """The store did not do what was asked."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or is overloaded now; the same call may succeed later (503, UNAVAILABLE)."""


class StorageFault(StorageError):
    """The store refused a statement for a reason a retry does not fix (500, INTERNAL).

    A bug in our SQL, a schema that is not what the code expects (unknown table or column,
    type mismatch), or data the store cannot take. `incident` names this occurrence: it goes
    into the answer and into the one log line that holds the driver's message (the message
    itself may quote values or name hosts, so it is never sent).
    """

    def __init__(self, message: str, *, code: int | None = None):
        super().__init__(message)
        self.code = code
        self.incident = f"urn:uuid:{uuid.uuid4()}"


class RegisterError(LdvError, ValueError):
    """The register of processing activities refused input (a ValueError too: it is bad input)."""


class RegisterFileError(RegisterError):
    """A register file that cannot be read, with the file and every problem in it."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class RegisterConflict(RegisterError):
    """A stored version would change; the register only grows by new versions."""


class TransparencyLogError(LdvError):
    """The transparency log (ldv_logboek.tlog) refused input or found something wrong."""


class NoteError(TransparencyLogError, ValueError):
    """A signed note, key, checkpoint or cosignature that is malformed or does not verify."""


class ProofError(TransparencyLogError, ValueError):
    """A Merkle proof that cannot be made or read (a size or index out of range, a wrong length)."""


class LogIntegrityError(TransparencyLogError):
    """The stored log contradicts itself or a checkpoint it signed; the writer will not append to it.

    Raised at start when the leaves the store holds do not reach the size of the newest signed
    checkpoint (leaves were removed), or no longer hash to its root (leaves were rewritten).
    Appending would fork the log, so the collector does not start; `ldv audit` says what differs.
    """
