"""Audit time-stamps: each checkpoint's RFC 3161 answer from the force's time-stamping authority.

Revision ID: 6a0d2c5e9f18
Revises: 3b7c1d9e0a41
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import witnessbox.db.base
from alembic import op

revision: str = '6a0d2c5e9f18'
down_revision: str | None = '3b7c1d9e0a41'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('audit_time_stamps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('authority', sa.String(length=255), nullable=False),
    sa.Column('stamped_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('response', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['audit_checkpoints.id'], name=op.f('fk_audit_time_stamps_checkpoint_id_audit_checkpoints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_time_stamps')),
    sa.UniqueConstraint('checkpoint_id', name=op.f('uq_audit_time_stamps_checkpoint_id'))
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table('audit_time_stamps')
