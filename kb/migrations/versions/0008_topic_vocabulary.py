"""topic vocabulary (each source's own entry for a shared vocabulary row) and review decisions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:30:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Which table each kind of entry is merged into, and the columns an entry holds.
_TABLES = {
    'class': ('intervention_class', ('name', 'atc', 'mesh', 'synonyms', 'description')),
    'intervention': ('intervention', ('name', 'kind', 'class_id', 'atc', 'mesh', 'synonyms', 'description')),
    'condition': ('condition', ('name', 'mesh', 'synonyms', 'description')),
    'context': ('disease_context', ('name', 'parent_id', 'mesh', 'synonyms', 'description')),
}


def upgrade() -> None:
    table = op.create_table(
        'topic_vocabulary',
        sa.Column('topic_id', sa.String(), nullable=False),
        sa.Column('kind', sa.String(), nullable=False),
        sa.Column('entry_id', sa.String(), nullable=False),
        sa.Column('entry', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('topic_id', 'kind', 'entry_id'),
    )
    op.create_table(
        'review_decision',
        sa.Column('topic_id', sa.String(), nullable=False),
        sa.Column('review_id', sa.String(), nullable=False),
        sa.Column('decision', sa.String(), nullable=False),
        sa.Column('corrected', sa.JSON(), nullable=False),
        sa.Column('reviewer', sa.String(), nullable=False),
        sa.Column('reviewed_on', sa.Date(), nullable=False),
        sa.Column('reason', sa.String(), nullable=True),
        sa.PrimaryKeyConstraint('topic_id', 'review_id'),
    )
    # The rows a KB already holds become entries of the general source (''): which pack wrote
    # them is not known, and a pack loaded later takes precedence over them but keeps their
    # synonyms (see kb.vocab_merge).
    bind = op.get_bind()
    for kind, (name, columns) in _TABLES.items():
        rows = bind.execute(sa.text(f'SELECT id, {", ".join(columns)} FROM "{name}"')).mappings().all()
        entries = []
        for row in rows:
            entry = {c: row[c] for c in columns}
            if isinstance(entry['synonyms'], str):
                entry['synonyms'] = json.loads(entry['synonyms'] or '[]')
            entries.append({'topic_id': '', 'kind': kind, 'entry_id': row['id'], 'entry': entry})
        if entries:
            op.bulk_insert(table, entries)


def downgrade() -> None:
    op.drop_table('review_decision')
    op.drop_table('topic_vocabulary')
