"""findings' adverse events; the best primary design in evidence_summary

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing findings report no adverse events until they are extracted again; their
    # content hashes leave a None adverse_events out, so their ids stay the same.
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adverse_events', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table('evidence_summary', schema=None) as batch_op:
        batch_op.add_column(sa.Column('primary_rank', sa.Integer(), nullable=True))
    # The summary lacks the new column's values: readers count live until it is recomputed.
    op.execute("UPDATE kb_state SET summary_revision = NULL")


def downgrade() -> None:
    with op.batch_alter_table('evidence_summary', schema=None) as batch_op:
        batch_op.drop_column('primary_rank')
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_column('adverse_events')
    op.execute("UPDATE kb_state SET summary_revision = NULL")
