"""Rules of the extractor that must hold for any topic: failed earlier treatments, progression
vs prevention, randomised trials described in the text, a topic's own organ words, and label
precedence between disease contexts. The sentences are written for these tests."""

from __future__ import annotations

import pytest

from ingest.extraction import cues
from ingest.extraction import response as outcome
from ingest.extraction.corpus import Labeller
from ingest.extraction.lexicon import explains, topic_lexicon
from ingest.extraction.protocol import held_out_pack
from ingest.extraction.text import ArticleText, split_sentences
from ingest.extractors import get
from kb.topic import TopicPack, load_topic

CALCINOSIS = load_topic("calcinosis")
BARE = TopicPack(
    spec=CALCINOSIS.spec,
    vocabulary=CALCINOSIS.vocabulary.model_copy(update={"interventions": (), "classes": ()}),
    path=CALCINOSIS.path,
)


def rows(abstract: str, title: str, pack: TopicPack = BARE) -> list[tuple[object, ...]]:
    lexicon = topic_lexicon(pack)
    article = ArticleText("t1", title=title, abstract=abstract)
    labeller = Labeller(pack, lexicon)
    out = [labeller.row(article, e) for e in get("rules")(article, lexicon)]
    return [(r["drug_norm"], r["condition_norm"], r["response"], r["study_design"]) for r in out]


def test_each_treatment_that_failed_before_is_a_finding_of_no_response() -> None:
    found = rows(
        "A 45-year-old woman had calcinosis cutis refractory to diltiazem, colchicine and minocycline. "
        "She was then treated with sodium thiosulfate and the nodules resolved completely.",
        "Sodium thiosulfate for refractory calcinosis cutis",
    )
    responses = {drug: response for drug, _, response, _ in found}
    assert responses == {
        "diltiazem": "none",
        "colchicine": "none",
        "minocycline": "none",
        "sodium thiosulfate": "complete",
    }


def test_despite_names_failed_treatments_apart_from_the_one_that_worked() -> None:
    """Two treatments that failed together ("despite A and B") were given together; a longer
    list was tried in turn, each failing on its own (the corpora agree on both)."""
    found = rows(
        "A 45-year-old woman presented with calcinosis cutis. Despite diltiazem and colchicine, the lesions "
        "progressed. Sodium thiosulfate was started and the lesions healed.",
        "Calcinosis cutis in a woman",
    )
    assert {d: r for d, _, r, _ in found} == {
        "colchicine + diltiazem": "none",
        "sodium thiosulfate": "complete",  # one patient, the lesions healed
    }
    longer = rows(
        "A 45-year-old woman presented with calcinosis cutis. Despite diltiazem, colchicine and minocycline, "
        "the lesions progressed. Sodium thiosulfate was started and the lesions healed.",
        "Calcinosis cutis in a woman",
    )
    assert {d: r for d, _, r, _ in longer} == {
        "diltiazem": "none",
        "colchicine": "none",
        "minocycline": "none",
        "sodium thiosulfate": "complete",
    }


def test_slowing_progression_is_an_outcome_not_prevention() -> None:
    assert not cues.about_prevention("Tocilizumab prevents progression of early lung disease")
    assert not cues.about_prevention("Effect of the drug in patients with risk factors for rapid progression")
    assert cues.about_prevention("Prevention of calcinosis by early treatment")
    assert cues.about_prevention("Incidence of calcinosis in a cohort")


def test_an_abstract_describing_a_randomised_trial_is_an_rct() -> None:
    found = rows(
        "In this post-hoc analysis of a randomized placebo-controlled trial, patients with calcinosis cutis "
        "received verapamil. Verapamil reduced the size of the calcinosis compared with placebo.",
        "Verapamil in calcinosis cutis: post-hoc analysis",
    )
    assert [(d, design) for d, _, _, design in found] == [("verapamil", "rct")]


def test_the_topics_own_organ_words_are_never_off_target() -> None:
    pack = load_topic("ssc-ild")
    found = rows(
        "Patients with systemic sclerosis-associated interstitial lung disease received nintedanib in a "
        "randomized placebo-controlled trial. Nintedanib reduced the decline in lung function.",
        "Nintedanib in systemic sclerosis-associated interstitial lung disease",
        pack,
    )
    assert ("nintedanib", "interstitial lung disease (systemic sclerosis)", "improved", "rct") in found


