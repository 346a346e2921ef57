"""Audit checkpoints v2 (the Merkle root over the entries each seals) and the signing keys' periods.

Revision ID: 8f29ddc4610f
Revises: 6a0d2c5e9f18
Create Date: 2026-12-06 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import witnessbox.db.base
from alembic import op

revision: str = '8f29ddc4610f'
down_revision: str | None = '6a0d2c5e9f18'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table('audit_checkpoints') as batch:
        batch.add_column(sa.Column('first_seq', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('merkle_root', sa.String(length=64), nullable=True))
    op.create_table('audit_signing_keys',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('public_pem', sa.Text(), nullable=False),
    sa.Column('in_use_from', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('in_use_until', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_audit_signing_keys'))
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table('audit_signing_keys')
    with op.batch_alter_table('audit_checkpoints') as batch:
        batch.drop_column('merkle_root')
        batch.drop_column('first_seq')
