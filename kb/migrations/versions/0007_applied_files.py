"""PubMed bulk files: the applied-file ledger, and the relevance rule that admitted an article

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'applied_file',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('topic_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('series', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=True),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('relevant', sa.Integer(), nullable=False),
        sa.Column('stored', sa.Integer(), nullable=False),
        sa.Column('findings', sa.Integer(), nullable=False),
        sa.Column('deleted', sa.Integer(), nullable=False),
        sa.Column('refused', sa.Integer(), nullable=False),
        sa.Column('applied_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name', 'topic_id'),
    )
    with op.batch_alter_table('applied_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applied_file_series'), ['series'], unique=False)
    with op.batch_alter_table('article_source', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('article_source', schema=None) as batch_op:
        batch_op.drop_column('rule')
    with op.batch_alter_table('applied_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applied_file_series'))
    op.drop_table('applied_file')
