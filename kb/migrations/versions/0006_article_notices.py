"""article notices: errata, retractions, expressions of concern and updates PubMed lists

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 21:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows get no notices until a refresh re-fetches them.
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notices', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_column('notices')
