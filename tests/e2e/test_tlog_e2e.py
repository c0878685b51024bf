"""The transparency log end to end: real `ldv serve` processes (embedded store, and two
stateless collectors on one ClickHouse store behind HTTP), a real witness over HTTP, records
over OTLP, the log served as tlog-tiles, a SIGKILL in the middle of the load, then `ldv audit`
and `ldv verify` as subprocesses with public keys only."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ldv_logboek import attributes as attr
from ldv_logboek.tlog import (
    COSIGNATURE_V1,
    Checkpoint,
    Signer,
    TileRef,
    leaf_hash,
    log_id,
    parse_note,
    read_entry_bundle,
    tree_root,
)
from ldv_suite._log_commands import HttpTiles
from ldv_suite._witness_server import create_witness_app
from tests.collector.helpers import ldv_attributes, make_request, make_span
from tests.e2e.serve_process import ServeProcess
from tests.servers import serving

pytestmark = pytest.mark.usefixtures("store_mode")
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def send(serve: ServeProcess, requests: int, per: int, activity: str) -> int:
    """Send `requests` OTLP requests of `per` spans; the number of spans acknowledged."""
    acked = 0
    with httpx.Client(timeout=60) as client:
        for _ in range(requests):
            request = make_request([make_span(ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: activity})) for _ in range(per)])
            try:
                response = client.post(serve.traces_url, content=request.SerializeToString(), headers=PROTOBUF)
            except httpx.HTTPError:
                break  # the process was killed
            if response.status_code != 200:
                break
            acked += per
    return acked


def log_of(serve: ServeProcess, origin: str) -> dict:
    logs = httpx.get(f"{serve.api_url}/log/", timeout=30).json()["logs"]
    return next(entry for entry in logs if entry["origin"] == origin)


def wait_for_checkpoint(serve: ServeProcess, origin: str, size: int, witness: Signer) -> str:
    """The served checkpoint of `origin` once it covers `size` leaves and the witness cosigned it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        entry = log_of(serve, origin)
        response = httpx.get(f"{serve.api_url}{entry['prefix']}checkpoint", timeout=30)
        if response.status_code == 200:
            note = parse_note(response.text)
            if Checkpoint.from_text(note.text).size >= size and note.signed_by(witness.verifier) is not None:
                return response.text
        time.sleep(0.2)
    raise AssertionError(f"no cosigned checkpoint of {size} leaves for {origin}")


def ldv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ldv_suite.cli", *args], capture_output=True, text=True, timeout=600)