def test_label_precedence_chooses_between_contexts_an_article_names() -> None:
    pack = load_topic("pyoderma-gangrenosum")
    found = rows(
        "A 40-year-old man with Crohn's disease developed peristomal pyoderma gangrenosum around his ileostomy. "
        "After infliximab the ulcer healed.",
        "Peristomal pyoderma gangrenosum in Crohn's disease",
        pack,
    )
    assert {(d, c) for d, c, _, _ in found} == {("infliximab", "pyoderma gangrenosum (peristomal)")}


def test_advice_is_not_an_outcome() -> None:
    found = rows(
        "Calcinosis cutis is painful. "
        "Successful treatment of calcinosis cutis often requires diltiazem and wound care. "
        "Diltiazem should be considered in patients with ulcerated calcinosis cutis.",
        "Calcinosis cutis: an overview",
    )
    assert found == []


def test_resolution_achieved_is_a_complete_response() -> None:
    found = rows(
        "A 30-year-old man presented with calcinosis cutis of the elbow. "
        "Clinical resolution was achieved after six months of verapamil.",
        "Verapamil for calcinosis cutis",
    )
    assert [(d, r) for d, _, r, _ in found] == [("verapamil", "complete")]


def test_all_patients_without_improvement_have_no_responders() -> None:
    lexicon = topic_lexicon(BARE)
    article = ArticleText(
        "t1",
        title="Calcinosis cutis in two women",
        abstract="We report two women with calcinosis cutis. "
        "Both cases were treated with colchicine without improvement.",
    )
    [finding] = get("rules")(article, lexicon)
    assert (finding.response, finding.n_treated, finding.n_responded) == ("none", 2, 0)


def test_a_context_named_only_in_the_background_does_not_frame_the_population() -> None:
    pack = held_out_pack(load_topic("pyoderma-gangrenosum"))
    abstract = (
        "BACKGROUND: Pyoderma gangrenosum often occurs with inflammatory bowel disease. "
        "RESULTS: Twelve patients were treated with infliximab; nine of the 12 patients healed."
    )
    found = rows(abstract, "Infliximab for pyoderma gangrenosum", pack)
    assert [(d, c) for d, c, _, _ in found] == [("infliximab", "pyoderma gangrenosum (other/unspecified)")]
    framed = abstract.replace("RESULTS:", "METHODS: All patients had Crohn's disease. RESULTS:")
    assert rows(framed, "Infliximab for pyoderma gangrenosum", pack)[0][1] == (
        "pyoderma gangrenosum (inflammatory bowel disease)"
    )


def test_a_heading_closed_by_a_full_stop_and_a_dash_is_a_section_label() -> None:
    sentences = split_sentences("Background and Design.—  Drugs are used. Results.—  Ten of 11 healed.")
    assert [(s.section, s.text) for s in sentences] == [
        ("background and design", "Drugs are used."),
        ("results", "Ten of 11 healed."),
    ]


def test_an_abbreviation_the_vocabulary_knows_keeps_its_meaning_when_the_text_defines_it_loosely() -> None:
    lexicon = topic_lexicon(held_out_pack(load_topic("ssc-ild")))
    text = "Systemic sclerosis-related interstitial lung disease (SSc-ILD) is common. Patients with SSc-ILD improved."
    kinds = {(m.kind, m.text) for m in lexicon.find(text, lexicon.definitions(text))}
    assert ("condition", "SSc ILD") in kinds and ("context", "SSc") in kinds  # mention text joins tokens


def test_a_long_form_spells_its_abbreviation_or_the_vocabulary_meaning_stands() -> None:
    assert explains("STS", "Soft tissue sarcoma ")
    assert not explains("MMF", "maintained on micophenolic acid ")
    lexicon = topic_lexicon(held_out_pack(load_topic("ssc-ild")))
    text = "Two were maintained on micophenolic acid (MMF). Lung function improved with MMF."
    assert "mycophenolate-mofetil" in {m.id for m in lexicon.find(text, lexicon.definitions(text))}
    therapy = "Intravenous immunoglobulin therapy (IVIG) was given. IVIG helped."
    assert [m.id for m in lexicon.find(therapy, lexicon.definitions(therapy))].count("intravenous-immunoglobulin") == 3


def test_a_combination_cue_joins_its_whole_list() -> None:
    found = rows(
        "A 50-year-old man had calcinosis cutis that did not respond to combination therapy with "
        "prednisolone, methotrexate, and hydroxychloroquine. Sodium thiosulfate was then given and the "
        "nodules resolved.",
        "Sodium thiosulfate for calcinosis cutis",
    )
    assert {d: r for d, _, r, _ in found} == {
        "hydroxychloroquine + methotrexate + prednisolone": "none",
        "sodium thiosulfate": "complete",
    }


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("Repeated debridements were uniformly unsuccessful.", "none"),
        ("All patients had failed local wound care before referral.", "none"),
        ("Irrigation was tried; however, the ulcer progressed to the whole breast.", "worsened"),
        ("A red flare at the infusion site gradually progressed to induration.", None),
    ],
)
def test_failure_and_progression_after_a_treatment(clause: str, expected: str | None) -> None:
    assert outcome.read_response(clause) == expected


