"""Settings shared by the Logboek's server components: one `organisation_keys` for collector and API.

The collector pseudonymises a clear BSN with the key of the record's organisation; the read
API and the citizen inzage pseudonymise a citizen's BSN with every key to find the records.
They need the same keys, so there is one variable, `LDV_ORGANISATION_KEYS`, one type,
`OrganisationKeys`, and one rule (`ldv_logboek._keys.check_organisation_keys`).

`LDV_COLLECTOR_ORGANISATION_KEYS` and `LDV_API_ORGANISATION_KEYS`, which held the same keys
under different checks, are still read, with a warning; both set to different keys is refused.

Needs pydantic and pydantic-settings (the `store` extra); the SDK never imports this module.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Annotated, Any, ClassVar

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

log = logging.getLogger("ldv.settings")

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
            "citizen's BSN with every key to find their records. Replaces `LDV_COLLECTOR_ORGANISATION_KEYS` and "
            "`LDV_API_ORGANISATION_KEYS` (still read, with a warning). Secret: never logged."
        ),
    )


class OrganisationKeysSource(PydanticBaseSettingsSource):
    """Reads `LDV_ORGANISATION_KEYS` (or a component's deprecated variable) into `organisation_keys`.

    Put it right after the init arguments in `settings_customise_sources`, so it wins over the
    component's own prefixed variable.
    """

    def __init__(self, settings_cls: type[BaseSettings], *, deprecated_variable: str):
        super().__init__(settings_cls)
        self.deprecated_variable = deprecated_variable

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything happens in __call__: one field, two variables

    def _refuse(self, message: str) -> ValidationError:
        # A ValidationError like any other bad setting, so callers report it the same way; never a key.
        error = InitErrorDetails(
            type=PydanticCustomError("organisation_keys", message), loc=("organisation_keys",), input="(hidden)"
        )
        return ValidationError.from_exception_data(self.settings_cls.__name__, [error])

    def _parse(self, variable: str, text: str) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise self._refuse(f"{variable} must be a JSON object: organisation code -> key") from None
        if not isinstance(value, dict):
            raise self._refuse(f"{variable} must be a JSON object: organisation code -> key")
        return value

    def __call__(self) -> dict[str, Any]:
        shared, deprecated = os.environ.get(ORGANISATION_KEYS_VARIABLE), os.environ.get(self.deprecated_variable)
        if deprecated is None:
            return {} if shared is None else {"organisation_keys": self._parse(ORGANISATION_KEYS_VARIABLE, shared)}
        log.warning(
            "%s is deprecated: set %s, read by the collector and the Inzicht API alike",
            self.deprecated_variable,
            ORGANISATION_KEYS_VARIABLE,
        )
        old = self._parse(self.deprecated_variable, deprecated)
        if shared is not None and self._parse(ORGANISATION_KEYS_VARIABLE, shared) != old:
            raise self._refuse(
                f"{ORGANISATION_KEYS_VARIABLE} and the deprecated {self.deprecated_variable} hold different keys: "
                f"set only {ORGANISATION_KEYS_VARIABLE}"
            )
        return {"organisation_keys": old}


class SettingsWithOrganisationKeys(BaseSettings):
    """Base of a component's settings that hold `organisation_keys`: reads the one shared variable.

    A subclass names its own deprecated variable; `OrganisationKeysSource` then comes right after
    the init arguments, so the shared variable wins over the component's prefixed one.
    """

    deprecated_organisation_keys_variable: ClassVar[str]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        keys = OrganisationKeysSource(settings_cls, deprecated_variable=cls.deprecated_organisation_keys_variable)
        return init_settings, keys, env_settings, dotenv_settings, file_secret_settings
