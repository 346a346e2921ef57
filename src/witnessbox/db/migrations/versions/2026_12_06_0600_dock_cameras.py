"""dock cameras: which cameras each dock is registered for

A dock's upload is a camera's recording (attributed to whoever held the camera) only
when the dock is registered for that camera; existing docks start registered for none.

Revision ID: 1eccfa146422
Revises: e7dc35366629
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import witnessbox.db.base
from alembic import op


revision: str = '1eccfa146422'
down_revision: str | None = 'e7dc35366629'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('dock_cameras',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('dock_id', sa.String(length=26), nullable=False),
    sa.Column('camera_id', sa.String(length=26), nullable=False),
    sa.Column('added_at', witnessbox.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('added_by', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_dock_cameras_camera_id_cameras')),
    sa.ForeignKeyConstraint(['dock_id'], ['docks.id'], name=op.f('fk_dock_cameras_dock_id_docks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dock_cameras')),
    sa.UniqueConstraint('dock_id', 'camera_id', name=op.f('uq_dock_cameras_dock_id'))
    )
    with op.batch_alter_table('dock_cameras', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dock_cameras_camera_id'), ['camera_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dock_cameras_dock_id'), ['dock_id'], unique=False)



def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('dock_cameras', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dock_cameras_dock_id'))
        batch_op.drop_index(batch_op.f('ix_dock_cameras_camera_id'))

    op.drop_table('dock_cameras')
