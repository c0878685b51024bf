"""RFC 9162 §2.1 Merkle trees (SHA-256, leaf prefix 0x00, node prefix 0x01) and their proofs.

The tree over leaves D[0:n] is MTH(D[0:n]): the leaf hash for one leaf, and
NODE(MTH(D[0:k]), MTH(D[k:n])) with k the largest power of two below n otherwise. Every
function here takes *leaf hashes* (never leaf data) and reaches the tree through `NodeSource`:
`node(level, index)` is the hash of the perfect subtree of 2**level leaves starting at leaf
index * 2**level. A source that only has level 0 (a list of leaf hashes) works; the store's
source also has the hashes of tile levels (8, 16, ...) and computes the rest from at most 256
hashes of the level below.

Proofs are generated from any source and verified from nothing but the proof, sizes and
hashes (`verify_inclusion`, `verify_consistency`), following RFC 9162 §2.1.3.2 and §2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol

from ldv_logboek.errors import ProofError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return _sha256(NODE_PREFIX + left + right).digest()


class NodeSource(Protocol):
    """Where a proof finds the hashes of perfect subtrees."""

    def node(self, level: int, index: int) -> bytes:
        """The hash of leaves [index * 2**level, (index + 1) * 2**level)."""
        ...


class LeafHashes:
    """A `NodeSource` over a list of leaf hashes: every node computed (tests, small trees)."""

    def __init__(self, leaves: Sequence[bytes]):
        self.leaves = leaves

    def node(self, level: int, index: int) -> bytes:
        start = index << level
        if start + (1 << level) > len(self.leaves):
            raise ProofError(f"node ({level}, {index}) is not in a tree of {len(self.leaves)} leaves")
        return perfect_root(self.leaves[start : start + (1 << level)])


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """The root over `hashes`, whose count is a power of two (level by level, no recursion)."""
    level = list(hashes)
    if not level:
        raise ProofError("no hashes")
    while len(level) > 1:
        if len(level) % 2:
            raise ProofError("not a power of two")
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH over `leaves` (leaf hashes); EMPTY_ROOT for none."""
    compact = CompactRange()
    compact.extend(leaves)
    return compact.root()


def subtree_root(source: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for any range, from the perfect subtrees that make it up."""
    if end <= start:
        raise ProofError("empty range")
    # The range splits as RFC 9162's MTH does: a leftmost perfect part, then the rest.
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        return source.node(n.bit_length() - 1, start // n)
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(subtree_root(source, start, start + k), subtree_root(source, start + k, end))


def tree_root(source: NodeSource, size: int) -> bytes:
    """The root of the first `size` leaves of `source`."""
    return EMPTY_ROOT if size == 0 else subtree_root(source, 0, size)


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf-side first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    # Walk down from the root, collecting the sibling of each step; reversed at the end.
    while end - start > 1:
        k = 1 << ((end - start - 1).bit_length() - 1)
        if index < start + k:
            proof.append(subtree_root(source, start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(source, start, start + k))
            start += k
    proof.reverse()
    return proof


def consistency_proof(source: NodeSource, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1 (empty when old_size is 0 or equal)."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    # SUBPROOF(m, D[start:end], complete), iteratively; nodes collected root-side first.
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree_root(source, start, end))
            break
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            proof.append(subtree_root(source, start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(source, start, start + k))
            start += k
            m -= k
            complete = False
    proof.reverse()
    return proof


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2); ProofError when malformed."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """True when `proof` shows leaf hash `leaf` at `index` in the tree of `size` with `root`."""
    try:
        return root_from_inclusion(index, size, leaf, proof) == root
    except ProofError:
        return False


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """True when `proof` shows the tree (new_size, new_root) extends (old_size, old_root) (RFC 9162 §2.1.4.2)."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)  # old tree is a perfect subtree: its root starts the walk
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class CompactRange:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest first.

    Appending costs O(1) amortised hashes; `root()` O(log n). `on_node(level, index, hash)`, when
    given, is told every perfect subtree completed at a level in `report_levels` (the store
    keeps the tile levels 8, 16, ... this way).
    """

    def __init__(
        self,
        size: int = 0,
        nodes: Sequence[bytes] = (),
        *,
        on_node: Callable[[int, int, bytes], None] | None = None,
        report_levels: frozenset[int] = frozenset(),
    ):
        self.size = size
        self._nodes = list(nodes)  # one per set bit of size, highest level first
        if len(self._nodes) != bin(size).count("1"):
            raise ProofError(f"a tree of size {size} has {bin(size).count('1')} edge nodes, not {len(self._nodes)}")
        self.on_node = on_node
        self.report_levels = report_levels

    @property
    def nodes(self) -> list[bytes]:
        """The edge nodes, highest level first (what `edge_nodes` describes)."""
        return list(self._nodes)

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Add leaf hashes in order (every record's leaf passes here: the loop's names are local for speed)."""
        nodes = self._nodes
        size = self.size
        report = self.on_node if self.report_levels else None
        levels = self.report_levels
        sha256 = _sha256
        for leaf in leaves:
            node = leaf
            index = size
            level = 0
            while index & 1:
                node = sha256(NODE_PREFIX + nodes.pop() + node).digest()
                index >>= 1
                level += 1
                if report is not None and level in levels:
                    report(level, index, node)
            nodes.append(node)
            size += 1
        self.size = size

    def append_subtree(self, level: int, node: bytes) -> None:
        """Add the root `node` of 2**level leaves at once; the size must be a multiple of 2**level
        (the audit adds whole levels it hashed itself). Nodes completed are not reported."""
        if self.size & ((1 << level) - 1):
            raise ProofError(f"a subtree of level {level} cannot start at leaf {self.size}")
        nodes = self._nodes
        index = self.size >> level
        while index & 1:
            node = _sha256(NODE_PREFIX + nodes.pop() + node).digest()
            index >>= 1
        nodes.append(node)
        self.size += 1 << level

    def root(self) -> bytes:
        """MTH of the leaves so far."""
        if not self._nodes:
            return EMPTY_ROOT
        node = self._nodes[-1]
        for left in reversed(self._nodes[:-1]):
            node = node_hash(left, node)
        return node


def edge_nodes(size: int) -> list[tuple[int, int]]:
    """(level, index) of the perfect subtrees a tree of `size` is made of, largest first."""
    out: list[tuple[int, int]] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out
