"""Settings shared by the Logboek's server components: one `organisation_keys` for collector and API.

The collector pseudonymises a clear BSN with the key of the record's organisation; the read
API and the citizen inzage pseudonymise a citizen's BSN with every key to find the records.
They need the same keys, so there is one variable, `LDV_ORGANISATION_KEYS`, one type,
`OrganisationKeys`, and one rule (`ldv_logboek._keys.check_organisation_keys`).

Needs pydantic and pydantic-settings (the `store` extra); the SDK never imports this module.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from ldv_logboek import attributes as attr
from ldv_logboek._keys import MIN_KEY_BYTES, check_organisation_keys

__all__ = [
    "ORGANISATION_KEYS_VARIABLE",
    "SHARED_VARIABLES",
    "OrganisationKeys",
    "OrganisationKeysSource",
    "SettingsWithOrganisationKeys",
    "organisation_keys_field",
]

ORGANISATION_KEYS_VARIABLE = "LDV_ORGANISATION_KEYS"
# Field name -> the one variable that sets it in every component (instead of `<prefix><NAME>`).
SHARED_VARIABLES = {"organisation_keys": ORGANISATION_KEYS_VARIABLE}


def _checked(keys: dict[str, SecretStr]) -> dict[str, SecretStr]:
    check_organisation_keys({organisation: key.get_secret_value() for organisation, key in keys.items()})
    return keys


OrganisationKeys = Annotated[dict[str, SecretStr], AfterValidator(_checked)]
"""Organisation code -> its pseudonymisation key (a secret), checked by the core's one rule."""


def organisation_keys_field() -> Any:
    """The `organisation_keys` field of a component's settings, with the one description."""
    return Field(
        default_factory=dict,
        description=(
            f"Pseudonymisation key per organisation: organisation code (resource attribute `{attr.ORGANISATION}`) "
            f"-> its key, at least {MIN_KEY_BYTES} bytes, as JSON: "
            f"`{ORGANISATION_KEYS_VARIABLE}='{{\"dienst-toeslagen\": \"...\"}}'`. One setting for the collector "
            f"and the Inzicht API: the collector pseudonymises a clear BSN in `{attr.DATA_SUBJECT_ID}` with the key "
            "of the record's organisation (HMAC-SHA256); the read API and the citizen inzage pseudonymise a "
            "citizen's BSN with every key to find their records. Secret: never logged."
        ),
    )


class OrganisationKeysSource(PydanticBaseSettingsSource):
    """Reads `LDV_ORGANISATION_KEYS` into `organisation_keys` (the one variable, whatever the component's prefix).

    Put it right after the init arguments in `settings_customise_sources`, so it wins over the
    component's own prefixed variable.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything happens in __call__

    def __call__(self) -> dict[str, Any]:
        text = os.environ.get(ORGANISATION_KEYS_VARIABLE)
        if text is None:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            # A ValidationError like any other bad setting, so callers report it the same way; never a key.
            message = f"{ORGANISATION_KEYS_VARIABLE} must be a JSON object: organisation code -> key"
            error = InitErrorDetails(
                type=PydanticCustomError("organisation_keys", message), loc=("organisation_keys",), input="(hidden)"
            )
            raise ValidationError.from_exception_data(self.settings_cls.__name__, [error])
        return {"organisation_keys": value}


class SettingsWithOrganisationKeys(BaseSettings):
    """Base of a component's settings that hold `organisation_keys`: reads the one shared variable
    (`OrganisationKeysSource`, right after the init arguments, so it wins over the component's
    prefixed one)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, OrganisationKeysSource(settings_cls), env_settings, dotenv_settings, file_secret_settings