def test_closing_a_stoma_and_revising_it_are_two_procedures() -> None:
    lexicon = topic_lexicon(BARE)
    text = "Stoma closure healed four patients; stomal revision and stoma relocation did not."
    assert [m.id for m in lexicon.find(text) if m.kind == "intervention"] == [
        "stoma-closure",
        "stoma-revision",
        "stoma-revision",
    ]


def test_the_sentence_counts_its_own_denominator_before_the_cohort() -> None:
    abstract = (
        "Forty patients with calcinosis cutis were treated with sodium thiosulfate. "
        "Of 30 evaluable patients, the nodules shrank in 12 patients."
    )
    lexicon = topic_lexicon(BARE)
    (finding,) = get("rules")(ArticleText("t", "Sodium thiosulfate for calcinosis cutis", abstract), lexicon)
    assert (finding.n_treated, finding.n_responded, finding.response) == (30, 12, "mixed")


def test_predictors_of_an_outcome_are_not_an_outcome() -> None:
    assert cues.not_a_result("Independent predictors for worsening of the ulcers were age and delay")
    assert cues.not_a_result("The cause remains unclear and no effective therapy is currently available.")
    # an outcome stated before the predictors is an outcome
    assert not cues.not_a_result(
        "Nintedanib reduced the rate of decline, with a greater effect in patients with risk factors for rapid decline."
    )


def test_a_class_is_recognised_by_its_target_however_it_is_written() -> None:
    lexicon = topic_lexicon(BARE)
    text = (
        "She switched to an interleukin 12/23 inhibitor; IL-17 antagonists, anti-TNF agents, "
        "TNF-α blockers and anti-IL-6 receptor antibodies were discussed."
    )
    found = [m.id for m in lexicon.find(text, lexicon.definitions(text)) if m.kind == "intervention"]
    assert found == ["il-12-23-inhibitors", "il-17-inhibitors", "tnf-inhibitors", "tnf-inhibitors", "il-6-inhibitors"]
    held_out = topic_lexicon(BARE, frozenset({"pyoderma-gangrenosum"}))  # the topic that taught the targets
    assert "il-17-inhibitors" not in {m.id for m in held_out.find(text)}


def test_what_a_treatment_was_compared_with_is_not_a_finding() -> None:
    found = rows(
        "We studied 40 patients with calcinosis cutis. Pain improved more with sodium thiosulfate "
        "compared to diltiazem (p = 0.01).",
        "Sodium thiosulfate or diltiazem for calcinosis cutis",
    )
    assert [d for d, _, _, _ in found] == ["sodium thiosulfate"]


def test_a_misspelt_drug_is_read_as_the_drug_it_spells_and_an_unknown_one_stays_unmapped() -> None:
    lexicon = topic_lexicon(BARE)
    text = "She received predonisolone, then methylpredisolone and later fictivolone."
    found = [(m.id, m.text) for m in lexicon.find(text) if m.kind == "intervention"]
    assert found == [
        ("prednisolone", "predonisolone"),  # a letter added
        ("methylprednisolone", "methylpredisolone"),  # a letter dropped
        ("unmapped-fictivolone", "fictivolone"),  # shaped like a steroid, close to no known one
    ]


def test_a_drug_that_caused_the_condition_is_not_its_treatment_and_a_switch_is() -> None:
    found = rows(
        "A woman developed adalimumab-induced calcinosis cutis. After switching to sodium thiosulfate "
        "the nodules resolved.",
        "Calcinosis cutis in a woman",
    )
    assert [d for d, _, _, _ in found] == ["sodium thiosulfate"]


def test_an_outcome_of_something_else_in_one_clause_leaves_the_other_clause() -> None:
    found = rows(
        "A 40-year-old woman had calcinosis cutis and dermatomyositis. Prednisone brought no improvement in "
        "the muscle disease; however, sodium thiosulfate induced remission.",
        "Calcinosis cutis in dermatomyositis",
    )
    assert [d for d, _, _, _ in found] == ["sodium thiosulfate"]


def test_a_class_in_apposition_describes_the_drug_before_it() -> None:
    found = rows(
        "We report a woman with calcinosis cutis treated with tofacitinib, an immunosuppressive agent "
        "taken orally. The nodules regressed.",
        "Tofacitinib for calcinosis cutis",
    )
    assert [d for d, _, _, _ in found] == ["tofacitinib"]


