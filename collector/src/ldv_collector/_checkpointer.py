"""Signed checkpoints of the writer's transparency log, at least once per interval while it grows.

A background thread wakes every `interval` seconds; when the tree grew since the last
checkpoint (or none was signed yet), it signs the tree head (C2SP checkpoint, Ed25519 note
signature of the log key), stores it, submits it to every configured witness (C2SP
tlog-witness add-checkpoint, with a consistency proof from the size that witness cosigned
last) and stores the checkpoint again with the cosignatures it got. A witness that is down or
refuses costs a warning and a counter, never an export: the log is signed and served either way.
"""

from __future__ import annotations

import base64
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from ldv_collector._metrics import CollectorMetrics
from ldv_collector.settings import CollectorSettings
from ldv_logboek.storage import StoredTree, TransparencyLog
from ldv_logboek.tlog import Checkpoint, Note, NoteError, Verifier, consistency_proof, parse_signature_lines

log = logging.getLogger(__name__)


@dataclass
class WitnessClient:
    """One witness: where it takes add-checkpoint, its cosigning key, the size it cosigned last."""

    url: str
    verifier: Verifier
    cosigned_size: int | None = None  # unknown until the first answer (then a 409 tells it)

    def _post(self, body: bytes, timeout: float) -> tuple[int, str]:
        request = urllib.request.Request(
            self.url.rstrip("/") + "/add-checkpoint", data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - a configured https/http URL
                return response.status, response.read(65536).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(65536).decode("utf-8", "replace")

    def submit(self, checkpoint: Checkpoint, note: Note, logged: TransparencyLog, timeout: float = 5.0) -> Note | None:
        """The note with this witness's cosignature; None when it refused or is unreachable."""
        for _ in range(2):  # a 409 tells the size it has: one more try from there
            old = self.cosigned_size or 0
            if old > checkpoint.size:
                log.warning("witness %s has size %d, above ours (%d): refusing to go back", self.url, old, checkpoint.size)
                return None
            proof = consistency_proof(StoredTree(logged.tables, checkpoint.size), old, checkpoint.size) if old else []
            body = f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof) + "\n" + note.serialize()
            status, text = self._post(body.encode(), timeout)
            if status == 409 and text.strip().isdigit():
                self.cosigned_size = int(text.strip())
                continue
            if status != 200:
                log.warning("witness %s refused checkpoint %d: HTTP %d %s", self.url, checkpoint.size, status, text[:200])
                return None
            try:
                cosigned = note.with_signatures(parse_signature_lines(text))
                if cosigned.signed_by(self.verifier) is None:
                    log.warning("witness %s answered without a cosignature of its key", self.url)
                    return None
            except NoteError as exc:
                log.warning("witness %s answered a bad cosignature: %s", self.url, exc)
                return None
            self.cosigned_size = checkpoint.size
            return cosigned
        return None


class Checkpointer:
    """Signs, stores and gets cosigned the log's checkpoints; see the module docstring."""

    def __init__(self, logged: TransparencyLog, metrics: CollectorMetrics, settings: CollectorSettings):
        self.log = logged
        self.interval = settings.log_checkpoint_interval_ms / 1000
        self.witnesses = [WitnessClient(w.url, Verifier.parse(w.vkey)) for w in settings.log_witnesses]
        self.metrics = metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._signed_size: int | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ldv-log-checkpointer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the thread after one last checkpoint of what was committed."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def checkpoint_now(self) -> None:
        """Sign (and submit) a checkpoint when the tree grew since the last one (or none was signed yet)."""
        if self.log.size == self._signed_size:
            return
        checkpoint, note, keep = self.log.sign_checkpoint()
        self._signed_size = checkpoint.size
        cosigned = note
        for witness in self.witnesses:
            try:
                got = witness.submit(checkpoint, cosigned, self.log)
            except (OSError, urllib.error.URLError) as exc:
                log.warning("witness %s unreachable: %s", witness.url, type(exc).__name__)
                got = None
            if got is None:
                self.metrics.add(witness_failures=1)
            else:
                cosigned = got
        if cosigned is not note:  # a witness cosigned: store the checkpoint again, with its cosignatures
            self.log.tables.save_checkpoint(checkpoint, cosigned, keep)
        self.metrics.add(checkpoints=1)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.interval)
            try:
                self.checkpoint_now()
            except Exception as exc:  # noqa: BLE001 - a failed checkpoint is retried next interval
                log.warning("checkpoint of %s failed: %s", self.log.origin, type(exc).__name__)
            if stopping:
                return
