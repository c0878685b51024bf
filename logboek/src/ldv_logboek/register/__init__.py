"""The register of processing activities: models and file loading (its storage is `ldv_logboek.storage.RegisterStore`).

Needs the `store` extra of ldv-logboek (pydantic, pyyaml).

    register = load_register_files(["demo/register"])          # YAML/JSON files or folders
    RegisterStore(store).save(register)                          # ldv_logboek.storage; `ldv register load PATH`
    register.resolve(activity_id, moment)                        # the one version valid then
"""

from ldv_logboek.errors import RegisterConflict, RegisterError, RegisterFileError
from ldv_logboek.register._loader import load_register_files, parse_register_text, register_paths
from ldv_logboek.register._models import (
    ActivityVersion,
    DpvLegalBasis,
    LegalBasis,
    Organisation,
    ProcessingActivity,
    Register,
)

__all__ = [
    "ActivityVersion",
    "DpvLegalBasis",
    "LegalBasis",
    "Organisation",
    "ProcessingActivity",
    "Register",
    "RegisterConflict",
    "RegisterError",
    "RegisterFileError",
    "load_register_files",
    "parse_register_text",
    "register_paths",
]