def test_a_list_given_in_a_case_is_one_combination_unless_it_failed() -> None:
    given = rows(
        "We report a 30-year-old woman with calcinosis cutis. She received prednisolone (40 mg daily), "
        "methotrexate (15 mg weekly), and hydroxychloroquine, and the nodules regressed.",
        "Calcinosis cutis in a woman",
    )
    assert [d for d, _, _, _ in given] == ["hydroxychloroquine + methotrexate + prednisolone"]
    failed = rows(
        "We report two women with calcinosis cutis. Both were managed with colchicine, diltiazem, and "
        "wound care without improvement. Sodium thiosulfate then healed the ulcers.",
        "Calcinosis cutis in two women",
    )
    assert "colchicine" in {d for d, _, _, _ in failed} and "diltiazem" in {d for d, _, _, _ in failed}


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("The drug not only promoted healing of the ulcer but also eased pain.", "improved"),
        ("Intravenous prednisolone achieved an insufficient response.", "none"),
        ("After inconclusive conventional treatment, the drug reduced the ulcer size.", "improved"),
        ("The results of the treatment were inconclusive.", "unclear"),
        ("Lung function did not differ between the two groups.", "none"),
        ("Lung function remained stable.", "none"),
        ("The deposits stopped progressing.", "none"),
        ("The ulcers healed and the disease remained stable.", "improved"),
    ],
)
def test_negation_and_doubt_read_in_their_scope(clause: str, expected: str) -> None:
    assert outcome.read_response(clause) == expected


def test_a_report_of_two_cases_is_a_case_series_and_their_shared_treatment_one_combination() -> None:
    found = rows(
        "We report two women with calcinosis cutis after surgery. Treatment with oral diltiazem and "
        "topical sodium thiosulfate led to healing within four months.",
        "Calcinosis cutis after surgery: two case reports",
    )
    assert [(d, design) for d, _, _, design in found] == [("diltiazem + sodium thiosulfate (topical)", "case_series")]


def test_a_single_patient_whose_lesions_healed_responded_completely() -> None:
    title = "Sodium thiosulfate for calcinosis cutis"
    healed = rows("A 60-year-old woman with calcinosis cutis received sodium thiosulfate. Her ulcers healed.", title)
    partly = rows(
        "A 60-year-old woman with calcinosis cutis received sodium thiosulfate. Her ulcers improved and nearly healed.",
        title,
    )
    assert [r for _, _, r, _ in healed] == ["complete"]
    assert [r for _, _, r, _ in partly] != ["complete"]


def test_a_treatment_declined_or_tapered_is_not_a_finding_of_its_own() -> None:
    title = "Sodium thiosulfate for calcinosis cutis"
    declined = rows(
        "A 60-year-old woman with calcinosis cutis declined colchicine. Sodium thiosulfate was given and the "
        "nodules shrank.",
        title,
    )
    assert [d for d, _, _, _ in declined] == ["sodium thiosulfate"]
    spared = rows(
        "Twelve patients with calcinosis cutis received sodium thiosulfate. The nodules shrank, and the mean "
        "doses of prednisone decreased by half.",
        title,
    )
    assert [d for d, _, _, _ in spared] == ["sodium thiosulfate"]
    given = rows(
        "A woman had calcinosis cutis. She received high doses of diltiazem, and the nodules shrank.", "A case"
    )
    assert [d for d, _, _, _ in given] == ["diltiazem"]


def test_a_slowed_decline_is_a_benefit_against_placebo_and_stabilisation_without_one() -> None:
    cohort = rows(
        "We reviewed 30 patients with calcinosis cutis given sodium thiosulfate. Sodium thiosulfate slowed "
        "the progression of the deposits.",
        "Sodium thiosulfate for calcinosis cutis: a retrospective cohort",
    )
    trial = rows(
        "Patients with calcinosis cutis were randomly assigned to sodium thiosulfate or placebo. Sodium "
        "thiosulfate slowed the progression of the deposits compared with placebo.",
        "Sodium thiosulfate for calcinosis cutis: a randomised controlled trial",
    )
    assert [r for _, _, r, _ in cohort] == ["none"]
    assert [r for _, _, r, _ in trial] == ["improved"]


