"""The demo's secrets, made once per data directory and kept there: `<data-dir>/demo/`.

- `login-key.pem`: an EC P-256 private key that the citizen page's demo login signs tokens
  with, and `jwks.json` with its public key, which the Inzicht API trusts;
- `keys/<organisation>.key`: one random pseudonymisation key per organisation, used by its
  service's SDK and by the Inzicht API to find a citizen's records;
- `tokens/<organisation>.token`: one random sender token per organisation, which its
  service's SDK sends to the collector; the collector knows each as a sender bound to that
  organisation (by the token's SHA-256), so no service can write another's records;
- `clients/<client>.secret`: the client secret with which the shared Logboek authenticates
  at the demo token service to exchange a citizen's token for one per other Logboek.

DEMO ONLY: anyone who can read these files can log in as any citizen or link pseudonyms to
BSNs. Files are created with mode 0600, the folders with 0700. They are kept, so a restarted
demo still finds the records it stored before.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pydantic import SecretStr

from ldv_collector import SenderSettings, token_sha256
from ldv_inzicht import ApiSettings, AuthSettings, InzageSettings

DEMO_KEY_ID = "ldv-demo-login"
ISSUER = "urn:ldv:demo:inlog"
LOGBOEK = "https://logboek.demo.example/lezenapi/v1"
"""The shared demo Logboek's own identifier: the audience of every token it accepts."""
CLIENT_ID = "logboek-gedeeld"
"""The shared Logboek's client id at the demo token service."""


def write_private_file(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only (created with 0600, never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class DemoSecrets:
    """Paths of the demo's secrets in `<data-dir>/demo/`."""

    directory: Path

    @property
    def login_key_file(self) -> Path:
        return self.directory / "login-key.pem"

    @property
    def jwks_file(self) -> Path:
        return self.directory / "jwks.json"

    def key_file(self, organisation: str) -> Path:
        return self.directory / "keys" / f"{organisation}.key"

    def token_file(self, organisation: str) -> Path:
        return self.directory / "tokens" / f"{organisation}.token"

    @property
    def client_secret_file(self) -> Path:
        return self.directory / "clients" / f"{CLIENT_ID}.secret"

    @property
    def spool_dir(self) -> Path:
        """The demo services' SDK spools, one file per organisation."""
        return self.directory / "spool"

    @property
    def log_dir(self) -> Path:
        """The logs of the demo's processes: each service and each own Logboek."""
        return self.directory / "logs"

    def client_secret(self) -> SecretStr:
        return SecretStr(self.client_secret_file.read_text().strip())

    @classmethod
    def prepare(cls, data_dir: Path, organisations: Iterable[str]) -> DemoSecrets:
        """Create whatever is missing (the login key pair, a key per organisation); keep the rest."""
        demo = cls(data_dir / "demo")
        for folder in (demo.directory, demo.directory / "keys", demo.directory / "tokens", demo.directory / "clients"):
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
        if not demo.login_key_file.exists() or not demo.jwks_file.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            jwk = {**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": DEMO_KEY_ID, "use": "sig", "alg": "ES256"}
            write_private_file(demo.login_key_file, pem)
            write_private_file(demo.jwks_file, json.dumps({"keys": [jwk]}, indent=2).encode())
        per_organisation = [path(org) for org in organisations for path in (demo.key_file, demo.token_file)]
        for path in (demo.client_secret_file, *per_organisation):
            if not path.exists():
                # Text, so the SDK (bytes of the file) and the API settings (a string) use the same key.
                write_private_file(path, secrets.token_urlsafe(32).encode())
        return demo

    @classmethod
    def existing(cls, data_dir: Path) -> DemoSecrets:
        """The secrets an earlier `ldv demo` made in `data_dir`; FileNotFoundError if there are none."""
        demo = cls(data_dir / "demo")
        if not demo.login_key_file.exists():
            raise FileNotFoundError(f"no demo secrets in {demo.directory}: run `ldv demo` first")
        return demo

    def organisation_keys(self, served: Collection[str] | None = None) -> dict[str, SecretStr]:
        """Organisation code -> pseudonymisation key, for every organisation with a key file (or those `served`)."""
        return {
            path.stem: SecretStr(path.read_text().strip())
            for path in sorted((self.directory / "keys").glob("*.key"))
            if served is None or path.stem in served
        }

    def collector_senders(self, served: Collection[str] | None = None) -> dict[str, Any]:
        """`CollectorSettings.senders`: each organisation's service (or those `served`), bound to it by its token."""
        return {
            path.stem: SenderSettings(organisation=path.stem, token_sha256=token_sha256(path.read_text().strip()))
            for path in sorted((self.directory / "tokens").glob("*.token"))
            if served is None or path.stem in served
        }

    def api_kwargs(
        self,
        served: Collection[str] | None = None,
        *,
        logboeken: Mapping[str, str] | None = None,
        token_endpoint: str | None = None,
    ) -> dict[str, Any]:
        """The keyword arguments of `ldv_inzicht.create_app` for the shared demo Logboek.

        `served`: the organisations that log into it (default: all). `logboeken`: the other
        Logboeken, identifier -> read API address, which its inzage asks for the citizen's
        records with tokens exchanged at `token_endpoint` (the demo token service).
        """
        return {
            # The organisations that log into this Logboek: the inzage and the read API find a
            # citizen's records under each one's pseudonym, and follow no chain to them.
            "settings": ApiSettings(organisation_keys=self.organisation_keys(served)),
            "auth_settings": AuthSettings(
                jwks_file=self.jwks_file,
                issuer=ISSUER,
                audience=LOGBOEK,
                demo_login=True,
                demo_private_key_file=self.login_key_file,
                demo_key_id=DEMO_KEY_ID,
                cookie_secure=False,  # the demo serves plain http on loopback
            ),
            "inzage_settings": InzageSettings(
                logboeken=tuple(logboeken or {}),
                read_api_addresses=dict(logboeken or {}),
                token_endpoint=token_endpoint,
                client_id=CLIENT_ID if token_endpoint else "",
                client_secret=self.client_secret() if token_endpoint else None,
            ),
        }
