"""Run one organisation's demo service: configure the LDV SDK for it, then serve it with uvicorn.

    python -m ldv_suite.demo.services dienst-toeslagen --port 8102 \
        --endpoint http://127.0.0.1:4318/v1/traces --key-file keys/dienst-toeslagen.key \
        --token-file tokens/dienst-toeslagen.token \
        --spool spool/dienst-toeslagen.db \
        --peer belastingdienst=http://127.0.0.1:8103/ \
        --read-api belastingdienst=https://lezen.belastingdienst.example/lezenapi/v1

`ldv demo` starts one such process per organisation. The process ends on SIGTERM/SIGINT
(delivering what is still spooled first) and when its parent process is gone.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

import ldv_sdk
from ldv_suite.demo.parent_watch import exit_with_parent
from ldv_suite.demo.services import ORGANISATIONS, service_module
from ldv_suite.demo.services.peers import Peers

SHUTDOWN_DELIVERY_SECONDS = 5.0


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, url = value.partition("=")
        if not sep or not name or not url:
            raise SystemExit(f"{option} needs ORGANISATION=URL, got {value!r}")
        out[name] = url
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ldv_suite.demo.services", description=__doc__.split("\n")[0])
    parser.add_argument("organisation", choices=ORGANISATIONS)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--endpoint", required=True, help="the collector's OTLP/HTTP traces URL")
    parser.add_argument("--key-file", type=Path, required=True, help="the organisation's pseudonymisation key")
    parser.add_argument("--token-file", type=Path, help="the organisation's sender token for the collector")
    parser.add_argument("--spool", type=Path, required=True, help="the SDK's spool file (one per process)")
    parser.add_argument("--peer", action="append", help="ORGANISATION=URL of another organisation's service")
    parser.add_argument("--read-api", action="append", help="ORGANISATION=URL of its LDV read API (from the register)")
    args = parser.parse_args()
    service = service_module(args.organisation)
    peers = _pairs(args.peer, "--peer")
    read_apis = _pairs(args.read_api, "--read-api")
    logging.basicConfig(level=logging.WARNING, format=f"{args.organisation}: %(levelname)s %(name)s: %(message)s")

    # Once per process, at start: who we are, where the register and the Logboek are, our key.
    ldv_sdk.configure(
        organisation=service.ORGANISATION,
        service_name=service.SERVICE_NAME,
        register_base_uri=service.REGISTER_BASE_URI,
        pseudonym_key=args.key_file.read_bytes().strip(),
        endpoint=args.endpoint,
        sender_token=args.token_file.read_text().strip() if args.token_file else None,
        # A call to a URL under a peer's service URL records that peer's read API on the action.
        read_apis={url: read_apis[org] for org, url in peers.items() if org in read_apis},
        spool_path=args.spool,
    )
    exit_with_parent()
    app = service.create_app(Peers(peers))
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        ldv_sdk.shutdown(timeout=SHUTDOWN_DELIVERY_SECONDS)


if __name__ == "__main__":
    main()