def test_counts_of_included_patients_and_of_an_arm_written_before_its_drug() -> None:
    lexicon = topic_lexicon(BARE)
    included = "Methods: Forty patients were included. Results: The nodules shrank with sodium thiosulfate."
    (finding,) = get("rules")(ArticleText("t", "Sodium thiosulfate for calcinosis cutis", included), lexicon)
    assert finding.n_treated == 40
    arms = (
        "Patients with calcinosis cutis were randomly assigned to diltiazem or placebo. Evaluable subjects "
        "(31 diltiazem; 30 placebo) were followed. Pain improved with diltiazem compared with placebo."
    )
    (trial,) = get("rules")(ArticleText("t", "Diltiazem for calcinosis cutis: a randomised trial", arms), lexicon)
    assert trial.n_treated == 31


def test_treatments_a_series_enrolled_patients_after_are_not_its_findings() -> None:
    """Refractoriness in a case is what happened to that patient; in a series it is who was
    enrolled, so "resistant to A and B" there makes no finding for A or B."""
    case = rows(
        "A 50-year-old man had calcinosis cutis resistant to diltiazem and colchicine. "
        "Sodium thiosulfate was started and the nodules resolved.",
        "Calcinosis cutis in a man",
    )
    assert {d: r for d, _, r, _ in case} == {"colchicine + diltiazem": "none", "sodium thiosulfate": "complete"}
    series = rows(
        "We reviewed the charts of seven patients treated with sodium thiosulfate for calcinosis cutis "
        "resistant to diltiazem and colchicine. Five of the seven patients improved.",
        "Sodium thiosulfate for resistant calcinosis cutis: seven patients",
    )
    assert [(d, r) for d, _, r, _ in series] == [("sodium thiosulfate", "mixed")]


def test_two_drugs_joined_by_a_hyphen_and_called_a_combination_are_one() -> None:
    found = rows(
        "A 60-year-old woman had calcinosis cutis. The response to a long diltiazem-colchicine combination "
        "was slow but lasting, and the nodules became smaller.",
        "Calcinosis cutis in a woman",
    )
    assert [d for d, *_ in found] == ["colchicine + diltiazem"]


@pytest.mark.parametrize(
    "written", ["an interleukin 12 inhibitor", "an interleukin-12 antagonist", "interleukin 12 blockade"]
)
def test_a_cytokine_named_as_a_drugs_target_is_not_the_drug(written: str) -> None:
    """The drug dictionary lists some cytokines as drugs (interleukin-12); "an interleukin
    12/23 inhibitor" names the target of a class, known or not, never the cytokine given."""
    lexicon = topic_lexicon(BARE, frozenset({"pyoderma-gangrenosum"}))  # without the class-by-target rows
    abstract = f"A 40-year-old woman had calcinosis cutis. The nodules shrank after {written} was started."
    assert any(m.id == "interleukin-12" for m in lexicon.find(abstract))  # the dictionary's reading
    article = ArticleText("t1", title="", abstract=abstract)
    assert [e.intervention for e in get("rules")(article, lexicon) if e.intervention == "interleukin-12"] == []


@pytest.mark.parametrize(
    ("abstract", "expected"),
    [
        (  # a cohort count with decimals in a parenthesis before its verb
            "Methods: A total of 26 patients (mean age 58.3 ± 11.1 years) was included. "
            "Results: The nodules shrank with sodium thiosulfate.",
            26,
        ),
        (  # the part of a group that was given the drug
            "Methods: Twenty patients had calcinosis cutis; 12 of whom subsequently received sodium thiosulfate. "
            "Results: The nodules shrank with sodium thiosulfate.",
            12,
        ),
        (  # a subgroup of an arm
            "Methods: The subgroup included 30 of 52 sodium thiosulfate-treated patients. "
            "Results: The nodules shrank with sodium thiosulfate.",
            30,
        ),
        (  # an arm's size after a comma
            "Methods: Patients were randomly assigned (sodium thiosulfate, n = 14; placebo, n = 13). "
            "Results: The nodules shrank with sodium thiosulfate compared with placebo.",
            14,
        ),
    ],
)
def test_patients_given_the_treatment_are_counted_however_the_count_is_written(abstract: str, expected: int) -> None:
    (finding,) = get("rules")(
        ArticleText("t", "Sodium thiosulfate for calcinosis cutis", abstract), topic_lexicon(BARE)
    )
    assert finding.n_treated == expected


def test_a_study_of_the_authors_own_patients_with_a_literature_review_is_that_study() -> None:
    found = rows(
        "We report our experience with sodium thiosulfate in calcinosis cutis. The records of patients treated "
        "from 2015 to 2020 were retrospectively reviewed, and a literature review was conducted. A total of 14 "
        "patients was included. The nodules shrank in 9 of the 14 patients.",
        "Sodium thiosulfate for calcinosis cutis: experience from a single centre and literature review",
    )
    assert [(d, design) for d, _, _, design in found] == [("sodium thiosulfate", "retrospective_cohort")]