def test_logs_are_signed_cosigned_served_and_audited_after_a_kill(tmp_path: Path, store_mode: str) -> None:
    witness = Signer.generate("toezicht.example/ap-witness", COSIGNATURE_V1)
    keys = [Signer.generate(f"logboek.test/{name}") for name in ("collector-a", "collector-b")]
    with serving(create_witness_app(witness, [k.verifier for k in keys], tmp_path / "witness.json")) as witness_port:
        witnesses = f'[{{"url": "http://127.0.0.1:{witness_port}", "vkey": "{witness.verifier.vkey}"}}]'

        def env(key: Signer) -> dict[str, str]:
            return {"LDV_COLLECTOR_LOG_KEY": key.text, "LDV_COLLECTOR_LOG_WITNESSES": witnesses, "LDV_COLLECTOR_LOG_CHECKPOINT_INTERVAL_MS": "200"}

        # Embedded: one writer (chDB opens a data directory from one process). On the ClickHouse
        # store: two stateless collectors, each its own log.
        used = keys if store_mode == "clickhouse-http" else keys[:1]
        serves = [ServeProcess(tmp_path / f"data-{i}", env=env(k)).start() for i, k in enumerate(used)]
        activity = f"https://register.example/processing-activities/tlog-{store_mode}"
        acked = {k.name: send(s, 6, 50, activity) for k, s in zip(used, serves)}
        first = {k.name: wait_for_checkpoint(s, k.name, acked[k.name], witness) for k, s in zip(used, serves)}

        a, key_a = serves[0], used[0]
        # Served as tlog-tiles: the tiles give the checkpoint's root; full tiles are immutable.
        entry = log_of(a, key_a.name)
        prefix = f"{a.api_url}{entry['prefix']}"
        checkpoint = Checkpoint.from_text(parse_note(first[key_a.name]).text)
        assert tree_root(HttpTiles(prefix, checkpoint.size), checkpoint.size) == checkpoint.root
        full = httpx.get(prefix + TileRef(0, 0).path, timeout=30)
        assert full.status_code == 200 and len(full.content) == 8192
        assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
        bundle = httpx.get(prefix + TileRef(None, 0).path, timeout=30)
        entries = read_entry_bundle(bundle.content)
        assert [leaf_hash(e) for e in entries] == [full.content[i : i + 32] for i in range(0, 8192, 32)]
        assert httpx.get(prefix + "tile/0/x000/000", timeout=30).status_code == 400
        if store_mode == "embedded":  # `ldv serve` copies the full tiles to files behind the checkpoints
            copied = a.data_dir / "tlog-tiles" / log_id(key_a.name) / "level-0"
            deadline = time.monotonic() + 30
            while (not copied.exists() or copied.stat().st_size < 8192) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert copied.read_bytes()[:8192] == full.content
        # A receipt for a leaf, through the API, verifies offline with the public keys only.
        receipt = httpx.get(prefix + "proof/7", timeout=30)
        assert receipt.status_code == 200 and receipt.text.startswith("c2sp.org/tlog-proof@v1\nextra ")
        receipt_file = tmp_path / "leaf7.tlog-proof"
        receipt_file.write_text(receipt.text)
        checked = ldv("verify", "receipt", str(receipt_file), "--log-key", key_a.verifier.vkey,
                      "--witness-key", witness.verifier.vkey, "--min-witnesses", "1")  # fmt: skip
        assert checked.returncode == 0, checked.stderr
        assert "is leaf 7 of" in checked.stdout
        receipt_file.write_text(receipt.text.replace("index 7", "index 8"))
        assert ldv("verify", "receipt", str(receipt_file), "--log-key", key_a.verifier.vkey).returncode == 1
        assert httpx.get(prefix + f"proof/{checkpoint.size + 10**6}", timeout=30).status_code == 404

        # SIGKILL in the middle of a stream of requests: what was acknowledged must be in the log.
        more = 0
        sender = threading.Thread(target=lambda: acked.__setitem__("killed", send(a, 400, 20, activity)))
        sender.start()
        time.sleep(1.5)
        a.kill()
        sender.join(60)
        more = acked.pop("killed")
        assert more > 0
        a.start()
        acked[key_a.name] += more + send(a, 2, 10, activity)
        latest = wait_for_checkpoint(a, key_a.name, acked[key_a.name], witness)
        old_file, new_file = tmp_path / "old.checkpoint", tmp_path / "new.checkpoint"
        old_file.write_text(first[key_a.name])
        new_file.write_text(latest)
        verified = ldv(
            "verify", "checkpoints", str(old_file), str(new_file), "--log-key", key_a.verifier.vkey,
            "--witness-key", witness.verifier.vkey, "--log-url", prefix,
        )  # fmt: skip
        assert verified.returncode == 0, verified.stderr
        assert "cosigned by toezicht.example/ap-witness" in verified.stdout

        for serve in serves:
            assert serve.terminate() == 0
    where = ["--store-dsn", ServeProcess.backing_dsn] if store_mode == "clickhouse-http" else ["--data-dir", str(serves[0].data_dir)]
    key_args = [arg for k in used for arg in ("--log-key", k.verifier.vkey)]
    audit = ldv("audit", *where, *key_args, "--checkpoint", str(new_file), "--save-checkpoints", str(tmp_path / "saved"))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    for key in used:
        line = next(line for line in audit.stdout.splitlines() if line.startswith(f"log {key.name}:"))
        matched = int(line.split(" records matched")[0].rsplit(" ", 1)[1])
        assert matched >= acked[key.name], line  # every acknowledged record is logged (a killed request may add some)
    saved = {p.name for p in (tmp_path / "saved").iterdir()}
    assert {k.name.replace("/", "_") + ".checkpoint" for k in used} <= saved  # (the backing serve has a log of its own)
