"""evidence summary: precomputed aggregate counts, stamped with the KB revision

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    kb_state = op.create_table(
        'kb_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('summary_revision', sa.Integer(), nullable=True),
        sa.Column('summary_built_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'evidence_summary',
        sa.Column('condition_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('context_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('level', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('group_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('studies', sa.Integer(), nullable=False),
        sa.Column('findings', sa.Integer(), nullable=False),
        sa.Column('dir_supporting', sa.Integer(), nullable=False),
        sa.Column('dir_mixed', sa.Integer(), nullable=False),
        sa.Column('dir_null', sa.Integer(), nullable=False),
        sa.Column('dir_harmful', sa.Integer(), nullable=False),
        sa.Column('dir_unclear', sa.Integer(), nullable=False),
        sa.Column('design_rank', sa.Integer(), nullable=True),
        sa.Column('patients', sa.Integer(), nullable=True),
        sa.Column('evaluable', sa.Integer(), nullable=True),
        sa.Column('responders', sa.Integer(), nullable=True),
        sa.Column('latest_year', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('condition_id', 'context_key', 'level', 'group_id'),
    )
    # The one state row: revision 0, no summary yet (readers count live until one is built).
    op.bulk_insert(kb_state, [{'id': 1, 'revision': 0, 'summary_revision': None, 'summary_built_at': None}])


def downgrade() -> None:
    op.drop_table('evidence_summary')
    op.drop_table('kb_state')
