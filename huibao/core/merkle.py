"""A Merkle tree over leaf digests, as RFC 6962 (Certificate Transparency) §2.1 defines it.

Pure: no Django, no I/O. A leaf's hash is SHA-256(0x00 || leaf) and an inner node's is
SHA-256(0x01 || left || right): the two domains never collide, so a leaf can never pass for an
inner node (the second-preimage attack on plain Merkle trees). A tree of n leaves splits at the
largest power of two below n; the empty tree's root is SHA-256 of nothing.

`inclusion_proof` returns the audit path of RFC 6962 §2.1.1 (siblings from the leaf up) and
`verify_inclusion` recomputes the root from a leaf, its index, the tree size and that path, as
§2.1.1 / RFC 9162 §2.1.3.2 describe; anyone can run it with nothing but hashlib.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
DIGEST_SIZE = 32


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _level_root(hashes: list[bytes]) -> bytes:
    """Root over already leaf-hashed nodes, bottom-up: pairing left to right and carrying an odd
    last node up unchanged gives exactly RFC 6962's left-balanced tree, without recursion."""
    while len(hashes) > 1:
        paired = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes) - 1, 2)]
        if len(hashes) % 2:
            paired.append(hashes[-1])
        hashes = paired
    return hashes[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree head (MTH) of `leaves`, in order."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    return _level_root([leaf_hash(leaf) for leaf in leaves])


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of `leaves[index]`: the sibling hashes from the leaf level up to the root."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside a tree of {len(leaves)}")
    path: list[bytes] = []
    level = [leaf_hash(leaf) for leaf in leaves]
    i = index
    while len(level) > 1:
        sibling = i ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        # else: the last, unpaired node rises as it is; it has no sibling at this level.
        paired = [node_hash(level[k], level[k + 1]) for k in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level, i = paired, i // 2
    return path


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that `leaf` at `index` in a tree of `size` leaves hashes up to along `path`, or
    None when the path cannot belong to such a tree (wrong length, index out of range)."""
    if not 0 <= index < size or any(len(p) != DIGEST_SIZE for p in path):
        return None
    fn, sn = index, size - 1
    node = leaf_hash(leaf)
    for sibling in path:
        if sn == 0:
            return None  # more path than the tree is high
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                # The right-most node of its level without a sibling: climb until it is a right child.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when `leaf` is leaf number `index` of the tree of `size` leaves whose head is `root`."""
    computed = root_from_path(leaf, index, size, proof)
    return computed is not None and computed == root
