"""External shares: outside recipients, their shares and shared items, recipient portal sessions.

Revision ID: 528b43b17896
Revises: c3e81f5a7d02
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import witnessbox.db.base
from alembic import op

revision: str = '528b43b17896'
down_revision: str | None = 'c3e81f5a7d02'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('disclosure_recipients',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('organisation', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('created_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_recipients'))
    )
    op.create_table('external_shares',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('recipient_id', sa.String(length=26), nullable=False),
    sa.Column('created_by', sa.String(length=26), nullable=False),
    sa.Column('created_by_name', sa.String(length=255), nullable=False),
    sa.Column('case_id', sa.String(length=26), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('allow_original_download', sa.Boolean(), nullable=False),
    sa.Column('restricted_allowed', sa.Boolean(), nullable=False),
    sa.Column('created_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('link_token_hash', sa.String(length=64), nullable=False),
    sa.Column('code_hash', sa.String(length=255), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('delivery', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_external_shares_case_id_cases')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_external_shares_created_by_users')),
    sa.ForeignKeyConstraint(['recipient_id'], ['disclosure_recipients.id'], name=op.f('fk_external_shares_recipient_id_disclosure_recipients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_shares')),
    sa.UniqueConstraint('link_token_hash', name=op.f('uq_external_shares_link_token_hash'))
    )
    with op.batch_alter_table('external_shares', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_shares_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_external_shares_created_by'), ['created_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_external_shares_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('external_share_items',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('share_id', sa.String(length=26), nullable=False),
    sa.Column('item_id', sa.String(length=26), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_external_share_items_item_id_items')),
    sa.ForeignKeyConstraint(['share_id'], ['external_shares.id'], name=op.f('fk_external_share_items_share_id_external_shares')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_share_items')),
    sa.UniqueConstraint('share_id', 'item_id', name=op.f('uq_external_share_items_share_id'))
    )
    with op.batch_alter_table('external_share_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_share_items_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_external_share_items_share_id'), ['share_id'], unique=False)

    op.create_table('recipient_sessions',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('share_id', sa.String(length=26), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('source_address', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['share_id'], ['external_shares.id'], name=op.f('fk_recipient_sessions_share_id_external_shares')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recipient_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_recipient_sessions_token_hash'))
    )
    with op.batch_alter_table('recipient_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recipient_sessions_share_id'), ['share_id'], unique=False)



def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('recipient_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recipient_sessions_share_id'))

    op.drop_table('recipient_sessions')
    with op.batch_alter_table('external_share_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_share_items_share_id'))
        batch_op.drop_index(batch_op.f('ix_external_share_items_item_id'))

    op.drop_table('external_share_items')
    with op.batch_alter_table('external_shares', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_shares_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_external_shares_created_by'))
        batch_op.drop_index(batch_op.f('ix_external_shares_case_id'))

    op.drop_table('external_shares')
    op.drop_table('disclosure_recipients')
