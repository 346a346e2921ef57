"""Redaction (decision 0026): versioned plans, detection runs, renders; many redacted copies per item;
disclosure packages that carry redacted copies.

The derivatives table kept one row per (item, kind); redacted copies are one per render, so the
constraint becomes a unique index on (item_id, kind) for every kind but "redacted".

Revision ID: 5b1e7c2d9a40
Revises: 0fac1f232414
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import witnessbox.db.base

revision: str = '5b1e7c2d9a40'
down_revision: str | None = '0fac1f232414'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SINGLE_KINDS = sa.text("kind <> 'redacted'")


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('redaction_plans',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('item_id', sa.String(length=26), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('author_id', sa.String(length=26), nullable=True),
    sa.Column('author', sa.String(length=160), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('detection_id', sa.String(length=26), nullable=True),
    sa.Column('created_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_redaction_plans_item_id_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redaction_plans')),
    sa.UniqueConstraint('item_id', 'version', name='uq_redaction_plans_item_version')
    )
    with op.batch_alter_table('redaction_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redaction_plans_item_id'), ['item_id'], unique=False)

    op.create_table('redaction_detections',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('item_id', sa.String(length=26), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.String(length=26), nullable=True),
    sa.Column('requested_by', sa.String(length=26), nullable=True),
    sa.Column('requested_by_name', sa.String(length=160), nullable=False),
    sa.Column('model_sha256', sa.String(length=64), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('plan_version', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_redaction_detections_item_id_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redaction_detections'))
    )
    with op.batch_alter_table('redaction_detections', schema=None) as batch_op:
        batch_op.create_index('ix_redaction_detections_item_created', ['item_id', 'created_at'], unique=False)

    op.create_table('redaction_renders',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('item_id', sa.String(length=26), nullable=False),
    sa.Column('plan_version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.String(length=26), nullable=True),
    sa.Column('requested_by', sa.String(length=26), nullable=True),
    sa.Column('requested_by_name', sa.String(length=160), nullable=False),
    sa.Column('derivative_id', sa.String(length=26), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_redaction_renders_item_id_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redaction_renders'))
    )
    with op.batch_alter_table('redaction_renders', schema=None) as batch_op:
        batch_op.create_index('ix_redaction_renders_item_created', ['item_id', 'created_at'], unique=False)

    with op.batch_alter_table('derivatives', schema=None) as batch_op:
        batch_op.drop_constraint('uq_derivatives_item_id', type_='unique')
    op.create_index('uq_derivatives_item_kind_single', 'derivatives', ['item_id', 'kind'], unique=True,
                    sqlite_where=SINGLE_KINDS, postgresql_where=SINGLE_KINDS)

    with op.batch_alter_table('disclosure_packages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redacted_copies', sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this migration (fails while an item has more than one redacted copy)."""
    with op.batch_alter_table('disclosure_packages', schema=None) as batch_op:
        batch_op.drop_column('redacted_copies')
    op.drop_index('uq_derivatives_item_kind_single', table_name='derivatives')
    with op.batch_alter_table('derivatives', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_derivatives_item_id', ['item_id', 'kind'])
    with op.batch_alter_table('redaction_renders', schema=None) as batch_op:
        batch_op.drop_index('ix_redaction_renders_item_created')
    op.drop_table('redaction_renders')
    with op.batch_alter_table('redaction_detections', schema=None) as batch_op:
        batch_op.drop_index('ix_redaction_detections_item_created')
    op.drop_table('redaction_detections')
    with op.batch_alter_table('redaction_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redaction_plans_item_id'))
    op.drop_table('redaction_plans')
