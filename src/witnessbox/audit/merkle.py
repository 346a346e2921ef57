"""The RFC 9162 (RFC 6962) Merkle tree hash over audit entries, and its inclusion proofs.

A v2 checkpoint signs the root of the tree over the entries it seals, so a disclosure
package can prove one cited entry with a short audit path and reveal nobody else's
entries. Pure functions only: anyone can re-implement them from RFC 9162 section 2.1.
"""

import hashlib
from collections.abc import Iterable, Sequence

_LEAF, _NODE = b"\x00", b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): a leaf can never be mistaken for an inner node."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE + left + right).digest()


def entry_leaf(entry_hash: str) -> bytes:
    """The leaf of one audit entry: its chain hash (hex) as 32 bytes."""
    return leaf_hash(bytes.fromhex(entry_hash))


class RootBuilder:
    """Folds leaves in one at a time, holding only log2(n) subtree roots (for walking long chains)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (size, root) of complete subtrees, left to right

    def add(self, leaf: bytes) -> None:
        """Append one leaf hash, merging equal-sized subtrees as a binary counter does."""
        size, top = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, top = left_size + size, node_hash(left, top)
        self._stack.append((size, top))

    def root(self) -> bytes:
        """The tree hash of the leaves added so far (SHA-256 of nothing for none)."""
        if not self._stack:
            return hashlib.sha256(b"").digest()
        root = self._stack[-1][1]
        for _size, left in reversed(self._stack[:-1]):
            root = node_hash(left, root)
        return root


def root_of(leaves: Iterable[bytes]) -> bytes:
    """MTH(D[n]) of the given leaf hashes."""
    builder = RootBuilder()
    for leaf in leaves:
        builder.add(leaf)
    return builder.root()


def audit_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]): the sibling hashes from leaf `index` up to the root, bottom-up."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    split = _split(len(leaves))
    if index < split:
        return [*audit_path(leaves[:split], index), root_of(leaves[split:])]
    return [*audit_path(leaves[split:], index - split), root_of(leaves[:split])]


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root an audit path leads to (RFC 9162 2.1.3.2); None when the path cannot fit the tree."""
    if not 0 <= index < size:
        return None
    number, last, root = index, size - 1, leaf
    for sibling in path:
        if last == 0:
            return None
        if number % 2 == 1 or number == last:
            root = node_hash(sibling, root)
            while number % 2 == 0 and number != 0:
                number, last = number >> 1, last >> 1
        else:
            root = node_hash(root, sibling)
        number, last = number >> 1, last >> 1
    return root if last == 0 else None


def proves(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """Whether the audit path proves the leaf at `index` is in the tree of `size` with this root."""
    return root_from_path(leaf, index, size, path) == root


def _split(size: int) -> int:
    """The largest power of two smaller than size (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)
