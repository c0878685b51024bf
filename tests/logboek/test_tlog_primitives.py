"""ldv_logboek.tlog against published vectors: RFC 6962/9162 tree heads and proofs (the
Certificate Transparency reference leaves), the C2SP signed-note example, and the C2SP
tlog-tiles path examples; then properties over many tree sizes."""

from __future__ import annotations

import base64
import hashlib
import random

import pytest

from ldv_logboek.tlog import (
    COSIGNATURE_V1,
    EMPTY_ROOT,
    AddCheckpoint,
    Checkpoint,
    CompactRange,
    LeafHashes,
    NoteError,
    ProofError,
    Signer,
    TileRef,
    Verifier,
    consistency_proof,
    cosign,
    decide,
    edge_nodes,
    encode_index,
    entry_bundle,
    inclusion_proof,
    leaf_hash,
    open_checkpoint,
    parse_note,
    parse_tile_path,
    read_entry_bundle,
    root_of,
    sign_note,
    tile_exists,
    tiles_for,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

# The reference leaves of RFC 6962's Certificate Transparency implementation and the roots of
# their trees of size 0..8 (the vectors other implementations test against).
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path) from the same reference.
CT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
HASHES = [leaf_hash(d) for d in CT_LEAVES]


def test_tree_heads_match_the_reference() -> None:
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]
    for size in range(9):
        assert root_of(HASHES[:size]).hex() == CT_ROOTS[size]
        assert tree_root(LeafHashes(HASHES), size).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(LeafHashes(HASHES[:size]), index, size)
    assert [p.hex() for p in proof] == path
    root = bytes.fromhex(CT_ROOTS[size])
    assert verify_inclusion(index, size, HASHES[index], proof, root)
    assert not verify_inclusion(index, size, HASHES[index - 1 if index else 1], proof, root)
    assert not verify_inclusion(index, size, HASHES[index], proof[:-1], root)
    assert not verify_inclusion(index, 2 * size + 1, HASHES[index], proof, root)  # a size of another shape


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_consistency_proofs_match_the_reference(old: int, new: int, path: list[str]) -> None:
    proof = consistency_proof(LeafHashes(HASHES[:new]), old, new)
    assert [p.hex() for p in proof] == path
    old_root, new_root = bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new])
    assert verify_consistency(old, new, old_root, new_root, proof)
    if old != new:
        assert not verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old - 1]), new_root, proof)
        assert not verify_consistency(old, new, old_root, bytes.fromhex(CT_ROOTS[new - 1]), proof)


def test_every_proof_of_every_small_tree_verifies_and_a_forged_one_does_not() -> None:
    rng = random.Random(9162)
    leaves = [leaf_hash(rng.randbytes(rng.randint(0, 40))) for _ in range(70)]
    source = LeafHashes(leaves)
    roots = [root_of(leaves[:n]) for n in range(71)]
    for size in range(1, 71):
        assert tree_root(source, size) == roots[size]
        for index in range(size):
            proof = inclusion_proof(source, index, size)
            assert verify_inclusion(index, size, leaves[index], proof, roots[size])
            assert not verify_inclusion(index, size, leaves[(index + 1) % 70], proof, roots[size]) or size == 1
        for old in range(0, size + 1):
            proof = consistency_proof(source, old, size)
            assert verify_consistency(old, size, roots[old], roots[size], proof)
            if 0 < old < size:
                forked = leaves[: old - 1] + [leaf_hash(b"other")]
                assert not verify_consistency(old, size, root_of(forked), roots[size], proof)


def test_compact_range_reports_tile_level_nodes_and_restarts_from_its_edge() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(1000)]
    reported: list[tuple[int, int, bytes]] = []
    compact = CompactRange(on_node=lambda lvl, idx, h: reported.append((lvl, idx, h)), report_levels=frozenset({8}))
    compact.extend(leaves)
    assert compact.root() == root_of(leaves)
    assert [(lvl, idx) for lvl, idx, _ in reported] == [(8, 0), (8, 1), (8, 2)]
    assert reported[1][2] == root_of(leaves[256:512])
    source = LeafHashes(leaves)
    edge = [source.node(lvl, idx) for lvl, idx in edge_nodes(1000)]
    again = CompactRange(1000, edge)
    again.extend([leaf_hash(b"next")])
    assert again.root() == root_of(leaves + [leaf_hash(b"next")])
    with pytest.raises(ProofError):
        CompactRange(1000, edge[:-1])


