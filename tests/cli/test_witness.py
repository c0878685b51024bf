"""`ldv witness` over HTTP (c2sp.org/tlog-witness): cosigns consistent checkpoints, answers the
spec's codes, keeps a refused fork as evidence, and remembers what it cosigned across restarts."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import httpx

from ldv_logboek.tlog import (
    COSIGNATURE_V1,
    Checkpoint,
    LeafHashes,
    Signer,
    consistency_proof,
    leaf_hash,
    parse_note,
    sign_note,
    tree_root,
)
from ldv_suite._witness_server import create_witness_app
from tests.servers import serving

LOG = Signer.generate("logboek.test/witnessed")
WITNESS = Signer.generate("toezicht.test/w", COSIGNATURE_V1)
LEAVES = [leaf_hash(bytes([i])) for i in range(40)]
SOURCE = LeafHashes(LEAVES)


def signed(size: int, root: bytes | None = None) -> str:
    return sign_note(Checkpoint(LOG.name, size, root or tree_root(SOURCE, size)).text, LOG).serialize()


def body(old: int, new: int, note: str) -> bytes:
    proof = consistency_proof(SOURCE, old, new) if old else []
    return (f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof) + "\n" + note).encode()


def test_the_witness_cosigns_refuses_and_remembers(tmp_path: Path) -> None:
    state = tmp_path / "witness.json"
    with serving(create_witness_app(WITNESS, [LOG.verifier], state)) as port:
        url = f"http://127.0.0.1:{port}"
        first = httpx.post(f"{url}/add-checkpoint", content=body(0, 10, signed(10)))
        assert first.status_code == 200 and first.text.startswith("— toezicht.test/w ")
        cosigned = parse_note(signed(10)).with_signatures(parse_note(signed(10) + first.text).signatures[1:])
        assert cosigned.signed_by(WITNESS.verifier) is not None
        stale = httpx.post(f"{url}/add-checkpoint", content=body(0, 20, signed(20)))
        assert (stale.status_code, stale.text, stale.headers["content-type"]) == (409, "10\n", "text/x.tlog.size")
        assert httpx.post(f"{url}/add-checkpoint", content=body(10, 20, signed(20))).status_code == 200
        fork = signed(20, tree_root(LeafHashes(LEAVES[:19] + [leaf_hash(b"rewritten")]), 20))
        refused = httpx.post(f"{url}/add-checkpoint", content=body(20, 20, fork))
        assert refused.status_code == 422
        origin_hash = hashlib.sha256(LOG.name.encode()).hexdigest()
        served = httpx.get(f"{url}/{origin_hash}/checkpoint")
        assert served.status_code == 200 and Checkpoint.from_text(parse_note(served.text).text).size == 20
        assert parse_note(served.text).signed_by(WITNESS.verifier) is not None
        assert httpx.get(f"{url}/{'0' * 64}/checkpoint").status_code == 404
        assert httpx.post(f"{url}/add-checkpoint", content=b"not a request").status_code == 400
    recorded = json.loads(state.read_text())["logs"][LOG.name]
    assert recorded["size"] == 20 and recorded["refused"][0]["status"] == 422 and recorded["refused"][0]["note"] == fork
    # Restarted on the same state: it still knows size 20.
    with serving(create_witness_app(WITNESS, [LOG.verifier], state)) as port:
        again = httpx.post(f"http://127.0.0.1:{port}/add-checkpoint", content=body(0, 30, signed(30)))
        assert (again.status_code, again.text) == (409, "20\n")
