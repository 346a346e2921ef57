"""The object store's legal holds as last applied, and how long a purge's bytes stay locked (decision 0028).

Revision ID: 7c3a9e1f4b62
Revises: 0fac1f232414
Create Date: 2026-12-07 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import witnessbox.db.base
from alembic import op


revision: str = '7c3a9e1f4b62'
down_revision: str | None = '0fac1f232414'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('storage_legal_holds',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('item_id', sa.String(length=26), nullable=False),
    sa.Column('applied_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_storage_legal_holds_item_id_items')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_storage_legal_holds'))
    )
    with op.batch_alter_table('storage_legal_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_storage_legal_holds_item_id'), ['item_id'], unique=False)

    with op.batch_alter_table('item_retention', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bytes_locked_until', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('item_retention', schema=None) as batch_op:
        batch_op.drop_column('bytes_locked_until')

    with op.batch_alter_table('storage_legal_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_storage_legal_holds_item_id'))

    op.drop_table('storage_legal_holds')