# The example of c2sp.org/signed-note (verifier key and the note it verifies).
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_the_signed_note_example_of_the_spec_verifies() -> None:
    verifier = Verifier.parse(SPEC_VKEY)
    assert verifier.vkey == SPEC_VKEY
    note = parse_note(SPEC_NOTE)
    assert note.text == "This is an example message.\n"
    assert note.signed_by(verifier) is not None
    assert note.serialize() == SPEC_NOTE
    tampered = parse_note(SPEC_NOTE.replace("example message", "exemplary message"))
    with pytest.raises(NoteError):
        tampered.signed_by(verifier)
    other = Signer.generate("example.com/foo").verifier
    assert note.signed_by(other) is None  # another key of the same name: ignored, not trusted


def test_keys_round_trip_and_a_changed_key_id_is_refused() -> None:
    signer = Signer.generate("logboek.example/log")
    assert Signer.parse(signer.text) == signer
    assert Verifier.parse(signer.verifier.vkey) == signer.verifier
    assert signer.text not in repr(signer)
    name, key_hex, material = signer.verifier.vkey.split("+", 2)
    with pytest.raises(NoteError):
        Verifier.parse(f"{name}+{'0' * 8}+{material}")
    with pytest.raises(NoteError):
        Signer.generate("has space")


def test_checkpoint_signed_opened_and_refused_when_altered_or_signed_by_another_key() -> None:
    signer = Signer.generate("logboek.example/log")
    checkpoint = Checkpoint("logboek.example/log", 8, bytes.fromhex(CT_ROOTS[8]))
    note = sign_note(checkpoint.text, signer)
    text = note.serialize()
    assert text.startswith("logboek.example/log\n8\n" + base64.b64encode(checkpoint.root).decode() + "\n\n— logboek.example/log ")
    opened, _ = open_checkpoint(text, signer.verifier)
    assert opened == checkpoint
    with pytest.raises(NoteError):
        open_checkpoint(text.replace("\n8\n", "\n9\n"), signer.verifier)
    impostor = Signer.generate("logboek.example/log")
    with pytest.raises(NoteError):
        open_checkpoint(sign_note(checkpoint.text, impostor).serialize(), signer.verifier)
    with pytest.raises(NoteError):
        Checkpoint.from_text("o\n01\n" + base64.b64encode(bytes(32)).decode() + "\n")
    with pytest.raises(NoteError):
        Checkpoint.from_text("o\n0\n" + base64.b64encode(bytes(32)).decode() + "\n")


def test_cosignature_v1_signs_the_spec_message_and_verifies_as_a_note_signature() -> None:
    witness = Signer.generate("witness.example/w1", COSIGNATURE_V1)
    log = Signer.generate("example.com/behind-the-sofa")
    checkpoint = Checkpoint("example.com/behind-the-sofa", 8, bytes.fromhex(CT_ROOTS[8]))
    note = sign_note(checkpoint.text, log)
    sig = cosign(checkpoint.text, witness, 1679315147)
    assert len(sig.key_id + sig.signature) == 4 + 8 + 64
    assert sig.signature[:8] == (1679315147).to_bytes(8, "big")
    message = b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n8\n" + base64.b64encode(checkpoint.root) + b"\n"
    assert witness.verifier.verify(message, sig.signature[8:])
    cosigned = parse_note(note.with_signatures((sig,)).serialize())
    assert cosigned.signed_by(witness.verifier) is not None
    assert cosigned.signed_by(log.verifier) is not None
    vkey = witness.verifier.vkey
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04


def test_tile_paths_follow_the_spec() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000"
    assert encode_index(1000) == "x001/000"
    assert TileRef(0, 1234067).path == "tile/0/x001/x234/067"
    assert TileRef(None, 5, 17).path == "tile/entries/005.p/17"
    for ref in (TileRef(0, 1234067), TileRef(2, 3, 1), TileRef(None, 1000, 255)):
        assert parse_tile_path(ref.path) == ref
    for bad in ("tile/0/1234", "tile/0/x000/001", "tile/00/000", "tile/0/000.p/256", "tile/0/000.p/0", "tile/64/000"):
        with pytest.raises(ProofError):
            parse_tile_path(bad)
    # The spec's example: a tree of 70,000 leaves.
    tiles = tiles_for(70_000)
    assert sum(1 for t in tiles if t.level == 0 and t.full) == 273
    assert [t for t in tiles if not t.full] == [TileRef(0, 273, 112), TileRef(1, 1, 17), TileRef(2, 0, 1)]
    assert sum(1 for t in tiles if t.level == 1 and t.full) == 1
    assert tiles_for(256) == [TileRef(0, 0), TileRef(1, 0, 1)]
    assert tile_exists(TileRef(0, 273, 112), 70_000) and not tile_exists(TileRef(0, 273, 111), 70_000)
    assert not tile_exists(TileRef(0, 273), 70_000)
    entries = [b"", b"a", bytes(41)]
    assert read_entry_bundle(entry_bundle(entries)) == entries
    with pytest.raises(ProofError):
        read_entry_bundle(entry_bundle(entries)[:-1])


