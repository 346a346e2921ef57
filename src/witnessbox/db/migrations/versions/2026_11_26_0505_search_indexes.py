"""search indexes: a place grid, and officers' and teams' recordings newest first

`item_places.cell` numbers the grid square of 1/500 degree each point lies in (see
witnessbox.evidence.search.cell_of); existing points get theirs here, computed in SQL with
the same arithmetic. The single-column indexes on items.officer_id and items.team_id give
way to (officer_id, recorded_start, id) and (team_id, recorded_start, id), which serve the
same lookups and also read a person's or a team's recordings newest first; the one on
items.recorded_start alone gives way to (recorded_start, id), which already leads with it.

Revision ID: e7dc35366629
Revises: 4fc41ffddad0
Create Date: 2026-11-26 05:05:11.686242
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e7dc35366629'
down_revision: str | None = '4fc41ffddad0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELLS_PER_DEGREE = 500
GRID_COLUMNS = 360 * CELLS_PER_DEGREE + 1
# floor((x + offset) * CELLS_PER_DEGREE); the sum is never negative, so SQLite's cast (which
# truncates) floors it too.
FLOOR = {
    "sqlite": "CAST(({column} + {offset}) * {per} AS INTEGER)",
    "postgresql": "CAST(floor(({column} + {offset}) * {per}) AS BIGINT)",
}


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table('item_places', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cell', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
    floor = FLOOR[op.get_bind().dialect.name]
    row = floor.format(column="lat", offset=90, per=CELLS_PER_DEGREE)
    column = floor.format(column="lon", offset=180, per=CELLS_PER_DEGREE)
    op.execute(f"UPDATE item_places SET cell = {row} * {GRID_COLUMNS} + {column}")
    with op.batch_alter_table('item_places', schema=None) as batch_op:
        batch_op.alter_column('cell', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                              nullable=False)
        batch_op.create_index('ix_item_places_cell', ['cell', 'lat', 'lon', 'item_id'], unique=False)

    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_items_recorded_start'))
        batch_op.drop_index(batch_op.f('ix_items_officer_id'))
        batch_op.drop_index(batch_op.f('ix_items_team_id'))
        batch_op.create_index('ix_items_officer_recorded', ['officer_id', 'recorded_start', 'id'], unique=False)
        batch_op.create_index('ix_items_team_recorded', ['team_id', 'recorded_start', 'id'], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index('ix_items_team_recorded')
        batch_op.drop_index('ix_items_officer_recorded')
        batch_op.create_index(batch_op.f('ix_items_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_items_officer_id'), ['officer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_items_recorded_start'), ['recorded_start'], unique=False)

    with op.batch_alter_table('item_places', schema=None) as batch_op:
        batch_op.drop_index('ix_item_places_cell')
        batch_op.drop_column('cell')
