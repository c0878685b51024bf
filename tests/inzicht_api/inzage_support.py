"""Shared setup of the register, auth and inzage tests: keys, tokens, seeded records, the app.

Two test citizens with real-looking (elfproef-valid) test BSNs. Linda has records at several
organisations, including one confidential FIOD activity and one activity the register does
not know; Ben has records of his own that Linda must never see.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from ldv_inzicht._app import create_app
from ldv_inzicht.settings import ApiSettings, AuthSettings, InzageSettings
from ldv_logboek import LogRecord, Status
from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from ldv_logboek.register import load_register_files
from ldv_logboek.storage import LogStore, RegisterStore
from tests.conftest import REPO_ROOT
from tests.servers import serving

DEMO_REGISTER = REPO_ROOT / "demo" / "register"
ISSUER = "https://inlog.burger.example"
AUDIENCE = "https://logboek.test.example/lezenapi/v1"
LINDA = "111222333"  # passes the elfproef
BEN = "123456782"
def other_key(org: str) -> str:
    """The key of an organisation this Logboek does not serve (its records are in another Logboek)."""
    return f"{org}-key-of-its-own-logboek"


KEYS = {
    "dienst-toeslagen": "toeslagen-test-key",
    "belastingdienst": "belastingdienst-test-key",
    "gemeente-amsterdam": "amsterdam-test-key",
}
ACT = {
    "huurtoeslag": "https://register.toeslagen.example/processing-activities/huurtoeslag",
    "zorgtoeslag": "https://register.toeslagen.example/processing-activities/zorgtoeslag",
    "inkomen": "https://register.belastingdienst.example/processing-activities/inkomen-verstrekken",
    "fiod": "https://register.belastingdienst.example/processing-activities/fiod-fraudeonderzoek",
    "bijstand": "https://register.amsterdam.example/processing-activities/bijstand",
    "unknown": "https://register.amsterdam.example/processing-activities/niet-geregistreerd",
}


@dataclass
class Signer:
    """An issuer key pair; `token(...)` mints a signed JWT."""

    private_pem: bytes
    kid: str

    @classmethod
    def generate(cls, kid: str) -> Signer:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return cls(pem, kid)

    def jwk(self) -> dict[str, Any]:
        public = serialization.load_pem_private_key(self.private_pem, None).public_key()
        jwk = json.loads(ECAlgorithm.to_jwk(public))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}

    def token(self, *, exp_in: int = 600, aud: str = AUDIENCE, iss: str = ISSUER, **claims: Any) -> str:
        now = int(time.time())
        body = {"sub": "test-user", "iss": iss, "aud": aud, "iat": now, "exp": now + exp_in, **claims}
        return jwt.encode(body, self.private_pem, algorithm="ES256", headers={"kid": self.kid})


def write_jwks(path: Path, *signers: Signer) -> Path:
    path.write_text(json.dumps({"keys": [s.jwk() for s in signers]}))
    return path


def citizen(signer: Signer, bsn: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": "Bearer " + signer.token(bsn=bsn, roles=["citizen"], **claims)}


def organisation(signer: Signer, code: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + signer.token(roles=["organisation"], organisation=code)}


def supervisor(signer: Signer) -> dict[str, str]:
    return {"Authorization": "Bearer " + signer.token(roles=["supervisor"])}


def record(
    bsn: str,
    org: str,
    activity: str,
    *,
    name: str,
    when: float,
    trace_id: bytes,
    status: Status = Status.OK,
    **attrs: str,
) -> LogRecord:
    start = int(when * 1e9)
    attributes = {
        attr.PROCESSING_ACTIVITY_ID: activity,
        attr.DATA_SUBJECT_ID: pseudonymise(bsn, (KEYS[org] if org in KEYS else other_key(org)).encode()),
        attr.DATA_SUBJECT_ID_TYPE: "BSN",
        **attrs,
    }
    return LogRecord(
        trace_id=trace_id,
        span_id=os.urandom(8),
        name=name,
        start_time_ns=start,
        end_time_ns=start + 3_000_000,
        status=status,
        attributes=attributes,
        resource_attributes={attr.SERVICE_NAME: f"{org}-api", attr.ORGANISATION: org},
    )


@dataclass
class Seeded:
    """What `seed` stored, for assertions."""

    linda_visible: set[str]  # span ids (hex) Linda must see
    linda_confidential: set[str]
    linda_unknown: set[str]
    ben: set[str]
    move_trace: bytes


def seed(store: LogStore, *, read_api_of: dict[str, str] | None = None) -> Seeded:
    """Store the Fieldlab records; `read_api_of` maps an activity key to an externalReadAPI_id URL."""
    now = time.time()
    day = 86_400
    move = os.urandom(16)  # life event: moving house and asking huurtoeslag
    job = os.urandom(16)  # life event: losing a job, bijstand
    fraud = os.urandom(16)
    extra = read_api_of or {}
    linda = [
        record(LINDA, "dienst-toeslagen", ACT["huurtoeslag"], name="huurtoeslag aanvragen", when=now - 30 * day, trace_id=move,
               **({attr.EXTERNAL_READ_API_ID: extra["huurtoeslag"]} if "huurtoeslag" in extra else {})),
        record(LINDA, "belastingdienst", ACT["inkomen"], name="inkomen verstrekken", when=now - 30 * day + 5, trace_id=move),
        record(LINDA, "dienst-toeslagen", ACT["zorgtoeslag"], name="zorgtoeslag herberekenen", when=now - 20 * day, trace_id=move),
        record(LINDA, "gemeente-amsterdam", ACT["bijstand"], name="bijstand aanvragen", when=now - 10 * day, trace_id=job,
               status=Status.ERROR),
    ]
    unknown = [record(LINDA, "gemeente-amsterdam", ACT["unknown"], name="dossier raadplegen", when=now - 9 * day, trace_id=job)]
    confidential = [record(LINDA, "belastingdienst", ACT["fiod"], name="transacties analyseren", when=now - 5 * day, trace_id=fraud)]
    ben = [
        record(BEN, "dienst-toeslagen", ACT["huurtoeslag"], name="huurtoeslag aanvragen", when=now - 3 * day, trace_id=os.urandom(16)),
        record(BEN, "belastingdienst", ACT["inkomen"], name="inkomen verstrekken", when=now - 3 * day, trace_id=os.urandom(16)),
    ]
    # A duplicate delivery (OTLP retry) must still show once.
    store.insert(linda + unknown + confidential + ben + [linda[0]])
    return Seeded(
        linda_visible={r.span_id.hex() for r in linda + unknown},
        linda_confidential={r.span_id.hex() for r in confidential},
        linda_unknown={r.span_id.hex() for r in unknown},
        ben={r.span_id.hex() for r in ben},
        move_trace=move,
    )


def auth_settings(jwks: Path, *, demo_key: Path | None = None, audience: str = AUDIENCE) -> AuthSettings:
    """Tokens checked against `jwks`, with the test issuer and (by default) the test audience."""
    return AuthSettings(
        jwks_file=jwks, issuer=ISSUER, audience=audience,
        demo_login=demo_key is not None, demo_private_key_file=demo_key, demo_key_id="demo" if demo_key else None,
        cookie_secure=False,
    )


def make_app(  # noqa: ANN201 - FastAPI
    store: LogStore, jwks: Path, *, register_paths: list[Path] | None = None, demo_key: Path | None = None,
    follow_chain: bool = True, timeout: float = 2.0, keys: dict[str, str] | None = None, **inzage_options: Any,
):
    """The real app on `store`, with the demo register loaded and tokens checked against `jwks`.

    `keys`: the organisations this Logboek serves and their keys (default: `KEYS`); other
    keyword arguments are `InzageSettings` (e.g. the token endpoint).
    """
    RegisterStore(store).save(load_register_files(register_paths or [DEMO_REGISTER]))
    inzage = InzageSettings(follow_chain=follow_chain, federation_timeout_seconds=timeout, **inzage_options)
    settings = ApiSettings(organisation_keys=KEYS if keys is None else keys)
    return create_app(store, settings, auth_settings=auth_settings(jwks, demo_key=demo_key), inzage_settings=inzage)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real uvicorn server on a loopback port, in a thread; `with Server(app) as base_url`.

    Without `port` the socket is bound when the block starts (no other process can take the
    port first); with one, that port (reserved earlier, e.g. to name it in a register).
    """

    def __init__(self, app: object, port: int | None = None):
        self._serving = serving(app, port or 0, lifespan="auto")

    def __enter__(self) -> str:
        self.port = self._serving.__enter__()
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self._serving.__exit__(None, None, None)


def spans_of(body: dict[str, Any]) -> set[str]:
    return {p["spanId"] for t in body["traces"] for g in t["organisations"] for p in g["processings"]}