def _add(old: int, proof: list[bytes], note: str) -> AddCheckpoint:
    body = f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof) + "\n" + note
    return AddCheckpoint.parse(body.encode())


def test_witness_decisions_follow_the_spec() -> None:
    log = Signer.generate("logboek.example/log")
    logs = {log.name: log.verifier}
    source = LeafHashes(HASHES)

    def signed(size: int, root: bytes | None = None) -> str:
        return sign_note(Checkpoint(log.name, size, root or tree_root(source, size)).text, log).serialize()

    first = decide(_add(0, [], signed(5)), logs, {})
    assert first.status == 200 and first.checkpoint is not None and first.checkpoint.size == 5
    latest = {log.name: (5, tree_root(source, 5))}
    good = decide(_add(5, consistency_proof(source, 5, 8), signed(8)), logs, latest)
    assert good.status == 200
    assert decide(_add(3, consistency_proof(source, 3, 8), signed(8)), logs, latest).status == 409
    assert decide(_add(5, consistency_proof(source, 5, 7), signed(8)), logs, latest).status == 422
    forked = leaf_hash(b"rewritten")
    fork_root = root_of(HASHES[:4] + [forked])
    assert decide(_add(5, [], signed(5, fork_root)), logs, latest).status == 422  # same size, other root
    assert decide(_add(9, [], signed(8)), logs, latest).status == 400
    assert decide(_add(0, [HASHES[0]], signed(8)), logs, {}).status == 422
    stranger = Signer.generate("other.example/log")
    assert decide(_add(0, [], sign_note(Checkpoint(stranger.name, 1, HASHES[0]).text, stranger).serialize()), logs, {}).status == 404
    impostor = Signer.generate(log.name)
    assert decide(_add(5, [], sign_note(Checkpoint(log.name, 5, tree_root(source, 5)).text, impostor).serialize()), logs, latest).status == 403
    assert decide(_add(0, [], signed(0, bytes(32))), logs, {}).status == 422
    with pytest.raises(NoteError):
        AddCheckpoint.parse(b"old 01\n\n" + signed(5).encode())


def test_a_compact_range_takes_whole_subtrees_as_their_leaves() -> None:
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(45)]
    one_by_one = CompactRange()
    one_by_one.extend(leaves[:32])
    by_subtree = CompactRange()
    by_subtree.append_subtree(5, root_of(leaves[:32]))
    assert by_subtree.nodes == one_by_one.nodes
    for start, level in ((32, 3), (40, 2), (44, 0)):
        by_subtree.append_subtree(level, root_of(leaves[start : start + (1 << level)]))
    assert by_subtree.size == 45 and by_subtree.root() == root_of(leaves)
    with pytest.raises(ProofError):
        by_subtree.append_subtree(1, leaves[0])  # 45 is not a multiple of 2


def test_node_in_tiles_names_the_tile_hashes_a_node_is_the_root_of() -> None:
    # 2**17 leaves: tree levels 0, 8 and 16 as the tiles hold them; every node of levels 0-17 (a
    # sample of each) is the perfect root of the hashes node_in_tiles names.
    from ldv_logboek.tlog import LeafHashes, node_in_tiles, perfect_root

    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(1 << 17)]
    levels = {0: leaves, 8: [perfect_root(leaves[i : i + 256]) for i in range(0, len(leaves), 256)]}
    levels[16] = [perfect_root(levels[8][i : i + 256]) for i in range(0, len(levels[8]), 256)]
    tree = LeafHashes(leaves)
    for level in range(18):
        width = 1 << (17 - level)
        for index in sorted({0, 1 % width, width // 3, width - 1}):
            tile_level, tile_index, offset, count = node_in_tiles(level, index)
            assert offset + count <= 256
            start = tile_index * 256 + offset
            assert perfect_root(levels[8 * tile_level][start : start + count]) == tree.node(level, index)
