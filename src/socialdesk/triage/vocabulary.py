"""The care vocabulary: the word lists triage reads posts with, found in one pass.

Plain lists a team can read and extend (templates: see phrases.py). `found(text)` looks
every list up in one pass over the post's words and is cached, so intent, spam and
similarity share it: a post's words are read once, whoever asks first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from socialdesk.triage.phrases import Vocabulary, words

# What a product, an order or a service is expected to do: "won't <verb>", "not <verb>ing",
# "stopped <verb>ing" and "unable to <verb>" report a problem with any of these.
_CAN = (
    "work|load|log in|login|log me in|sign in|connect|sync|charge|turn on|switch on|open|boot|start|pair|update|"
    "install|download|upload|send|receive|arrive|come|move|ship|call|text|hear|play|pay|save|access|use|respond|"
    "answer|reply|recognise|recognize|pick up|get through|reach|let me|fix|help"
)
_CAN_ING = (
    "working|loading|logging in|signing in|connecting|syncing|charging|turning on|opening|booting|starting|"
    "pairing|updating|installing|downloading|uploading|sending|receiving|arriving|coming|moving|shipping|calling|"
    "playing|paying|saving|responding|answering|replying|recognising|recognizing|picking up|getting through|helping"
)
_NOT = ("won't|wont|can't|cant|cannot|couldn't|doesn't|doesnt|don't|dont|didn't|didnt|isn't|isnt|aren't|wasn't|"
        "hasn't|hasnt|haven't|never|no longer|not|unable to|fails to|fail to|failed to|refuses to|refused to")
# Phrases that report something wrong with a product, an order or the service (templates:
# see phrases.py). A problem reported with a question ("cracked … is that covered?") is
# still a complaint: the customer has the problem either way, and the answer is care's job.
_PROBLEM = (
    # it does not do what it should
    f"{{{_NOT}}} {{even |properly |anymore |}}{{{_CAN}|{_CAN_ING}}}",
    f"{{stopped|stops|keeps|keep|kept}} {{{_CAN_ING}}}", "stopped *ing",
    "{hasn't|hasnt|haven't|has not|have not|still not|still hasn't} {been |}*ed",
    ("{keeps|keep|kept} {crashing|freezing|disconnecting|dropping|restarting|rebooting|failing|lagging|turning off|"
     "logging me out|logging out|saying|spinning|buffering|asking}"),
    "something went wrong", "went wrong", "goes in circles", "{is|are|was|app|site|it's|its|service} down",
    "down {again|for everyone|in|since}", "outage", "outages", "issue", "issues", "problem", "problems",
    # faults
    "broken", "broke", "breaks", "cracked", "crack", "cracks", "shattered", "smashed", "scratched", "dented",
    "damaged", "frayed", "leaks", "leaking", "dead pixel", "dead pixels", "{green|pink|white|black} {line|lines|spot|spots}",
    "crackles", "crackling", "flickers", "flickering", "drops", "dropping", "disconnects", "disconnecting",
    "disconnected", "died", "dead", "useless", "killed {my|the|it}", "faulty", "defective", "bug", "bugs", "buggy",
    "glitch", "glitches", "glitchy", "glitching", "crash", "crashes", "crashed", "crashing", "freezes", "freezing", "froze", "error", "errors", "fails",
    "fail", "failed", "failing", "drain", "drains", "draining", "overheat", "overheats", "overheating", "overheated", "so hot", "reboots", "restarts",
    "rebooting", "restarting", "by itself", "on its own", "so slow", "too slow", "stuck", "missing", "wrong",
    "lost {all |}{my|our}", "deleted", "removed", "{are|is} gone", "locked out", "hacked", "declined", "throttled",
    "no signal", "zero bars",
    # waiting
    "still waiting", "{been|i've been|ive been} waiting", "waiting {for|since} {days|weeks|hours|months}",
    "waiting {for|since} <n> {days|weeks|hours|months}", "on hold",
    "still {no|not|hasn't|haven't|billed|charging|reboots|drops|crashes}", "never {arrived|came|got|received|again}",
    "no {wifi|signal|service|response|reply|answer|info|rebooking|hotel|refund|help}",
    "no one {answers|replies|responds|helps|can}", "nobody {answers|replies|responds|helps|can}",
    "delay", "delays", "delayed", "cancelled", "canceled", "not even",
    # money
    "refund", "refunds", "money back", "overcharged", "charged {me|twice|double|for}", "double charged",
    "two charges", "billed {me|twice}", "{took|taken} the payment", "overdraft fee",
    # how it feels
    "worst", "worse", "terrible", "awful", "horrible", "unacceptable", "ridiculous", "disappointed",
    "disappointing", "not impressed", "not ok", "not okay", "fed up", "sick of", "frustrated", "frustrating", "frustration", "annoyed",
    "annoying", "a joke", "drives me {nuts|crazy|mad}", "without {asking|warning|notice}", "supposed to",
    "{was|were} promised", "scam", "scammed", "inadmissible", "thanks for nothing",
    # asks for the problem to go away
    "please fix", "fix {this|it}", "rolling back", "roll back", "bring {it|them|back}",
    "bring {the|my|our} * back",
    # a few other languages' commonest ways to say it does not work
    "no funciona", "no carga", "no enciende", "ne marche {pas|plus}", "ne fonctionne {pas|plus}",
    "ne s'allume {pas|plus}", "funktioniert nicht", "funktioniert nicht mehr", "geht nicht", "bricht ab",
    "bricht {ständig|immer|oft} ab", "não funciona", "reembolso", "remboursement",
)
_PRAISE = (
    "thanks", "thank you", "thx", "danke", "gracias", "merci", "obrigado", "obrigada",
    "{love|loved} {it|this|my|the|how|that|you}", "loving", "lovely", "fave", "favourite", "favorite",
    "great {job|service|support|phone|work|experience|value}", "awesome", "amazing", "excellent", "brilliant",
    "fantastic", "superb", "stunning", "legend", "the best", "best {phone|support|service|ever|experience|decision}",
    "shout out", "shoutout", "kudos", "props to", "well done", "impressed", "impressive", "highly recommend",
    "recommend", "5 stars", "five stars", "{so|really|very} happy", "happy with", "appreciate", "grateful",
    "worth {it|the wait|every penny}", "saved me", "painless", "fixed {my|it|the|everything}",
)
_PRAISE_EMOJI = ("\U0001f64c", "\U0001f44d", "\U0001f525", "\U0001f4af", "\u2764", "\U0001f60d", "\U0001f970")
# Care topics: the tag, then the words that name it (the order is the tags' order).
_TOPICS: dict[str, tuple[str, ...]] = {
    "refund": ("refund", "refunds", "refunded", "refunding", "money back", "reimburse", "reimbursed", "reimbursement", "return {it|my|the}"),
    "repair": ("repair", "repairs", "repaired", "warranty", "warranties", "replace", "replaced", "replacement",
               "fix", "fixed", "service {center|centre}"),
    "battery": ("battery", "batteries", "charge", "charger", "charging", "drain", "drains", "draining", "power"),
    "screen": ("screen", "screens", "display", "cracked", "shattered", "touchscreen"),
    "connectivity": ("wifi", "wi fi", "bluetooth", "signal", "network", "4g", "5g", "lte", "disconnect", "disconnects", "disconnected", "disconnecting", "disconnection",
                     "hotspot", "esim"),
    "update": ("update", "updates", "updated", "updating", "upgrade", "upgrades", "upgraded", "upgrading", "firmware", "patch"),
    "delivery": ("delivery", "delivered", "deliveries", "deliver", "shipping", "shipped", "shipment", "parcel",
                 "package", "tracking", "courier", "order", "ordered"),
    "billing": ("bill", "billed", "billing", "charged", "invoice", "payment", "subscription", "overcharged"),
    "account": ("account", "login", "log in", "sign in", "signin", "password", "locked out", "2fa",
                "verification code"),
}

# Words spam uses and customers rarely do.
_GIVEAWAY = (  # phrase templates (see phrases.py); "$500" is the words "500", "100%" is "100"
    "free", "giveaway", "give away", "giving away", "win {a|an|the|free|<n>}", "winner", "winners",
    "you {'ve |have |}won", "you've won", "prize", "claim", "claim {now|yours|your|here}",
    "<n> {legit|real|free|guaranteed}", "legit", "guaranteed", "no scam", "limited {time|offer}",
    "act now", "click {here|the link|below}", "link in {bio|profile}", "{dm|message} {me|us} {to|for|now}",
    "crypto", "bitcoin", "btc", "eth", "usdt", "airdrop", "nft", "nfts", "token presale", "presale",
    "forex", "binary options", "casino", "betting", "earn <n>", "make money", "passive income",
    "double your", "investment opportunity", "promo code", "discount code", "coupon", "<n> off",
    "buy followers", "gain followers", "{follower|followers} fast", "follow back", "f4f", "onlyfans", "xxx",
    "cheap", "best price", "order now", "shop now", "sign up now", "join now", "whatsapp {me|us|<n>}",
    "{on|via} telegram", "hi dear", "check {my|our} {profile|bio}",
    # phishing: a bank or a shop never asks this in a public post
    "verify {now|here|your account|your identity}", "confirm your {details|identity|account}",
    "{account|card} {has been|is|was} {suspended|locked|limited|disabled}",
)

TOPICS = tuple(_TOPICS)
PRAISE_EMOJI = _PRAISE_EMOJI
_VOCABULARY = Vocabulary({
    "problem": _PROBLEM,
    "praise": _PRAISE,
    "giveaway": _GIVEAWAY,
    **{f"topic:{tag}": templates for tag, templates in _TOPICS.items()},
})
_TOPIC_KEYS = tuple((tag, f"topic:{tag}") for tag in TOPICS)
_CACHED_TEXTS = 8192


@dataclass(frozen=True)
class Found:
    """The phrases of each list found in one post, as written there, in order."""

    problems: tuple[str, ...]  # "cracked", "not working"
    praise: tuple[str, ...]  # "thank you", "shout out"
    giveaway: tuple[str, ...]  # "free", "100 legit"
    topics: tuple[str, ...]  # the care topics' tags, in TOPICS' order


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def found(text: str) -> Found:
    """Every list looked up in the text's words (links left out, lower case)."""
    lists = _VOCABULARY.find(words(text))
    topics = tuple(tag for tag, key in _TOPIC_KEYS if key in lists) if lists else ()
    return Found(tuple(lists.get("problem", ())), tuple(lists.get("praise", ())),
                 tuple(lists.get("giveaway", ())), topics)
