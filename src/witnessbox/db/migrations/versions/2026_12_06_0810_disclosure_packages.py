"""Disclosure packages: who exported which items, and the hash and size of the ZIP that was built.

Revision ID: c3e81f5a7d02
Revises: 8f29ddc4610f
Create Date: 2026-12-06 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import witnessbox.db.base
from alembic import op

revision: str = 'c3e81f5a7d02'
down_revision: str | None = '8f29ddc4610f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('disclosure_packages',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('case_id', sa.String(length=26), nullable=True),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('item_ids', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('server_url', sa.String(length=255), nullable=False),
    sa.Column('requested_by', sa.String(length=26), nullable=False),
    sa.Column('requested_by_name', sa.String(length=160), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.String(length=26), nullable=True),
    sa.Column('file_count', sa.Integer(), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_disclosure_packages_case_id_cases')),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_disclosure_packages_requested_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_packages'))
    )
    with op.batch_alter_table('disclosure_packages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_packages_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_packages_requested_by'), ['requested_by'], unique=False)



def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('disclosure_packages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_packages_requested_by'))
        batch_op.drop_index(batch_op.f('ix_disclosure_packages_case_id'))

    op.drop_table('disclosure_packages')
