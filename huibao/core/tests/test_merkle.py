"""The Merkle tree against RFC 6962's recursive definition and its published test vectors."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huibao.core import merkle


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 §2.1 writes it (recursive, split at the largest power of two < n)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])).digest()


def reference_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if index < k:
        return [*reference_path(index, leaves[:k]), reference_root(leaves[k:])]
    return [*reference_path(index - k, leaves[k:]), reference_root(leaves[:k])]


trees = st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=70)


def test_rfc6962_test_vectors():
    # given the leaves of the Certificate Transparency reference tests (merkle_tree_test.cc)
    leaves = [
        bytes.fromhex(h)
        for h in [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
    ]
    # then the roots are the published ones
    assert merkle.root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.root(leaves[:1]).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert merkle.root(leaves[:3]).hex() == "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"
    assert merkle.root(leaves).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


@given(trees)
def test_root_is_rfc6962_mth(leaves):
    assert merkle.root(leaves) == reference_root(leaves)


@given(trees, st.data())
def test_every_leaf_proves(leaves, data):
    # given a random tree and any of its leaves
    head = merkle.root(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    # when its proof is made
    proof = merkle.inclusion_proof(leaves, index)
    # then it is RFC 6962's audit path and it verifies
    assert proof == reference_path(index, leaves)
    assert merkle.verify_inclusion(leaves[index], index, len(leaves), proof, head)


@given(trees, st.data())
def test_all_leaves_prove(leaves, data):
    head = merkle.root(leaves)
    for index, leaf in enumerate(leaves):
        assert merkle.verify_inclusion(leaf, index, len(leaves), merkle.inclusion_proof(leaves, index), head)


@given(trees, st.data(), st.binary(max_size=40))
def test_a_changed_leaf_fails(leaves, data, other):
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle.inclusion_proof(leaves, index)
    if other != leaves[index]:
        assert not merkle.verify_inclusion(other, index, len(leaves), proof, merkle.root(leaves))


@given(st.lists(st.binary(min_size=1, max_size=8), min_size=2, max_size=70, unique=True), st.data())
def test_a_changed_index_fails(leaves, data):
    head = merkle.root(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(st.integers(-1, len(leaves)).filter(lambda i: i != index))
    proof = merkle.inclusion_proof(leaves, index)
    assert not merkle.verify_inclusion(leaves[index], other, len(leaves), proof, head)
    # (A changed size alone can hash to the same root — the path of leaf 0 of three is that of leaf
    # 0 of four whose last pair is the old third leaf — which is why the size is sealed in the
    # audit chain beside the root and a proof is checked against both.)


@given(st.lists(st.binary(max_size=8), min_size=2, max_size=70), st.data())
def test_a_changed_sibling_fails(leaves, data):
    head = merkle.root(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle.inclusion_proof(leaves, index)
    position = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    tampered = list(proof)
    tampered[position] = bytes([tampered[position][0] ^ (bit or 1)]) + tampered[position][1:]
    assert not merkle.verify_inclusion(leaves[index], index, len(leaves), tampered, head)
    assert not merkle.verify_inclusion(leaves[index], index, len(leaves), proof[:-1], head)
    assert not merkle.verify_inclusion(leaves[index], index, len(leaves), [*proof, head], head)


def test_a_leaf_is_never_an_inner_node():
    # given a two-leaf tree, its inner node's preimage presented as a single leaf
    a, b = b"a", b"b"
    forged = merkle.leaf_hash(a) + merkle.leaf_hash(b)
    # then the one-leaf tree of it does not have the two-leaf tree's root (domain separation)
    assert merkle.root([forged]) != merkle.root([a, b])


def test_index_outside_the_tree_is_refused():
    with pytest.raises(IndexError):
        merkle.inclusion_proof([b"a"], 1)
    assert not merkle.verify_inclusion(b"a", 0, 0, [], merkle.root([]))
