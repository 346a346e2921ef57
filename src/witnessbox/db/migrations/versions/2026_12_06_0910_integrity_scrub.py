"""The integrity scrub: its passes (with the background cursor) and its findings (decision 0024).

Revision ID: 0fac1f232414
Revises: 7e36561036ae
Create Date: 2026-12-06 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import witnessbox.db.base
from alembic import op


revision: str = '0fac1f232414'
down_revision: str | None = '7e36561036ae'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('scrub_findings',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=1024), nullable=False),
    sa.Column('item_id', sa.String(length=26), nullable=True),
    sa.Column('item_name', sa.String(length=255), nullable=True),
    sa.Column('derivative_id', sa.String(length=26), nullable=True),
    sa.Column('what', sa.String(length=32), nullable=False),
    sa.Column('expected_sha256', sa.String(length=64), nullable=True),
    sa.Column('expected_size', sa.BigInteger(), nullable=True),
    sa.Column('found_sha256', sa.String(length=64), nullable=True),
    sa.Column('found_size', sa.BigInteger(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('found_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=26), nullable=True),
    sa.Column('acknowledged_by_name', sa.String(length=160), nullable=True),
    sa.Column('acknowledged_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scrub_findings'))
    )
    with op.batch_alter_table('scrub_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scrub_findings_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_scrub_findings_key_kind', ['key', 'kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_scrub_findings_kind'), ['kind'], unique=False)

    op.create_table('scrub_passes',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('cursor', sa.String(length=1024), nullable=False),
    sa.Column('started_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('objects_checked', sa.BigInteger(), nullable=False),
    sa.Column('objects_listed', sa.BigInteger(), nullable=False),
    sa.Column('bytes_read', sa.BigInteger(), nullable=False),
    sa.Column('read_seconds', sa.Float(), nullable=False),
    sa.Column('problems', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scrub_passes'))
    )
    with op.batch_alter_table('scrub_passes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scrub_passes_finished_at'), ['finished_at'], unique=False)

    with op.batch_alter_table('derivatives', schema=None) as batch_op:
        batch_op.create_index('ix_derivatives_sha256', ['sha256'], unique=False)



def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('derivatives', schema=None) as batch_op:
        batch_op.drop_index('ix_derivatives_sha256')

    with op.batch_alter_table('scrub_passes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scrub_passes_finished_at'))

    op.drop_table('scrub_passes')
    with op.batch_alter_table('scrub_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scrub_findings_kind'))
        batch_op.drop_index('ix_scrub_findings_key_kind')
        batch_op.drop_index(batch_op.f('ix_scrub_findings_item_id'))

    op.drop_table('scrub_findings')