def test_the_literature_a_study_cites_is_not_its_design() -> None:
    found = rows(
        "Recent case reports and small series suggest that sodium thiosulfate may help. We conducted a "
        "retrospective cohort study of 40 patients with calcinosis cutis treated with sodium thiosulfate. "
        "The nodules shrank in 25 of the 40 patients.",
        "Sodium thiosulfate for calcinosis cutis in a cohort",
    )
    assert [(d, design) for d, _, _, design in found] == [("sodium thiosulfate", "retrospective_cohort")]


def test_treatments_named_before_their_failure_failed_in_a_case_and_enrolled_a_series() -> None:
    case = rows(
        "We report a 52-year-old woman with diltiazem- and colchicine-resistant calcinosis cutis that was "
        "successfully treated with sodium thiosulfate.",
        "Calcinosis cutis in a woman",
    )
    assert {d: r for d, _, r, _ in case} == {"colchicine + diltiazem": "none", "sodium thiosulfate": "improved"}
    series = rows(
        "Methods: Eight patients with diltiazem-refractory calcinosis cutis were enrolled in this open-label study "
        "of sodium thiosulfate. Results: Six of the eight patients improved.",
        "Sodium thiosulfate in diltiazem-refractory calcinosis cutis",
    )
    assert [(d, r) for d, _, r, _ in series] == [("sodium thiosulfate", "mixed")]


@pytest.mark.parametrize(
    ("abstract", "design"),
    [
        (
            "Results: We present a series of 9 patients with calcinosis cutis treated with sodium thiosulfate. "
            "Seven of the 9 patients improved.",
            "case_series",
        ),
        (
            "Methods: A young male patient with calcinosis cutis, who was treated with sodium thiosulfate, is herein "
            "presented. Results: The nodules shrank after 12 weeks.",
            "case_report",
        ),
        (
            "Calcinosis cutis is a rare complication. Several agents have been reported to help. This patient was "
            "treated with sodium thiosulfate and the nodules shrank. So we report this case with a literature review.",
            "case_report",
        ),
        (
            "Calcinosis cutis is difficult to treat and sodium thiosulfate has been shown to help in small series. "
            "We present to you an interesting case of a twenty-year-old patient whose nodules shrank with sodium "
            "thiosulfate.",
            "case_report",
        ),
    ],
)
def test_the_authors_own_cases_however_they_introduce_them(abstract: str, design: str) -> None:
    found = rows(abstract, "Sodium thiosulfate for calcinosis cutis")
    assert {d for *_, d in found} == {design}


@pytest.mark.parametrize(
    ("clause", "full"),
    [
        ("there was no improvement with prednisone; however, colchicine induced remission", True),
        ("the ulcers healed, but recurred two months later", False),
        ("the nodules partially resolved", False),
        ("although diltiazem was stopped, the lesions cleared", True),
    ],
)
def test_a_full_healing_reads_from_the_last_turn_before_it(clause: str, full: bool) -> None:
    assert outcome.healed_fully(clause) is full


def test_an_outcome_the_topics_question_names_is_an_outcome_of_the_condition() -> None:
    abstract = (
        "A 40-year-old woman had calcinosis cutis. Survival was prolonged and the course improved after "
        "sodium thiosulfate was started."
    )
    assert rows(abstract, "Calcinosis cutis in a woman") == []  # survival is not what this topic asks about
    asking = TopicPack(
        spec=BARE.spec.model_copy(
            update={"question": "Which treatments help calcinosis, with what effect on survival?"}
        ),
        vocabulary=BARE.vocabulary,
        path=BARE.path,
    )
    assert [d for d, *_ in rows(abstract, "Calcinosis cutis in a woman", asking)] == ["sodium thiosulfate"]


def test_an_outcome_free_of_a_treatment_does_not_name_the_treatment() -> None:
    found = rows(
        "Methods: Thirty patients with calcinosis cutis were treated with sodium thiosulfate. Results: The nodules "
        "shrank with sodium thiosulfate, and surgery-free survival was longer.",
        "Sodium thiosulfate for calcinosis cutis",
    )
    assert [d for d, *_ in found] == ["sodium thiosulfate"]


def test_an_apostrophe_unicode_counts_as_a_letter_still_ends_a_word() -> None:
    """Stored copies write "Crohnʼs" with U+02BC, a modifier letter: cleaned (length kept, so
    offsets stay valid) it reads as "Crohn's" and the disease is found."""
    from ingest.extraction.text import clean

    written = "A 33-year-old man with inactive Crohn\u02bcs disease"
    assert clean(written) == "A 33-year-old man with inactive Crohn's disease"
    assert len(clean(written)) == len(written)


