"""Disclosure schedules: the disclosure officer's entry for each recording of a case (MG6C, MG6D).

Revision ID: a68a9d636ad3
Revises: 528b43b17896
Create Date: 2026-12-06 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import witnessbox.db.base
from alembic import op

revision: str = 'a68a9d636ad3'
down_revision: str | None = '528b43b17896'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('schedule_entries',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('case_id', sa.String(length=26), nullable=False),
    sa.Column('item_id', sa.String(length=26), nullable=False),
    sa.Column('schedule', sa.String(length=8), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('decision', sa.String(length=32), nullable=True),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=26), nullable=False),
    sa.Column('decided_by_name', sa.String(length=160), nullable=False),
    sa.Column('decided_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_schedule_entries_case_id_cases')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_schedule_entries_decided_by_users')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_schedule_entries_item_id_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_entries')),
    sa.UniqueConstraint('case_id', 'item_id', name=op.f('uq_schedule_entries_case_id'))
    )
    with op.batch_alter_table('schedule_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_entries_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_schedule_entries_item_id'), ['item_id'], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('schedule_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_entries_item_id'))
        batch_op.drop_index(batch_op.f('ix_schedule_entries_case_id'))

    op.drop_table('schedule_entries')
