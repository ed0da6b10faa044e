"""What a post asks of the team: complaint, question, praise or other (pure, no model).

Transparent rules an agent can check: a care vocabulary (phrases that report a problem, ask
for help or thank), the question mark, and VADER's compound score as a tie-breaker. Every
reading says why ("care word “cracked”", "asks “is that covered”").
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from dataclasses import dataclass


class Intent(str, enum.Enum):
    COMPLAINT = "complaint"
    QUESTION = "question"
    PRAISE = "praise"
    OTHER = "other"


@dataclass(frozen=True)
class IntentReading:
    intent: Intent
    reasons: tuple[str, ...]  # readable: ("care word “cracked”", "asks “is that covered”")
    tags: tuple[str, ...] = ()  # care topics found, lower-case words ("screen", "refund", …)


# Phrases that report something wrong with a product, an order or the service. A problem
# reported with a question ("cracked … is that covered?") is still a complaint: the customer
# has the problem either way, and the answer is care's job.
_PROBLEM = (
    r"broken?", r"broke", r"breaks", r"cracked", r"cracks?", r"shattered", r"smashed",
    r"not (?:working|charging|connecting|loading|responding|turning on|arrived|received)",
    r"(?:does|do|did|is|has|have|was)(?:n't| not) (?:work|working|charge|charging|connect|load|arrive|arrived|come|respond|fix|fixed|turn on)",
    r"(?:doesn't|don't|didn't|won't|can't|cannot|couldn't|wont|cant) (?:work|charge|connect|load|turn on|log ?in|sign in|open|boot|sync|pair|update|get through|reach)",
    r"stopped (?:working|charging|connecting)", r"keeps? (?:crashing|freezing|disconnecting|dropping|restarting|rebooting|failing|lagging|turning off)",
    r"drops", r"dropping", r"disconnect(?:s|ing|ed)?", r"died", r"dead", r"useless", r"faulty", r"defective",
    r"still waiting", r"still (?:no|not|hasn't|haven't)", r"never (?:arrived|came|got|received)", r"no (?:wifi|signal|service|response|reply|answer|one answers)",
    r"nobody (?:answers|replies|responds|helps)", r"waiting (?:for|since) (?:\w+ )?(?:days|weeks|hours|months)",
    r"refund", r"money back", r"overcharged", r"charged (?:twice|me twice|double)", r"double charged",
    r"worst", r"terrible", r"awful", r"horrible", r"unacceptable", r"ridiculous", r"disappointed", r"disappointing",
    r"not impressed", r"fed up", r"sick of", r"frustrat\w*", r"annoy\w*",
    r"bug(?:gy|s)?", r"glitch\w*", r"crash(?:es|ed|ing)?", r"freez(?:es|ing)", r"froze", r"error", r"fails?", r"failed", r"failing",
    r"drains?", r"draining", r"overheat\w*", r"lost (?:all )?my", r"locked out", r"hacked", r"scam(?:med)?",
    r"please fix", r"fix (?:this|it)", r"rolling back", r"roll back",
)
_QUESTION_OPENERS = (
    r"how (?:do|can|long|much|does|is|are|to|should|would)", r"what (?:is|are|does|do|should|happens|time|'s)",
    r"when (?:will|is|does|do|can)", r"where (?:is|are|can|do)", r"why (?:is|does|do|are|did|can't|won't)",
    r"is (?:it|there|that|this|the)", r"are (?:there|you|the)", r"does (?:the|it|anyone|this|acme)", r"do (?:you|i|they)",
    r"can (?:i|you|someone|anyone|we)", r"could (?:i|you|someone|anyone)", r"will (?:it|the|there|you)", r"should i",
    r"anyone (?:know|else|tried)", r"any (?:idea|ideas|news|update)",
)
_PRAISE = (
    r"thanks?", r"thank you", r"thx", r"love (?:it|this|my|the|how|that|you)", r"loving",
    r"great (?:job|service|support|phone|work|experience)", r"awesome", r"amazing", r"excellent", r"brilliant",
    r"fantastic", r"best (?:phone|support|service|ever|experience)", r"shout[- ]?out", r"kudos", r"props to",
    r"well done", r"impressed", r"highly recommend", r"recommend", r"5 stars", r"five stars", r"happy with",
    r"appreciate", r"grateful",
)
# Care topics: the tag, then the words that name it.
_TOPICS: dict[str, tuple[str, ...]] = {
    "refund": (r"refund\w*", r"money back", r"reimburs\w*", r"return (?:it|my|the)"),
    "repair": (r"repairs?", r"repaired", r"warrant(?:y|ies)", r"replace(?:ment|d)?", r"fix(?:ed)?", r"service cent(?:er|re)"),
    "battery": (r"battery", r"batteries", r"charg(?:e|er|ing)", r"drains?", r"draining", r"power"),
    "screen": (r"screens?", r"display", r"cracked", r"shattered", r"touchscreen"),
    "connectivity": (r"wi-?fi", r"bluetooth", r"signal", r"network", r"[45]g", r"lte", r"disconnect\w*", r"hotspot", r"esim"),
    "update": (r"updates?", r"updated", r"updating", r"upgrade\w*", r"firmware", r"patch"),
    "delivery": (r"deliver(?:y|ed|ies)?", r"shipping", r"shipped", r"shipment", r"parcel", r"package", r"tracking", r"courier", r"order(?:ed)?"),
    "billing": (r"bill(?:ed|ing)?", r"charged", r"invoice", r"payment", r"subscription", r"overcharged"),
    "account": (r"account", r"log ?in", r"sign ?in", r"password", r"locked out", r"2fa", r"verification code"),
}

# Sentiment settles the posts no care phrase decides (VADER's documented thresholds).
_NEGATIVE_AT, _POSITIVE_AT = -0.05, 0.05
_STRONG_NEGATIVE, _STRONG_POSITIVE = -0.5, 0.5


def _alternatives(phrases: tuple[str, ...]) -> str:
    return "|".join(f"(?:{p})" for p in phrases)


_PROBLEM_RE = re.compile(rf"(?<![\w-])(?:{_alternatives(_PROBLEM)})(?![\w-])")
_PRAISE_RE = re.compile(rf"(?<![\w-])(?:{_alternatives(_PRAISE)})(?![\w-])")
# A question opener counts at the start of the post or of a sentence, after a mention.
_OPENER_RE = re.compile(rf"(?:^|[.!?:;]\s+|\n)(?:@\w+\s+)*(?P<q>{_alternatives(_QUESTION_OPENERS)})(?![\w-])")
_OPENER_ANYWHERE_RE = re.compile(rf"(?<![\w-])(?P<q>{_alternatives(_QUESTION_OPENERS)})(?![\w-])")
_QUESTION_SENTENCE_RE = re.compile(r"[^.!?\n]*\?")
_TOPIC_RES = tuple((tag, re.compile(rf"(?<![\w-])(?:{_alternatives(words)})(?![\w-])")) for tag, words in _TOPICS.items())
_URL_RE = re.compile(r"https?://\S+|www\.\S+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def read_intent(text: str, *, sentiment: float | None) -> IntentReading:
    """VADER's compound (may be None) plus a care vocabulary (broken, cracked, refund, not
    working, still waiting, how do I, …); transparent rules, no model."""
    return _read(text, sentiment)


@functools.lru_cache(maxsize=4096)  # texts repeat (reposts, campaigns, storms)
def _read(text: str, sentiment: float | None) -> IntentReading:
    plain = _plain(text)
    tags = tuple(tag for tag, pattern in _TOPIC_RES if pattern.search(plain))
    problem = _PROBLEM_RE.search(plain)
    asks = _asks(plain)
    praise = _PRAISE_RE.search(plain)
    if problem and not (praise and sentiment is not None and sentiment >= _STRONG_POSITIVE and not asks):
        reasons = [f"care word “{problem.group(0)}”"]
        if asks:
            reasons.append(f"asks “{asks}”")
        return IntentReading(Intent.COMPLAINT, tuple(reasons), tags)
    if asks:
        return IntentReading(Intent.QUESTION, (f"asks “{asks}”",), tags)
    if praise and (sentiment is None or sentiment >= _NEGATIVE_AT):
        return IntentReading(Intent.PRAISE, (f"praise word “{praise.group(0)}”",), tags)
    if tags and sentiment is not None and sentiment <= _STRONG_NEGATIVE:
        return IntentReading(Intent.COMPLAINT, (f"negative ({sentiment:+.2f}) about {tags[0]}",), tags)
    return IntentReading(Intent.OTHER, ("no care words",), tags)


def care_problem(text: str) -> str | None:
    """The first phrase in the text that reports a problem ("cracked", "not working"), or None."""
    found = _PROBLEM_RE.search(_plain(text))
    return found.group(0) if found else None


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    return _URL_RE.sub(" ", text)


def _asks(plain: str) -> str | None:
    """The phrase that makes the post a question, or None."""
    opener = _OPENER_RE.search(plain)
    if opener:
        return opener.group("q")
    for sentence in _QUESTION_SENTENCE_RE.findall(plain):
        opener = _OPENER_ANYWHERE_RE.search(sentence)
        if opener:  # "— is that covered?": an opener after a dash or a comma
            return opener.group("q")
        words = sentence.split()
        if words:
            return " ".join(words[-3:])  # "anyone else?", "5 days now?"
    return None
