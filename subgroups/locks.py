"""Serialising writes to the trees.

django-mptt keeps redundant columns (tree_id, lft, rght, level) and rewrites ranges of them on
every insert, move and delete, computing the new values from the rows it read. Two such writes
interleaving in one tree leave overlapping intervals; two new roots at once can share a
tree_id (django-mptt issue #236, reproduced here with eight threads on PostgreSQL).

So every tree write runs inside a transaction that holds:
- the community's exclusive advisory lock: one writer per tree at a time, and
- the shared "all trees" lock, which a full rebuild or a new root (a new tree_id) takes
  exclusively.

SQLite, the development default, serialises writers itself: its connections open write
transactions with BEGIN IMMEDIATE (see settings), so these functions do nothing there.
"""

from __future__ import annotations

from django.db import connection

_ALL_TREES = 0x43414E31  # "CAN1": one key for the whole forest
_ONE_TREE = 0x43414E32  # "CAN2": one key per community
_INT4 = 2**31 - 1


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("tree locks are transaction-scoped: call them inside transaction.atomic()")


def lock_community_tree(community_id: int) -> None:
    """Block until no one else writes to this community's tree, until the transaction ends."""
    _require_transaction()
    if _postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, 0)", [_ALL_TREES])
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ONE_TREE, community_id % _INT4])


def lock_all_trees() -> None:
    """Block until no tree is being written, and keep every tree writer out until commit."""
    _require_transaction()
    if _postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [_ALL_TREES])
