"""Which topic a site is about, and the wording that follows from it.

``kb build --topic T`` builds T's site: T's title is the site's name and every page's title,
its question and description lead the home page, and the Methods and Operations pages name
it. ``kb build --all-topics`` builds one site for every topic of the KB, with a page per
topic. The choice reaches the MkDocs hook through ``KB_SITE_TOPIC`` (a topic id, or ``*`` for
all topics; unset: the KB's first topic), like the KB itself through ``KB_DATABASE_URL``.

The hand-written pages name no topic: they hold markers that the hook replaces
(:func:`fill_markers`): ``<!-- kb:topic -->`` (the topic's title, or the list of topics),
``<!-- kb:topic-id -->`` (its pack name, for command examples) and ``<!-- kb:reviews -->``
(what the reviews so far say of the extractor).
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
from sqlalchemy import inspect, text

from kb.db import as_list
from kb.errors import KBError
from queries import catalog
from queries.db import DB, connect

SITE_TOPIC_ENV = "KB_SITE_TOPIC"
ALL_TOPICS = "*"
ALL_TOPICS_TITLE = "Treatment-outcome evidence"


def site_topic() -> str | None:
    """The topic the site is built for: an id, :data:`ALL_TOPICS`, or None (the KB's first topic)."""
    return os.environ.get(SITE_TOPIC_ENV) or None


def topics(*, db: DB = None) -> list[dict[str, Any]]:
    """Every topic of the KB with its conditions (ids), in id order."""
    engine = connect(db)
    frame = pd.read_sql(text("SELECT id, title, question, description, condition_id FROM topic ORDER BY id"), engine)
    owned: dict[str, list[str]] = {}
    if inspect(engine).has_table("topic_vocabulary"):
        rows = pd.read_sql(
            text("SELECT topic_id, entry_id FROM topic_vocabulary WHERE kind = 'condition' ORDER BY entry_id"), engine
        )
        for topic_id, condition_id in rows.itertuples(index=False):
            owned.setdefault(topic_id, []).append(condition_id)
    out = []
    with engine.connect() as connection:
        for row in frame.to_dict("records"):
            conditions = sorted(set(owned.get(row["id"], [])) | {row["condition_id"]})
            articles = connection.execute(
                text("SELECT COUNT(DISTINCT article_id) FROM article_source WHERE topic_id = :t"), {"t": row["id"]}
            ).scalar_one()
            findings = sum(
                connection.execute(text("SELECT COUNT(*) FROM finding WHERE condition_id = :c"), {"c": c}).scalar_one()
                for c in conditions
            )
            out.append(row | {"conditions": conditions, "articles": int(articles), "findings": int(findings)})
    return out


def site_identity(*, db: DB = None) -> dict[str, Any]:
    """The site's title, question and description, for the topic it is built for.

    Raises:
        KBError: the KB holds no such topic (or no topic at all).
    """
    chosen = site_topic()
    if chosen != ALL_TOPICS:
        found = catalog.topic(chosen, db=db)
        return {"title": found["title"], "question": found["question"], "description": found["description"]}
    every = topics(db=db)
    if not every:
        raise KBError("the KB holds no topic; run 'kb build --topic NAME'")
    names = "; ".join(t["title"] for t in every)
    return {
        "title": ALL_TOPICS_TITLE,
        "question": f"What has been tried, in how many patients, with what response, for {len(every)} questions?",
        "description": f"This site gathers {len(every)} topics, each with its own page: {names}.",
    }


def home_sections(sections: list[dict[str, Any]], *, db: DB = None) -> list[dict[str, Any]]:
    """The home page's treatment sections: those of the site's topic (every one for all topics)."""
    chosen = site_topic()
    if chosen == ALL_TOPICS:
        return sections
    every = topics(db=db)
    own = next((t for t in every if t["id"] == chosen), every[0] if every and chosen is None else None)
    if own is None or len(every) == 1:
        return sections
    return [s for s in sections if s["pair"]["condition_id"] in own["conditions"]]


def fill_markers(markdown: str, *, db: DB = None) -> str:
    """Replace the topic markers of a hand-written page (see the module's docstring)."""
    if "<!-- kb:" not in markdown:
        return markdown
    chosen = site_topic()
    if chosen == ALL_TOPICS:
        every = topics(db=db)
        name = "the topics of this site (" + ", ".join(t["title"] for t in every) + ")"
        topic_id = every[0]["id"] if every else "TOPIC"
    else:
        found = catalog.topic(chosen, db=db)
        name, topic_id = f"this site's topic, {found['title']}", str(found["id"])
    markdown = markdown.replace("<!-- kb:topic -->", name).replace("<!-- kb:topic-id -->", topic_id)
    if "<!-- kb:reviews -->" in markdown:
        markdown = markdown.replace("<!-- kb:reviews -->", review_section(db=db))
    return markdown


def review_counts(*, db: DB = None) -> dict[str, Any]:
    """What the reviews so far say of the extractor: accepted unchanged, corrected, rejected,
    corrections per field, and the machine findings still unreviewed."""
    engine = connect(db)
    counts: dict[str, Any] = {"accept": 0, "correct": 0, "reject": 0, "fields": {}}
    if inspect(engine).has_table("review_decision"):
        for decision, corrected in pd.read_sql(
            text("SELECT decision, corrected FROM review_decision"), engine
        ).itertuples(index=False):
            counts[decision] = counts.get(decision, 0) + 1
            for name in as_list(corrected):
                counts["fields"][name] = counts["fields"].get(name, 0) + 1
    with engine.connect() as connection:
        counts["unreviewed"] = int(
            connection.execute(text("SELECT COUNT(*) FROM finding WHERE origin = 'extracted'")).scalar_one()
        )
    return counts


def review_section(*, db: DB = None) -> str:
    """The Methods page's account of the reviews: the extractor's precision as measured so far."""
    c = review_counts(db=db)
    reviewed = c["accept"] + c["correct"] + c["reject"]
    lines = [
        f"Machine findings still unreviewed: **{c['unreviewed']}** (marked *unreviewed* in the tables).",
        "",
    ]
    if not reviewed:
        return "\n".join([*lines, "No machine finding has been reviewed yet, so no precision can be reported."])

    def share(n: int) -> str:
        return f"{n} ({100 * n / reviewed:.0f} %)"

    lines += [
        f"Of **{reviewed}** reviewed machine findings, {share(c['accept'])} were accepted unchanged, "
        f"{share(c['correct'])} corrected and {share(c['reject'])} rejected.",
        "",
        "| field | corrected in | share of reviewed findings |",
        "|---|---|---|",
    ]
    for name, n in sorted(c["fields"].items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"| {name} | {n} | {100 * n / reviewed:.0f} % |")
    if not c["fields"]:
        lines.append("| (none) | 0 | 0 % |")
    return "\n".join(lines)
