"""The RFC 9162 Merkle tree over audit entries: roots and audit paths match the RFC's definitions and
the Certificate Transparency test vectors, for every leaf of trees of 1 to 9 leaves."""

import hashlib

import pytest

from witnessbox.audit.merkle import (
    RootBuilder,
    audit_path,
    entry_leaf,
    leaf_hash,
    node_hash,
    proves,
    root_from_path,
    root_of,
)

# The leaf inputs and roots of certificate-transparency's merkle_tree_test (RFC 6962 = RFC 9162 hashing).
INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
          "70717273"]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
LEAVES = [leaf_hash(bytes.fromhex(data)) for data in INPUTS]
SIZES_AND_LEAVES = [(size, index) for size in range(1, 10) for index in range(size)]


def _mth(data: list[bytes]) -> bytes:
    """MTH(D[n]) written straight from RFC 9162 2.1.1, recursively, as the reference."""
    if len(data) == 1:
        return data[0]
    k = 1
    while k * 2 < len(data):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(data[:k]) + _mth(data[k:])).digest()


def _path(m: int, data: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) straight from RFC 9162 2.1.3.1."""
    if len(data) == 1:
        return []
    k = 1
    while k * 2 < len(data):
        k *= 2
    if m < k:
        return [*_path(m, data[:k]), _mth(data[k:])]
    return [*_path(m - k, data[k:]), _mth(data[:k])]


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_certificate_transparency_vectors(size: int) -> None:
    """GIVEN the CT test leaves WHEN the first `size` are hashed into a tree THEN the root is the published one."""
    assert root_of(LEAVES[:size]).hex() == ROOTS[size - 1]


def test_the_audit_path_matches_the_published_vector() -> None:
    """GIVEN the eight CT leaves WHEN leaf 0's path is built THEN it is the published three hashes."""
    assert [step.hex() for step in audit_path(LEAVES[:8], 0)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]


@pytest.mark.parametrize(("size", "index"), SIZES_AND_LEAVES)
def test_every_leaf_of_every_tree_up_to_nine_is_proven(size: int, index: int) -> None:
    """GIVEN a tree of 1..9 leaves WHEN any leaf's path is built THEN it is the RFC's PATH, it leads to the RFC's
    MTH, and the same path fails for another leaf or another index (the size is what the checkpoint signs)."""
    leaves = LEAVES[:size]
    path, root = audit_path(leaves, index), _mth(leaves)
    assert root_of(leaves) == root and path == _path(index, leaves)
    assert proves(leaves[index], index, size, path, root)
    assert not proves(leaf_hash(b"forged"), index, size, path, root)
    if size > 1:
        assert not proves(leaves[index], (index + 1) % size, size, path, root)


def test_a_path_that_cannot_fit_the_tree_is_refused() -> None:
    """GIVEN a valid path WHEN it is cut short, lengthened or asked for a leaf outside the tree THEN no root."""
    path = audit_path(LEAVES[:5], 4)
    assert root_from_path(LEAVES[4], 4, 5, path[:-1]) != root_of(LEAVES[:5])
    assert root_from_path(LEAVES[4], 4, 5, [*path, LEAVES[0]]) is None
    assert root_from_path(LEAVES[4], 5, 5, path) is None
    with pytest.raises(IndexError):
        audit_path(LEAVES[:5], 5)


def test_an_entry_leaf_is_its_chain_hash_under_the_leaf_prefix() -> None:
    """GIVEN an entry's chain hash WHEN it becomes a leaf THEN it is SHA-256(0x00 || the 32 hash bytes), and an
    inner node is SHA-256(0x01 || left || right)."""
    head = "ab" * 32
    assert entry_leaf(head) == hashlib.sha256(b"\x00" + bytes.fromhex(head)).digest()
    assert node_hash(b"L", b"R") == hashlib.sha256(b"\x01LR").digest()


def test_the_folding_builder_agrees_at_every_size() -> None:
    """GIVEN leaves added one at a time WHEN the root is asked after each THEN it is the RFC's MTH; none is
    SHA-256 of nothing."""
    builder = RootBuilder()
    assert builder.root() == hashlib.sha256(b"").digest()
    for size, leaf in enumerate(LEAVES, start=1):
        builder.add(leaf)
        assert builder.root() == _mth(LEAVES[:size])
