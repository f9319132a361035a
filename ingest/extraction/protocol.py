"""The measurement protocol: every topic in-topic and held out, with mention-level figures.

``kb eval`` runs it (see ``ingest/extractors/README.md``, "Measuring"). A *topic set* is a
list of (gold file, topic pack) pairs. For each topic:

* **in-topic**: the extractor with the topic's own pack and every row of the general
  intervention table;
* **held out** (``--folds``): the pack reduced to what a new user would write (its
  interventions and classes removed), and the general table without the rows the held-out
  topic taught (their ``from`` is its id). Anything learned is retrained here on the other
  topics only: the ranked extractor's model, and the rules extractor's confidence model.

Precision and recall at confidence thresholds are computed from the held-out predictions only,
so a threshold read off them is not tuned on the topic it is applied to.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.errors import IngestError
from ingest.extraction.corpus import CorpusArticle, extract_rows, read_jsonl
from ingest.extraction.evaluate import Evaluation, evaluate
from ingest.extraction.lexicon import Lexicon, topic_lexicon
from ingest.extraction.resources import general_knowledge
from ingest.extraction.text import ArticleText, clean
from ingest.extraction.training import NothingToLearn, TrainingSet, train, train_confidence
from ingest.extractors import Extraction, rules
from ingest.extractors.ranked import NAME as RANKED
from ingest.extractors.ranked import extractor_with
from kb.topic import TopicPack, load_topic

ExtractorFn = Callable[[ArticleText, Lexicon], list[Extraction]]

THRESHOLDS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(slots=True)
class MentionScore:
    """Intervention mentions against the gold interventions of each article."""

    gold: int = 0  # gold interventions (components of combinations, routes dropped), per article
    found: int = 0  # of those, found as a mention in their article
    mentioned: int = 0  # distinct interventions mentioned in articles that have gold
    correct: int = 0  # of those, gold interventions of the article
    unmapped: Counter[str] = field(default_factory=Counter)  # unmapped surface forms, all articles
    missed: list[tuple[str, str]] = field(default_factory=list)  # (article, gold intervention)

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 0.0

    @property
    def precision(self) -> float:
        return self.correct / self.mentioned if self.mentioned else 0.0


@dataclass(slots=True)
class TopicRun:
    """One topic measured one way (in-topic or held out)."""

    topic: str
    mode: str  # "in-topic" or "held-out"
    evaluation: Evaluation
    mentions: MentionScore
    rows: list[dict[str, Any]]
    gold: dict[str, tuple[dict[str, Any], ...]]


def base_name(name: str) -> str:
    """An intervention name without its route: ``infliximab (intralesional)`` → ``infliximab``,
    ``topical corticosteroids`` → ``corticosteroids`` (the routes are the general table's)."""
    name = name.split(" (", 1)[0].strip().lower()
    for route in set(general_knowledge().routes.values()):
        if name.startswith(f"{route} "):
            return name[len(route) + 1 :]
    return name


def gold_interventions(record: dict[str, Any]) -> list[str]:
    """The interventions of one gold record: the components of a combination, routes dropped."""
    return [base_name(part) for part in str(record["drug_norm"]).split(" + ") if part.strip()]


def read_gold(path: Path) -> list[CorpusArticle]:
    """A gold file's articles, each required to carry a ``gold`` list.

    Raises:
        IngestError: the file is unreadable or an article has no ``gold`` field.
    """
    articles = list(read_jsonl(path))
    unannotated = [a.article.id for a in articles if a.gold is None]
    if unannotated:
        raise IngestError(f"{path}: {len(unannotated)} article(s) have no 'gold' field, e.g. {unannotated[0]!r}")
    return articles


def held_out_pack(pack: TopicPack) -> TopicPack:
    """The pack as a new user would write it: conditions and contexts only."""
    vocabulary = pack.vocabulary.model_copy(update={"interventions": (), "classes": ()})
    return TopicPack(spec=pack.spec, vocabulary=vocabulary, path=pack.path)


def score_mentions(articles: Sequence[CorpusArticle], lexicon: Lexicon) -> MentionScore:
    """How many gold interventions the lexicon finds as mentions in their own article."""
    score = MentionScore()
    for item in articles:
        article = item.article
        text = clean(article.title or "") + "\n\n" + clean(article.abstract or "")
        mentions = [m for m in lexicon.find(text, lexicon.definitions(text)) if m.kind == "intervention"]
        names = {base_name(lexicon.intervention(m.id).name) for m in mentions}
        for m in mentions:
            if lexicon.intervention(m.id).kind == "unmapped":
                score.unmapped[m.text.lower()] += 1
        gold = {name for record in item.gold or () for name in gold_interventions(record)}
        score.gold += len(gold)
        score.found += len(gold & names)
        score.missed.extend((article.id, name) for name in sorted(gold - names))
        if gold:
            score.mentioned += len(names)
            score.correct += len(names & gold)
    return score


def run_topic(
    path: Path,
    pack: TopicPack,
    extractor: str | ExtractorFn,
    *,
    held_out: bool,
    articles: list[CorpusArticle] | None = None,
) -> TopicRun:
    """Measure one topic in-topic, or held out (see the module documentation).

    ``extractor`` is a registered name or the function itself (a fold's retrained extractor).

    Raises:
        IngestError: the gold file is unreadable or malformed, or no extractor has that name.
    """
    articles = read_gold(path) if articles is None else articles
    used = held_out_pack(pack) if held_out else pack
    lexicon = topic_lexicon(used, frozenset({pack.id}) if held_out else frozenset())
    rows = [row for _, row in extract_rows(articles, used, extractor, lexicon=lexicon)]
    gold = {a.article.id: a.gold or () for a in articles}
    return TopicRun(
        topic=pack.id,
        mode="held-out" if held_out else "in-topic",
        evaluation=evaluate(gold, rows),
        mentions=score_mentions(articles, lexicon),
        rows=rows,
        gold=gold,
    )


def training_sets(
    loaded: Sequence[tuple[TopicPack, list[CorpusArticle]]],
    held_out: str | None = None,
    *,
    as_new_topics: bool = False,
) -> list[TrainingSet]:
    """The topics a model learns from: all of them, or all but ``held_out`` (whose rows of the
    general table are then left out of every lexicon, as in its held-out run).

    With ``as_new_topics`` each topic is read as its own held-out run reads it: its pack reduced
    to conditions and contexts, its own rows of the general table left out. A confidence learned
    from that reading is the precision to expect on a topic nothing was written for, which is
    what a user's new topic is; learned from the topics' own readings it is optimistic there.
    """
    out = []
    for pack, articles in loaded:
        if pack.id == held_out:
            continue
        excluded = {held_out} if held_out else set()
        used = pack
        if as_new_topics:
            used, excluded = held_out_pack(pack), excluded | {pack.id}
        out.append(TrainingSet(pack.id, articles, used, topic_lexicon(used, frozenset(excluded))))
    return out


def run_protocol(
    pairs: Sequence[tuple[Path, str]], extractor: str, *, folds: bool
) -> list[tuple[TopicRun, TopicRun | None]]:
    """Every topic in-topic and, with ``folds``, held out. What an extractor learns (the
    ``ranked`` model, the ``rules`` confidence model) is trained on every topic for the in-topic
    runs, and on the other topics for each held-out run; with a single topic the rules' held-out
    confidence is their own heuristic score, as nothing is left to learn from.

    Raises:
        IngestError, KBError: a gold file or a pack cannot be read, or training fails.
    """
    loaded = [(load_topic(topic), read_gold(path)) for path, topic in pairs]
    trainer = _TRAINERS.get(extractor)
    in_topic_fn: str | ExtractorFn = extractor
    if trainer is not None:
        in_topic_fn = trainer(loaded, None)
    out = []
    for (path, _), (pack, articles) in zip(pairs, loaded, strict=True):
        in_topic = run_topic(path, pack, in_topic_fn, held_out=False, articles=articles)
        held = None
        if folds:
            fold_fn: str | ExtractorFn = extractor
            if trainer is not None:
                others = [other for other, _ in loaded if other.id != pack.id]
                if not others and extractor == RANKED:
                    raise IngestError("a held-out run of a learned extractor needs at least two topics")
                fold_fn = trainer(loaded, pack.id) if others else rules.extractor_with(None)
            held = run_topic(path, pack, fold_fn, held_out=True, articles=articles)
        out.append((in_topic, held))
    return out


def _rules_with_confidence(sets: list[TrainingSet]) -> ExtractorFn:
    """The rules with a confidence model learned from ``sets``; with their own score when the
    sets teach nothing (every finding right, or every one wrong, as on a few test articles)."""
    try:
        return rules.extractor_with(train_confidence(sets))
    except NothingToLearn:
        return rules.extractor_with(None)


#: How to train what each learned extractor learns, from the loaded topics (all of them, or
#: all but the one held out).
_TRAINERS: dict[str, Callable[[Sequence[tuple[TopicPack, list[CorpusArticle]]], str | None], ExtractorFn]] = {
    RANKED: lambda loaded, held_out: extractor_with(train(training_sets(loaded, held_out))),
    rules.NAME: lambda loaded, held_out: _rules_with_confidence(training_sets(loaded, held_out, as_new_topics=True)),
}


def threshold_table(runs: Sequence[TopicRun]) -> list[tuple[float, int, float, float]]:
    """(threshold, pairs kept, precision, recall) of the pooled runs at each confidence threshold."""
    table = []
    for threshold in THRESHOLDS:
        kept = matched = gold_pairs = 0
        for run in runs:
            rows = [r for r in run.rows if (r.get("confidence") or 0.0) >= threshold]
            evaluation = evaluate(run.gold, rows)
            kept += evaluation.predicted_pairs
            matched += evaluation.matched
            gold_pairs += evaluation.gold_pairs
        table.append((threshold, kept, matched / kept if kept else 0.0, matched / gold_pairs if gold_pairs else 0.0))
    return table


#: Confidence bands of the calibration table.
BANDS = ((0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.0))


def calibration_table(runs: Sequence[TopicRun]) -> list[tuple[tuple[float, float], int, float, float]]:
    """(band, pairs in it, their mean confidence, their precision) of the pooled runs: a
    reliability table, where a calibrated confidence is close to the precision of its band."""
    table = []
    for low, high in BANDS:
        kept = matched = 0
        confidences: list[float] = []
        for run in runs:
            rows = [
                r
                for r in run.rows
                if low <= (r.get("confidence") or 0.0) < high or (high >= 1.0 and r.get("confidence") == high)
            ]
            evaluation = evaluate(run.gold, rows)
            kept += evaluation.predicted_pairs
            matched += evaluation.matched
            confidences.extend(float(r.get("confidence") or 0.0) for r in rows)
        mean = sum(confidences) / len(confidences) if confidences else 0.0
        table.append(((low, high), kept, mean, matched / kept if kept else 0.0))
    return table


def _figures(run: TopicRun) -> list[tuple[str, str]]:
    e, m = run.evaluation, run.mentions
    return [
        ("pair precision", f"{e.precision:.3f}"),
        ("pair recall", f"{e.recall:.3f}"),
        ("pair F1", f"{e.f1:.3f}"),
        ("response accuracy", str(e.response)),
        ("design accuracy", str(e.study_design)),
        ("n_treated exact", str(e.n_treated)),
        ("n_responded exact", str(e.n_responded)),
        ("gold n_treated missed", str(e.n_treated_missed)),
        ("gold n_responded missed", str(e.n_responded_missed)),
        ("empty-gold abstracts given a finding", f"{e.empty_gold_with_findings} of {e.empty_gold_articles}"),
        ("intervention-mention recall", f"{m.recall:.3f} ({m.found}/{m.gold})"),
        ("intervention-mention precision", f"{m.precision:.3f} ({m.correct}/{m.mentioned})"),
        ("unmapped mentions", str(sum(m.unmapped.values()))),
        ("unmapped findings", str(sum(1 for r in run.rows if r.get("unmapped")))),
    ]


def summary_lines(results: Sequence[tuple[TopicRun, TopicRun | None]]) -> list[str]:
    """The per-topic table (in-topic beside held out), then the pooled threshold table."""
    lines: list[str] = []
    for in_topic, held in results:
        e = in_topic.evaluation
        lines.append(
            f"== {in_topic.topic}: {e.articles} articles, {e.gold_pairs} gold pairs, "
            f"{e.empty_gold_articles} with empty gold"
        )
        left = _figures(in_topic)
        right = _figures(held) if held else [(name, "") for name, _ in left]
        width = max(len(name) for name, _ in left)
        lines.append(f"  {'':{width}}  {'in-topic':>16}  {'held out' if held else '':>16}")
        for (name, a), (_, b) in zip(left, right, strict=True):
            lines.append(f"  {name:{width}}  {a:>16}  {b:>16}")
        lines.append("")
    held_runs = [h for _, h in results if h is not None]
    if held_runs:
        pooled_empty = sum(h.evaluation.empty_gold_with_findings for h in held_runs)
        pooled_total = sum(h.evaluation.empty_gold_articles for h in held_runs)
        lines.append(
            "held out, pooled: empty-gold abstracts given a finding "
            f"{pooled_empty} of {pooled_total} ({pooled_empty / pooled_total:.1%})"
            if pooled_total
            else "held out, pooled: no empty-gold abstracts"
        )
        lines.append("held out, pooled: pair precision and recall at confidence thresholds")
        lines.append(f"  {'confidence ≥':>12}  {'pairs':>6}  {'precision':>9}  {'recall':>6}")
        for threshold, kept, precision, recall in threshold_table(held_runs):
            lines.append(f"  {threshold:>12.1f}  {kept:>6}  {precision:>9.3f}  {recall:>6.3f}")
        lines.append("held out, pooled: calibration (a calibrated confidence is near the precision of its band)")
        lines.append(f"  {'confidence in':>13}  {'pairs':>6}  {'mean conf.':>10}  {'precision':>9}")
        for (low, high), kept, mean, precision in calibration_table(held_runs):
            band = f"[{low:.1f}, {high:.1f}{']' if high >= 1.0 else ')'}"
            lines.append(f"  {band:>13}  {kept:>6}  {mean:>10.3f}  {precision:>9.3f}")
    return lines
