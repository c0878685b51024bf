"""The transparency log's primitives: pure, no storage (needs `cryptography` for Ed25519).

- the canonical encoding of a stored record and its log entry (`record_entry`, `RECORD_FIELDS`;
  byte for byte in docs/architecture.md, "The transparency log"), and a record's opening
  (`RecordOpening`: salt and values, which give the entry);
- RFC 9162 §2.1 Merkle hashing, inclusion and consistency proofs (`leaf_hash`, `node_hash`,
  `inclusion_proof`, `consistency_proof`, `verify_inclusion`, `verify_consistency`,
  `CompactRange`, `NodeSource`);
- C2SP signed notes, Ed25519 keys (`Signer`, `Verifier`), checkpoints (`Checkpoint`,
  `open_checkpoint`) and `cosignature/v1` (`cosign`);
- C2SP tlog-tiles paths and entry bundles (`TileRef`, `parse_tile_path`, `entry_bundle`);
- the C2SP tlog-witness add-checkpoint decision (`AddCheckpoint`, `decide`).

Persistence (leaves, tile nodes, checkpoints) is in `ldv_logboek.storage`; the collector's
writer appends.
"""

from ldv_logboek.errors import LogIntegrityError, NoteError, ProofError, TransparencyLogError
from ldv_logboek.tlog._leaf import (
    ENTRY_SIZE,
    FIELD_NAMES,
    RECORD_FIELDS,
    SALT_SIZE,
    VOID_ENTRY,
    encode_record,
    expires_at,
    leaf_hashes,
    parse_entry,
    record_digest,
    record_entry,
)
from ldv_logboek.tlog._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    LeafHashes,
    NodeSource,
    consistency_proof,
    edge_nodes,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_root,
    root_from_inclusion,
    root_of,
    subtree_root,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from ldv_logboek.tlog._note import (
    COSIGNATURE_V1,
    ED25519,
    Checkpoint,
    Note,
    NoteSignature,
    Signer,
    Verifier,
    cosign,
    cosignature_time,
    cosigned_message,
    key_id,
    load_signer,
    open_checkpoint,
    parse_note,
    parse_signature_lines,
    sign_note,
)
from ldv_logboek.tlog._opening import RecordOpening
from ldv_logboek.tlog._receipt import Receipt, verify_receipt
from ldv_logboek.tlog._tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileRef,
    encode_index,
    entry_bundle,
    parse_tile_path,
    read_entry_bundle,
    tile_exists,
    tiles_for,
)
from ldv_logboek.tlog._witness import AddCheckpoint, Decision, decide

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "EMPTY_ROOT",
    "ENTRY_SIZE",
    "FIELD_NAMES",
    "HASH_SIZE",
    "RECORD_FIELDS",
    "SALT_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "VOID_ENTRY",
    "AddCheckpoint",
    "Checkpoint",
    "CompactRange",
    "Decision",
    "LeafHashes",
    "LogIntegrityError",
    "NodeSource",
    "Note",
    "NoteError",
    "NoteSignature",
    "ProofError",
    "Receipt",
    "RecordOpening",
    "Signer",
    "TileRef",
    "TransparencyLogError",
    "Verifier",
    "consistency_proof",
    "cosign",
    "cosignature_time",
    "cosigned_message",
    "decide",
    "edge_nodes",
    "encode_index",
    "encode_record",
    "entry_bundle",
    "expires_at",
    "inclusion_proof",
    "key_id",
    "leaf_hash",
    "leaf_hashes",
    "load_signer",
    "node_hash",
    "open_checkpoint",
    "parse_entry",
    "parse_note",
    "parse_signature_lines",
    "parse_tile_path",
    "perfect_root",
    "read_entry_bundle",
    "record_digest",
    "record_entry",
    "root_from_inclusion",
    "root_of",
    "sign_note",
    "subtree_root",
    "tile_exists",
    "tiles_for",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
    "verify_receipt",
]
