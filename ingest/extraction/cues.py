"""Lexical cues of treatment response, study design and patient counts.

Each cue is a compiled regular expression over cleaned abstract text. They are kept here,
apart from any one extractor, so that they can be read, tested and reused on their own;
they encode how English biomedical abstracts say things, not facts about one topic.
"""

from __future__ import annotations

import re

from ingest.extraction.patterns import Cue, cue

_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "single": 1,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_WORD_NUMBER = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
    r"(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen)"
)
#: A count written in digits or words ("12", "twelve", "Thirty-nine"). The lookahead names the
#: characters a count can start with, so the engine skips other positions without trying each
#: number word (three times faster on the patterns that start with a count).
NUMBER = rf"(?=[\dotfsen])(?:\d{{1,5}}|{_WORD_NUMBER})"


def number(text: str) -> int | None:
    """The value of a count written in digits or English words; None if it is neither."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    parts = re.split(r"[- ]", text)
    if len(parts) == 1:
        return _UNITS.get(parts[0], _TENS.get(parts[0]))
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _UNITS:
        return _TENS[parts[0]] + _UNITS[parts[1]]
    return None


_I = re.IGNORECASE
#: Words for the people a study treats ("patients", "cases", "children").
PEOPLE = r"(?:patients?|cases?|children|subjects|adults|individuals|women|men|girls|boys|participants|persons|people)"

# -- counts ---------------------------------------------------------------------------------

#: "three of four patients", "Eight of the nine", "One out of seven".
FRACTION_OF = cue(
    rf"\b(?P<r>{NUMBER})\s+(?:\(\d+(?:\.\d+)?\s*%\)\s+)?(?:of|out\s+of)\s+(?:the\s+|these\s+|all\s+|our\s+)?(?P<n>{NUMBER})\b(?!\s*(?:%|years?|months?|weeks?|days?|mg|g\b))",
    _I,
)
#: "34/78", "12/21" (not doses or dates: "mg/kg", "20/05/2019").
FRACTION_SLASH = cue(
    r"(?<![\d/.,])(?<![A-Z]\s)(?<![A-Z])(?P<r>\d{1,4})\s*/\s*(?P<n>\d{1,4})(?![\d/.]|\s*(?:mg|g|kg|ml|mL|day|week))"
)
#: "Both cases", "both patients", "in both".
BOTH = cue(rf"\bboth\s+(?:of\s+(?:the|these|our)\s+)?{PEOPLE}\b|\bboth\s+(?:of\s+them|had|showed|patients)\b", _I)
#: "all three patients", "All 12 cases".
ALL_N = cue(rf"\ball\s+(?:of\s+the\s+)?(?P<n>{NUMBER})\s+(?:\w+\s+)?{PEOPLE}", _I)
#: A responder count before a verb of outcome: "Eight patients have shown", "two cases healed".
RESPONDERS = cue(
    rf"\b(?P<r>{NUMBER})\s+(?:\w+\s+){{0,2}}?{PEOPLE}\s+(?:\w+\s+)?(?:have\s+|had\s+|has\s+)?"
    r"(?:shown|showed|show|had|achieved|reported|experienced|responded|improved|healed|were\s+(?:cured|improved|healed))\b",
    _I,
)
#: A responder count after the verb of outcome: "the nodules shrank in 12 patients".
RESPONDED_IN = cue(
    r"\b(?:improv\w*|heal\w*|resol\w*|shr[aiu]nk\w*|regress\w*|respond\w*|cleared|disappeared|decreased|reduced)"
    rf"\s+(?:\w+\s+){{0,3}}?in\s+(?P<r>{NUMBER})\s+(?:\(\s*\d+(?:\.\d+)?\s*%\s*\)\s+)?(?:of\s+(?:the\s+|these\s+)?)?{PEOPLE}\b",
    _I,
)
#: Patients treated: "Nine patients have been treated", "38 patients ... treated with",
#: "We report four cases", "in seven patients with", "Of the 34 patients that received".
TREATED = cue(
    rf"\b(?P<n>{NUMBER})\s+(?:[\w-]+\s+){{0,3}}?{PEOPLE}\b(?:(?:[^.;]|\.\d){{0,60}}?)\b(?:were\s+|was\s+|have\s+been\s+|had\s+been\s+|who\s+|that\s+)?"
    r"(?:treated|received|receiving|underwent|undergoing|given|prescribed|managed|injected|included|enrolled|recruited"
    r"|studied|analy[sz]ed|evaluated)\b",
    _I,
)
REPORTED = cue(
    rf"\b(?:report|reports|reported|present|presents|describe|describes|discuss|studied|included|identified|analy[sz]ed|reviewed|evaluated?|evaluates)"
    rf"\s+(?:on\s+|here\s+|herein\s+)?(?:the\s+)?(?:effects?\s+\w+\s+\w+\s+\w+\s+in\s+)?(?P<n>{NUMBER})\s+(?:[\w-]+\s+){{0,2}}?{PEOPLE}",
    _I,
)
#: The patients a sentence's outcome is counted over: "Of 7 evaluable patients", "among the 24
#: cases", "We included a total of 343 patients".
DENOMINATOR = cue(
    rf"\b(?:of|among)\s+(?:the\s+|these\s+|all\s+|our\s+)?(?P<n>{NUMBER})\s+(?:[\w-]+\s+){{0,2}}?{PEOPLE}\b"
    rf"|\ba\s+total\s+of\s+(?P<t>{NUMBER})\s+(?:[\w-]+\s+){{0,2}}?{PEOPLE}\b",
    _I,
)
N_EQUALS = cue(r"\(\s*n\s*=\s*(?P<n>\d{1,5})\s*\)", _I)
#: A percentage: "58%", "43.6 %", "Fifty-four per cent".
PERCENT = cue(rf"(?P<p>\d{{1,3}}(?:\.\d+)?)\s?%|\b(?P<w>{_WORD_NUMBER})\s+per\s?cent\b", _I)
#: One patient: "a 43-year-old woman", "We report a case", "Our patient".
SINGLE_PATIENT = cue(
    r"\b(?:a|one|an|our)\s+(?:\d{1,3}[- ]?(?:year|month|yr|y)s?[- ]old|case\s+of|patient\b|unusual\s+case|rare\s+case)"
    r"|\b\d{1,3}[- ]?(?:years?|yrs?|y)[- ]old\s+(?:\w+\s+)?(?:woman|man|female|male|girl|boy|lady|patient|child)\b",
    _I,
)

# -- response -------------------------------------------------------------------------------

_NEG_HEAD = r"(?:not(?!\s+only\b)|no|without|failed\s+to|fail\s+to|lack\s+of|never|nor|neither|absence\s+of)"
#: Words of a favourable change (their direction can be negated by what precedes them); "a
#: non-healing ulcer" describes the ulcer.
POSITIVE = cue(
    r"\b(?:improv(?:e|ed|es|ing|ement|ements)|reduc(?:ed|es|ing|tion|tions)"
    r"|decreas(?:ed|es|ing|e)|regress(?:ed|ion|ive)"
    r"|resol(?:ved|ution|ve|ves)|(?<!non-)(?<!non\s)heal(?:ed|ing|s)?|shr(?:ank|unk|inking)|disappear(?:ed|ance|s)?|relie(?:f|ved)"
    r"|benefi(?:t|ts|ted|cial)|respon(?:se|ses|ded|ding|der|ders|sive)|effective(?:ness)?|efficacious"
    r"|evidence\s+supports?|supports?\s+the\s+use"
    r"|success(?:ful|fully)?|useful|promising|favou?rable|excellent|dramatic|remission|softening|less\s+painful"
    r"|settled\s+down|cleared|clearance|smaller|shrinkage|superior(?:ity)?|favou?r(?:ed|ing|s)"
    r"|preserv(?:ed|es|ation)|slow(?:ed|s)?\s+(?:the\s+)?(?:rate\s+of\s+)?(?:decline|progression))\b",
    _I,
)
#: Favourable although written with a negation: "no new lesions", "without recurrence".
NO_NEW = cue(
    r"\b(?:no|without)\s+(?:\w+\s+){0,2}?(?:new\s+(?:\w+\s+)?(?:lesions?|calcifications?|calcinosis|calcinotic|deposits?|wounds?)|(?:sign|signs|evidence)\s+of\s+recurrence|recurrence|wounds?\s+on)\b",
    _I,
)
NEGATED = cue(
    rf"\b{_NEG_HEAD}\s+(?:\w+\s+){{0,3}}?(?:improv\w*|respon\w*|benefi\w*|success\w*|effect(?:ive)?\b|change|resol\w*|heal\w*|regress\w*|reduc\w*|decreas\w*|help\w*|differ\w*)"
    r"|\b(?:unresponsive|refractory|recalcitrant|resistant)\s+to\b|\bineffective\b|\bshould\s+not\s+be\s+used\b"
    r"|\bnot\s+recommended\b|\btreatment\s+failure\b|\brecurred\b|\bpoor\s+(?:progression|response)\b"
    r"|\bunsuccessful(?:ly)?\b|\bwithout\s+(?:any\s+)?success\b|\b(?:had|have|has)\s+failed\b"
    r"|\b(?:insufficient|inadequate)\s+(?:\w+\s+)?(?:response|improvement|effect|efficacy)\b",
    _I,
)
WORSENED = cue(
    r"\b(?:worsen(?:ed|ing|s)?|progress(?:ed|ion)\s+despite|deteriorat(?:ed|ion|ing)|poor\s+(?:clinical\s+)?evolution"
    r"|passe[sd]\s+away|died\s+despite|enlarg(?:ed|ement)\s+despite)\b"
    r"|\b(?:however|but|nevertheless|yet)\b[^.;]{0,80}?\bprogressed\b",  # "X was tried; however, the ulcer progressed"
    _I,
)
UNCLEAR = cue(
    r"\b(?:had\s+to\s+be|was|were|been)\s+(?:stopped|discontinued|withdrawn|interrupted)\b|\blimited\s+data\b"
    r"|\binsufficient\s+(?:evidence|data)\b|\bhave\s+promise\b|\bnon-?conclusive\b"
    r"|\b(?:is|are|was|were|remains?|remained|been)\s+inconclusive\b|\binconclusive(?:ly)?\s+(?:results?|evidence|data|findings)\b"
    r"|\bremains?\s+(?:unclear|unknown|uncertain)\b|\bis\s+unclear\b|\blimited\s+and\b|\bvariable\s+benefit\b"
    r"|\blimited\s+evidence\b",
    _I,
)
#: Stabilisation and halted progression: neither better nor worse ("remained stable",
#: "stabilised", "no further progression", "halted the progression").
STABLE = cue(
    r"\b(?:remain(?:ed|s)?|was|were|stayed|kept)\s+(?:\w+\s+)?(?:stable|unchanged)\b|\bstabili[sz](?:ed|ation|ing|es)\b"
    r"|\b(?:halted|arrested|stopped|ceased)\s+(?:the\s+)?(?:\w+\s+)?progress\w*|\bstopped\s+progressing\b"
    r"|\bno\s+(?:further\s+)?progression\b|\bprogression\s+(?:ceased|stopped|halted)\b",
    _I,
)
PARTIAL = cue(r"\b(?:partial(?:ly)?|near[- ]complete|nearly\s+complete|almost\s+complete|incomplete)\b", _I)
COMPLETE = cue(
    r"\bcomplete(?:ly)?\s+(?:\w+\s+)?(?:resolution|resolved|remission|healing|healed|disappearance|disappeared|response|regression|recovery)\b"
    r"|\b(?:resolved|healed|disappeared|regressed|cleared)\s+completely\b|\bfull\s+(?:\w+\s+)?recovery\b|\btotal(?:ly)?\s+(?:resolution|resolved|regression|disappearance)\b"
    r"|\bwithout\s+recurrence\b|\bno\s+(?:sign|signs|evidence)\s+of\s+recurrence\b"
    r"|\b(?:clinical\s+)?(?:resolution|remission|clearance)\s+(?:of\s+(?:the\s+)?\w+\s+)?(?:was|were)\s+(?:ultimately\s+)?"
    r"(?:achieved|obtained|attained)\b|\b(?:fully|completely)\s+healed\b",
    _I,
)
#: Treatments that failed before the one studied: "refractory to prednisone and cyclosporine",
#: "despite methotrexate and azathioprine", "did not respond to dapsone".
FAILED_BEFORE = cue(
    r"\b(?:refractory|resistant|unresponsive|recalcitrant)\s+to\b|\bdespite\b|\bfailure\s+of\b"
    r"|\b(?:did\s+not|failed\s+to|not)\s+respond(?:ing)?\s+to\b|\bno\s+response\s+to\b"
    r"|\b(?:had|have|has)\s+(?:previously\s+)?failed\b",
    _I,
)
#: Where a list of failed treatments ends and what happened next begins.
FAILED_LIST_END = cue(
    r"[;:.]|\b(?:was|were|is|are|then|subsequently|finally|until|so|therefore|before|when|she|he|we|but|after"
    r"|which|who|showed|led|resulted|achieved|improved|healed|responded|progressed|worsened|persisted)\b",
    _I,
)
HEDGE = cue(r"\b(?:may|might|could|can|appears?|seems?|suggests?|potentially|possibl[ey]|probabl[ey])\b", _I)

# -- what a sentence is about ---------------------------------------------------------------

#: The deposits or lesions of the condition (an outcome about these is an outcome of it).
TARGET = cue(
    r"\b(?:calcinos\w*|calcinotic|calcif\w*|calcium\s+deposits?|deposits?|lesions?|nodules?|ulcer\w*|wounds?"
    r"|masse?s?|pain\w*|extrusion|swelling|necro\w+|tumou?ral|vas|recurrence|clinical\s+(?:picture|course|status))\b",
    _I,
)
#: Outcomes about something else: the underlying disease, another organ, a laboratory value.
OFF_TARGET = cue(
    r"\b(?:muscle|muscular|myositis|myopath\w*|ild|interstitial|lung|pulmonary|skin\s+disease|disease\s+activity"
    r"|global\s+disease|cutaneous\s+disease|cmas|mmt8?|mortality|survival|disease\s+control|hyperphosphat\w+|serum)\b",
    _I,
)
#: A sentence stating an aim, a method or a hypothesis, not a result.
NOT_A_RESULT = cue(
    r"\b(?:aim|aims|aimed|purpose|objective|sought|hypothes[ie]s|hypothesi[sz]ed|we\s+(?:evaluat|assess|investigat|compar|test)\w*"
    r"|to\s+(?:evaluate|assess|determine|investigate|describe|compare|examine|identify|study)|were\s+(?:recorded|collected|assessed|measured)"
    r"|was\s+(?:recorded|defined)|data\s+(?:were|was)\s+\w+ed|inclusion\s+criteria|generally|usually|typically"
    r"|we\s+(?:herein\s+|here\s+)?(?:discuss|describe)"
    # what is known, not what happened: "as our understanding of its pathogenesis has improved"
    r"|(?:understanding|knowledge|awareness)\s+of\b"
    # what was measured: "The primary outcome was …", "Secondary end points were …"
    r"|(?:primary|secondary|main|key)\s+(?:\w+\s+)?(?:outcomes?|end\s*-?points?)\s+(?:was|were|is|are|included|comprised)"
    r"|outcomes?\s+(?:were|was)\s+(?:assessed|evaluated|measured|defined)"
    # groups compared at baseline: "similar baseline characteristics", "in terms of age, sex, smoking"
    r"|baseline\s+(?:characteristics|demographics|features)|in\s+terms\s+of\s+(?:age|sex|gender)"
    r"|\b(?:age|sex|gender)\s*,\s*(?:sex|gender|age|race|ethnicity|smoking)"
    r"|no\s+(?:\w+\s+)?(?:effective|established|standard|specific|approved|curative)\s+(?:therapy|therapies|treatments?|cure))\b",
    _I,
)
#: What predicts an outcome ("Risk factors for non-response were …"): not an outcome, unless the
#: sentence states one before it ("X reduced the decline, more so in patients with these risk
#: factors for rapid decline").
PREDICTORS = cue(r"\b(?:predictors?\s+(?:of|for)|risk\s+factors?\s+(?:of|for))\b", _I)


def not_a_result(text: str) -> bool:
    """Whether a sentence states an aim, a method, a definition or predictors, not an outcome."""
    if NOT_A_RESULT.search(text):
        return True
    predictors = PREDICTORS.search(text)
    return (
        predictors is not None
        and not POSITIVE.search(text, 0, predictors.start())
        and not NEGATED.search(text, 0, predictors.start())
    )


#: Slowing or preventing the progression of existing disease is a treatment outcome, not prevention.
PROGRESSION = cue(
    r"\b(?:prevent\w*|risk\s+factors?\s+for|halt\w*|slow\w*)\s+(?:the\s+)?(?:\w+\s+){0,2}?progression\b", _I
)
#: What is known from the literature, not what this study found: "have been shown", "is the
#: mainstay", "are most often used" (a finding in a review; background in a primary study).
LITERATURE = cue(
    r"\b(?:ha(?:ve|s)\s+been\s+(?:shown|reported|demonstrated|proven|described|suggested)"
    r"|(?:studies|reports|trials|authors|drugs|agents|therapies|treatments|inhibitors)\s+ha(?:ve|s)\s+"
    r"(?:shown|reported|demonstrated|suggested)"
    r"|(?:is|are|remains?)\s+(?:the\s+)?(?:mainstay|first[- ]line|treatment\s+of\s+choice|standard\s+of\s+care)"
    r"|(?:is|are)\s+(?:most\s+)?(?:often|commonly|frequently|usually|widely)\s+(?:used|prescribed|recommended)"
    r"|often\s+requires?|(?:previous|prior|earlier|several|many|recent|published)\s+(?:case\s+)?(?:studies|reports|trials|series)"
    r"|(?:studies|reports|series|trials)\s+(?:\w+\s+){0,3}?(?:suggest|show|indicate)(?:s|ed)?\s+that"
    r"|(?:predict\w*|independent\s+factors?)\s+(?:\w+\s+){0,6}?(?:response|outcome))\b",
    _I,
)
#: Advice and requirements, not outcomes: "should be considered", "often requires".
NORMATIVE = cue(
    r"\b(?:should\s+be\s+(?:considered|suspected)|often\s+requires?|may\s+facilitate|requires?\s+a\s+high)\b",
    _I,
)
#: Prevention of new disease rather than treatment of existing deposits.
PREVENTION = cue(
    r"\b(?:prevent\w*|incidence|onset\s+of|development\s+of|minimi[sz]\w*|risk\s+(?:of|factors?)|associated\s+with\s+(?:an?\s+)?(?:increased|decreased|higher|lower))\b",
    _I,
)


def about_prevention(text: str) -> bool:
    """Whether ``text`` is about preventing new disease (not slowing the progression of existing disease)."""
    return bool(PREVENTION.search(text)) and not PROGRESSION.search(text)


#: Purpose infinitives ("to improve outcomes") are not outcomes.
PURPOSE = cue(
    r"\bto\s+(?:improve|reduce|decrease|heal|resolve|benefit|prevent|enhance)\b"
    r"|\b(?:focus\w*\s+on|aim\w*\s+at|directed\s+at|intended\s+to)\s+\w+ing\b",
    _I,
)
#: A percentage that describes patients, not a concentration ("58% showed", "54 per cent of patients").
PERCENT_OF_PATIENTS = cue(
    rf"^\s*\)?\s*(?:of\s+(?:the\s+|all\s+)?(?:\w+\s+)?{PEOPLE}|of\s+cases|\(?\d+\)?\s+{PEOPLE}|;\s*\d+/\d+"
    r"|(?:showed|had|achieved|experienced|reported|improved|responded|were|healed)"
    r"|(?:complete\s+|partial\s+|clinical\s+)?(?:healing|response|remission|improvement|resolution)\b)",
    _I,
)
#: A systematic search of the literature: "we searched MEDLINE and EMBASE", "studies met inclusion criteria".
LITERATURE_SEARCH = cue(
    r"\b(?:we\s+(?:systematically\s+)?searched|(?:medline|embase|cochrane|pubmed|scopus|web\s+of\s+science)\b"
    r"[^.]{0,80}\b(?:medline|embase|cochrane|pubmed|scopus|web\s+of\s+science)|(?:studies|articles|reports)\s+met"
    r"\s+(?:the\s+)?(?:inclusion|eligibility)\s+criteria|prisma)\b",
    _I,
)
#: The article describes its own review ("this review", "is reviewed here", "we review").
REVIEW_SELF = cue(
    r"\b(?:this|our|the\s+present)\s+(?:\w+\s+)?review\b|\bwe\s+review(?:ed\s+the\s+literature)?\b|\bis\s+reviewed\b|\breviewed\s+here\b"
    r"|\bpurpose\s+of\s+(?:this\s+)?review\b|\bliterature\s+review\b",
    _I,
)
#: Resolution without treatment.
SPONTANEOUS = cue(r"\bspontaneous(?:ly)?\b", _I)

# -- study design ---------------------------------------------------------------------------

DESIGN_CUES: tuple[tuple[str, Cue], ...] = (
    ("systematic_review", cue(r"\bsystematic(?:al)?\s+(?:\w+\s+)?(?:review|search)|\bmeta-?analys[ie]s\b", _I)),
    (
        "rct",
        cue(
            r"\b(?:randomi[sz]ed|placebo-controlled|double-blind)\s+(?:\w+\s+)?(?:controlled\s+)?(?:trial|study)\b", _I
        ),
    ),
    ("case_series", cue(r"\bcase\s+series\b", _I)),
    ("case_report", cue(r"\bcase\s+reports?\b|\bcase\s+(?:presentation|summary|study)\b", _I)),
    (
        "retrospective_cohort",
        cue(r"\bretrospective(?:ly)?\b|\bregistry\b|\bchart\s+review\b|\bmedical\s+records\b", _I),
    ),
    ("prospective_cohort", cue(r"\bprospective(?:ly)?\b", _I)),
    ("review", cue(r"\breview(?:s|ed)?\b|\bliterature\b|\bupdate\s+on\b|\bcurrent\s+perspectives\b", _I)),
)
#: Wording of a report on a few patients: "We report two cases", "in three patients".
FEW_PATIENTS = cue(
    rf"\b(?:report|present|describe|discuss)\w*\s+(?:on\s+|here\s+|herein\s+)?(?:to\s+you\s+)?(?:the\s+|a\s+(?:case\s+)?series\s+of\s+)?(?P<n>{NUMBER}|an?|one|this)\s+(?:[\w-]+\s+){{0,2}}?{PEOPLE}",
    _I,
)
#: Publication types (PubMed) that settle the design on their own.
PUBLICATION_TYPE_DESIGNS: dict[str, str] = {
    "systematic review": "systematic_review",
    "meta-analysis": "systematic_review",
    "randomized controlled trial": "rct",
    "controlled clinical trial": "rct",
    "case reports": "case_report",
    "review": "review",
    "observational study": "retrospective_cohort",
    "clinical trial": "prospective_cohort",
}