def test_a_context_whose_name_spells_the_condition_names_the_condition() -> None:
    pack = held_out_pack(load_topic("pyoderma-gangrenosum"))
    lexicon = topic_lexicon(pack, frozenset({"pyoderma-gangrenosum"}))
    assert {"papa-pash-syndromes", "peristomal"} <= lexicon.contexts_naming_condition
    assert "inflammatory-bowel-disease" not in lexicon.contexts_naming_condition
    abstract = (
        "Pyoderma gangrenosum is a neutrophilic dermatosis. A 30-year-old woman with PASH syndrome did not "
        "respond to dapsone but responded to a combination of colchicine and thalidomide."
    )
    found = rows(abstract, "", pack)
    assert {(d, r) for d, _, r, _ in found} == {("dapsone", "none"), ("colchicine + thalidomide", "improved")}


def test_a_case_sentence_saying_the_treatment_before_failed_makes_its_list_fail() -> None:
    found = rows(
        "A 31-year-old woman had calcinosis cutis. Treatment included diltiazem, colchicine and minocycline. "
        "Due to resistance to the implemented treatment, sodium thiosulfate was started. The nodules then "
        "resolved completely.",
        "Calcinosis cutis in a woman",
    )
    assert {d: r for d, _, r, _ in found} == {
        "diltiazem": "none",
        "colchicine": "none",
        "minocycline": "none",
        "sodium thiosulfate": "complete",
    }
    series = rows(
        "Methods: Twelve patients with calcinosis cutis were treated with diltiazem, colchicine and minocycline. "
        "Due to resistance to the implemented treatment, sodium thiosulfate was started. Results: Eight of the "
        "12 patients improved.",
        "Calcinosis cutis in twelve patients",
    )
    assert "diltiazem" not in {d for d, *_ in series}  # a series' earlier treatment: who was enrolled


def test_a_misspelt_long_form_defines_its_abbreviation_and_a_short_age_marks_a_case() -> None:
    found = rows(
        "We report a 61y old man with calcinosis cutis treated with diltaizem (DTZ). The nodules shrank on DTZ.",
        "Calcinosis cutis in a man",
    )
    assert [(d, r, design) for d, _, r, design in found] == [("diltiazem", "improved", "case_report")]


def test_groups_compared_at_baseline_are_not_an_outcome() -> None:
    assert cues.not_a_result(
        "We found no statistically significant differences between both groups in terms of age, sex, smoking or "
        "prednisone dose."
    )
    assert cues.not_a_result("Both arms had similar baseline characteristics.")
    assert not cues.not_a_result("There was no difference in ulcer healing between the two groups.")


def test_a_title_joining_a_pulse_therapy_with_other_drugs_names_one_combination() -> None:
    found = rows(
        "A 37-year-old woman had calcinosis cutis. Outcomes: Six months later the nodules had shrunk.",
        "Case report: Methylprednisolone Pulse Therapy Combined With Colchicine and Diltiazem for Calcinosis Cutis",
    )
    assert [d for d, *_ in found] == ["colchicine + diltiazem + methylprednisolone"]


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("six patients remained stable, three improved, and one deteriorated", (10, 3)),
        ("the nodules improved in 3 (12.5%), remained stable in 18 (75%), and worsened in 3 (12.5%) patients", (24, 3)),
        ("they worsened in 8 (67%) and remained stable in 4 (33%) patients", (12, 0)),
        ("three patients improved", None),  # one category is a count, not a breakdown
        ("improved in 2 weeks and worsened in 3 months", None),  # durations, not patients
    ],
)
def test_a_breakdown_by_outcome_counts_its_patients_and_those_who_got_better(
    clause: str, expected: tuple[int, int] | None
) -> None:
    from ingest.extraction.counts import breakdown

    assert breakdown(clause) == expected


def test_a_breakdown_with_some_better_is_a_mixed_response() -> None:
    found = get("rules")(
        ArticleText(
            "t",
            "Sodium thiosulfate for calcinosis cutis",
            "Methods: We reviewed patients with calcinosis cutis treated with sodium thiosulfate. Results: With "
            "sodium thiosulfate, six patients remained stable, three improved, and one deteriorated.",
        ),
        topic_lexicon(BARE),
    )
    assert [(f.n_treated, f.n_responded, f.response) for f in found] == [(10, 3, "mixed")]


