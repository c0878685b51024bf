"""`ldv witness`: a C2SP tlog-witness over HTTP, for a supervisor or another organisation.

    POST <prefix>/add-checkpoint          c2sp.org/tlog-witness (answers 200/400/403/404/409/422)
    GET  <prefix>/<sha256(origin)>/checkpoint   the newest checkpoint it cosigned, with its cosignature

It trusts a fixed list of log keys (one origin each), keeps the last (size, root, note) it
cosigned per origin in a JSON state file (written atomically: a temporary file, fsync, rename,
before the answer), and cosigns with its own Ed25519 key (`cosignature/v1`). A refused
checkpoint of a known log is logged as evidence (`refused` in the state file, the note kept),
because it may prove the log misbehaved (a fork: two checkpoints of one size).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ldv_logboek.tlog import AddCheckpoint, NoteError, Signer, Verifier, cosign, decide

log = logging.getLogger("ldv.witness")
MAX_BODY = 64 * 1024
MAX_REFUSALS_KEPT = 100


class WitnessState:
    """The witness's memory: per origin the last cosigned (size, root, note) and refusals."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.logs: dict[str, dict[str, Any]] = {}
        if path.exists():
            self.logs = json.loads(path.read_text(encoding="utf-8")).get("logs", {})

    def latest(self) -> dict[str, tuple[int, bytes]]:
        return {o: (int(v["size"]), base64.b64decode(v["root"])) for o, v in self.logs.items() if "size" in v}

    def record(self, origin: str, size: int, root: bytes, note: str) -> None:
        entry = self.logs.setdefault(origin, {})
        entry.update(size=size, root=base64.b64encode(root).decode(), note=note)
        self._save()

    def refuse(self, origin: str, status: int, reason: str, note: str) -> None:
        entry = self.logs.setdefault(origin, {})
        refused = entry.setdefault("refused", [])
        refused.append({"time": int(time.time()), "status": status, "reason": reason, "note": note})
        del refused[:-MAX_REFUSALS_KEPT]
        self._save()

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump({"logs": self.logs}, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)


def create_witness_app(signer: Signer, logs: Sequence[Verifier], state_path: Path) -> Starlette:
    """The witness as an ASGI app (module docstring)."""
    trusted = {v.name: v for v in logs}
    state = WitnessState(state_path)

    def add(body: bytes) -> tuple[int, str, str]:
        try:
            request = AddCheckpoint.parse(body)
        except NoteError as exc:
            return 400, f"{exc}\n", "text/plain; charset=utf-8"
        with state.lock:  # check and persist atomically (the spec's race)
            decision = decide(request, trusted, state.latest())
            if decision.status == 200 and decision.checkpoint is not None:
                sig = cosign(decision.checkpoint.text, signer, int(time.time()))
                cosigned = decision.note.with_signatures((sig,)).serialize() if decision.note else ""
                state.record(decision.checkpoint.origin, decision.checkpoint.size, decision.checkpoint.root, cosigned)
                return 200, sig.line, "text/plain; charset=utf-8"
            if decision.status == 422:
                # Signed by a trusted log and inconsistent with what was cosigned: evidence.
                origin = request.note_text.split("\n", 1)[0]
                state.refuse(origin, decision.status, decision.reason, request.note_text)
                log.warning("refused a checkpoint of %s: %s", origin, decision.reason)
            if decision.status == 409:
                return 409, f"{decision.latest_size}\n", "text/x.tlog.size"
            return decision.status, f"{decision.reason}\n", "text/plain; charset=utf-8"

    async def add_checkpoint(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse("request too large\n", 413)
        status, text, media = await run_in_threadpool(add, body)
        # Exactly the spec's type (Starlette would add a charset to a text/* media_type).
        return Response(text.encode(), status, headers={"Content-Type": media})

    async def checkpoint(request: Request) -> Response:
        wanted = request.path_params["origin_hash"]
        for origin, entry in state.logs.items():
            if hashlib.sha256(origin.encode()).hexdigest() == wanted and entry.get("note"):
                return PlainTextResponse(entry["note"], headers={"Cache-Control": "no-cache"})
        return PlainTextResponse("never cosigned a checkpoint of that log\n", 404)

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/{origin_hash:str}/checkpoint", checkpoint, methods=["GET"]),
        ]
    )