def test_an_abbreviation_its_long_form_does_not_spell_keeps_the_vocabularys_meaning() -> None:
    """Schwartz–Hearst again: "mycophenolate (MMF)" does not spell MMF's F (mofetil), so MMF
    keeps the meaning the drug dictionary gives it; "mycophenolate mofetil (MMF)" spells it."""
    lexicon = topic_lexicon(BARE)
    for written in ("mycophenolate (MMF)", "mycophenolate mofetil (MMF)"):
        text = f"Patients received {written}. Calcinosis improved on MMF."
        ids = {m.id for m in lexicon.find(text, lexicon.definitions(text)) if m.text == "MMF"}
        assert ids == {"mycophenolate-mofetil"}, written


def test_what_the_condition_followed_caused_it_and_non_healing_describes_an_ulcer() -> None:
    found = rows(
        "We report a 50-year-old woman with calcinosis cutis following cardiac surgery and a non-healing ulcer. "
        "Sodium thiosulfate was started and the nodules shrank.",
        "Calcinosis cutis in a woman",
    )
    assert [(d, r) for d, _, r, _ in found] == [("sodium thiosulfate", "improved")]
    assert not cues.POSITIVE.search("a non-healing ulcer") and not cues.POSITIVE.search("a non healing ulcer")


def test_a_head_to_head_trials_shared_result_is_its_experimental_arms() -> None:
    """What was measured is no result; a between-group result without a drug named is the
    experimental arm's, its comparator named in the objective is not a finding; the arm's
    count is the one stated nearest the result (analysed, not randomised)."""
    abstract = (
        "OBJECTIVE: To determine whether diltiazem is superior to colchicine for calcinosis cutis. DESIGN: A "
        "randomised controlled trial. PARTICIPANTS: 80 patients were randomised (41 diltiazem; 39 colchicine). "
        "The primary outcome was speed of healing over six weeks. RESULTS: Of these, 76 had outcome data (38 "
        "diltiazem; 38 colchicine). The mean speed of healing was 0.2 cm2/day with diltiazem compared with 0.1 "
        "cm2/day with colchicine. The adjusted mean difference showed no between group difference (P=0.9)."
    )
    found = get("rules")(
        ArticleText("t", "Diltiazem or colchicine for calcinosis cutis", abstract), topic_lexicon(BARE)
    )
    assert [(f.interventions, f.response, f.n_treated) for f in found] == [(("diltiazem",), "none", 38)]


def test_what_a_study_measured_is_not_what_it_found() -> None:
    assert cues.not_a_result("Secondary outcomes were time to healing, global treatment response and pain.")
    assert cues.not_a_result("The primary end point was complete healing at week 12.")
    assert outcome.read_response("the speed of healing was 0.2 cm2/day") is None
    assert outcome.read_response("the ulcers healed within six weeks") == "improved"  # complete: a case's reading


@pytest.mark.parametrize(
    "sentence",
    [
        "As our understanding of its pathogenesis has improved, biologic agents have become more important.",
        "Diltiazem may help patients in whom immunosuppressive agents are contraindicated, and the nodules shrank.",
    ],
)
def test_what_is_known_or_contraindicated_is_not_a_treatment_finding(sentence: str) -> None:
    found = rows(f"A 40-year-old woman had calcinosis cutis. {sentence}", "Calcinosis cutis in a woman")
    assert not {d for d, *_ in found} - {"diltiazem"}


def test_a_heading_run_into_the_first_word_is_a_word_of_its_own() -> None:
    from ingest.extraction.lexicon import tokens

    assert [t[2] for t in tokens("AbstractCalcinosis cutis (CC) is rare.")] == [
        "Abstract",
        "Calcinosis",
        "cutis",
        "CC",
        "is",
        "rare",
    ]
    assert [t[2] for t in tokens("Abstracts and ResultsX")] == ["Abstracts", "and", "ResultsX"]  # not a heading run in
    found = rows(
        "AbstractCalcinosis cutis (CC) is a rare complication. A 40-year-old woman with CC was treated with "
        "sodium thiosulfate and the nodules resolved.",
        "",
    )
    assert [(d, r) for d, _, r, _ in found] == [("sodium thiosulfate", "complete")]


def test_a_class_written_in_the_singular_is_the_class_listed_in_the_plural() -> None:
    lexicon = topic_lexicon(BARE, frozenset({"pyoderma-gangrenosum"}))  # without the class-by-target rows
    text = "She was switched to an interleukin-12/23 inhibitor and then to a calcium channel blocker."
    ids = {m.id for m in lexicon.find(text)}
    assert {lexicon.class_level.get("il-12-23-inhibitor"), lexicon.class_level.get("calcium-channel-blocker")} <= ids
