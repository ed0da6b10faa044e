"""X's weighted post length, as the composer counts it (twitter-text v3 configuration).

Rules (config/v3.json of twitter/twitter-text): the text is NFC-normalized; each link
counts 23 whatever its length; each emoji sequence (ZWJ family, flag, keycap, skin
tone…) counts 2; other code points count 1 in U+0000–U+10FF, U+2000–U+200D,
U+2010–U+201F and U+2032–U+2037, and 2 elsewhere (CJK, symbols…). The config counts in
hundredths (scale 100, weights 100/200, 23 per link); every weight is a multiple of
100, so this module counts whole characters.

Links follow twitter-text's extractor, with two simplifications: a bare domain
(`acme.com/help`) needs a TLD from `_KNOWN_TLDS` (every ccTLD, the common gTLDs),
and a link with http(s):// accepts any alphabetic TLD (X checks a full IANA list).
"""

from __future__ import annotations

import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
_URL_WEIGHT = 23
_EMOJI_WEIGHT = 2
_MAX_URL_LENGTH = 4096  # longer "links" are not links (protocol included)
_MAX_LABEL_LENGTH = 63  # DNS label limit, measured after punycode encoding
_MAX_TCO_SLUG = 40

# Code points outside v3's weight-100 ranges weigh 2.
_HEAVY = re.compile("[^\u0000-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037]")

# --- emoji --------------------------------------------------------------------------
# Blocks holding Extended_Pictographic code points (UTS #51). Coarser than the exact
# property, which only matters for a non-emoji symbol followed by VS16, a skin tone or
# a ZWJ: unheard of in real posts. Regional indicators and skin tones are left out so
# that a flag is a pair and a skin tone modifies what precedes it.
_PICTO = (
    "\u203c\u2049\u2122\u2139\u2190-\u21ff\u2300-\u23ff\u24c2\u25a0-\u25ff\u2600-\u27bf"
    "\u2934\u2935\u2b00-\u2bff\u3030\u303d\u3297\u3299"
    "\U0001f000-\U0001f1e5\U0001f200-\U0001f3fa\U0001f400-\U0001faff\U0001fc00-\U0001fffd"
)
# © and ® weigh 1 as text; twitter-text only takes them as emoji with VS16.
_ELEMENT = f"(?:[{_PICTO}](?:\ufe0f|[\U0001f3fb-\U0001f3ff])?|[\u00a9\u00ae]\ufe0f)"
_EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff]{2}"  # flag
    "|[0-9#*]\ufe0f?\u20e3"  # keycap, VS16 optional as in twitter-text's conformance tests
    # ZWJ sequences (the longest, a couple kissing, joins 4) and tag flags (England)
    f"|{_ELEMENT}(?:\u200d{_ELEMENT}){{0,3}}(?:[\U000e0020-\U000e007e]+\U000e007f)?"
)

# --- links --------------------------------------------------------------------------
_CCTLDS = (
    "ac ad ae af ag ai al am an ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm "
    "bn bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz "
    "de dj dk dm do dz ec ee eg eh er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl "
    "gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo "
    "jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg "
    "mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz "
    "om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si "
    "sj sk sl sm sn so sr ss st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tp tr tt tv "
    "tw tz ua ug uk um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw"
)
_GTLDS = (
    "com net org edu gov mil int info biz name pro mobi aero asia cat coop jobs museum tel "
    "travel app dev page blog shop store online site website tech cloud digital email link "
    "news media live life world today xyz top club space design studio agency company "
    "solutions services support help systems network group global team art games health "
    "care bank money finance social chat video"
)
_KNOWN_TLDS = frozenset((_CCTLDS + " " + _GTLDS).split())
_TLD_END = r"(?=[^0-9a-z@+\-]|$)"  # "foo.comm" and "john.doe.jp@mail.com" have no TLD
_LATIN = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259"
    "\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
# Anything but ASCII punctuation, spaces, directional marks and noncharacters may be
# part of a host name after http(s)://.
_NOT_HOST = r"\s!-/:-@\[-`{-~\u180e\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff"
_NOT_BEFORE = r"A-Za-z0-9@\uff20$#\uff03\ufeff\ufffe\uffff"  # a link starts a word

_START = re.compile(
    rf"(?P<scheme>(?<![{_NOT_BEFORE}])https?://)"
    rf"|(?<![{_NOT_BEFORE}\-_./{_LATIN}])[a-z0-9{_LATIN}]",  # a bare domain starts a run
    re.IGNORECASE,
)
_KNOWN_TLD = rf"(?:{'|'.join(sorted(_KNOWN_TLDS))}|xn--[-0-9a-z]+){_TLD_END}"
_ANY_TLD = rf"(?:[a-z]{{2,63}}|[^\W\d_a-z]+){_TLD_END}"  # e.g. .engineering, .한국
_HOST_LABELS = rf"(?:(?:[^{_NOT_HOST}]|[-_])++\.)+"
# A known TLD wins over a longer unknown one: "http://acme.com日本.comtest" links acme.com.
_SCHEME_HOSTS = tuple(
    re.compile(rf"https?://(?P<host>{_HOST_LABELS}{tld})(?::[0-9]+)?", re.IGNORECASE)
    for tld in (_KNOWN_TLD, _ANY_TLD)
)
_BARE_HOST = re.compile(
    rf"(?P<host>(?:[-a-z0-9{_LATIN}]++\.)+{_KNOWN_TLD})(?::[0-9]+)?", re.IGNORECASE
)
_PATH_CHAR = rf"[a-z\u0400-\u04ff0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN}]"
_PATH = re.compile(
    rf"/(?:{_PATH_CHAR}|\((?:{_PATH_CHAR}+|{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*)\))*+",
    re.IGNORECASE,
)
_PATH_END = re.compile(rf"[+\-a-z\u0400-\u04ff0-9=_#/{_LATIN})]", re.IGNORECASE)
_QUERY_CHAR, _QUERY_LAST = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]", r"[a-z0-9\-_&=#/]"
_QUERY = re.compile(rf"\?{_QUERY_CHAR}*", re.IGNORECASE)
_QUERY_END = re.compile(_QUERY_LAST, re.IGNORECASE)
_TCO = re.compile(rf"https?://t\.co/([a-z0-9]+)(?:\?{_QUERY_CHAR}*{_QUERY_LAST})?", re.IGNORECASE)


def weighted_length(text: str) -> int:
    """The length X shows for `text`, in characters (a link 23, an emoji or CJK 2)."""
    text = unicodedata.normalize("NFC", text)
    total, last = 0, 0
    for start, end in [*_url_spans(text), (len(text), len(text))]:
        total += _plain_length(text[last:start])
        total += _URL_WEIGHT if end > start else 0
        last = end
    return total


def has_url(text: str) -> bool:
    """Whether X finds a link in `text` (as twitter-text does): such a post costs more to create."""
    return bool(_url_spans(unicodedata.normalize("NFC", text)))


def remaining(text: str) -> int:
    """Characters left before the limit; negative when over."""
    return MAX_WEIGHTED_LENGTH - weighted_length(text)


def fits(text: str) -> bool:
    """Within X's 280 (an empty text fits: whether it may be sent is the caller's call)."""
    return weighted_length(text) <= MAX_WEIGHTED_LENGTH


def _plain_length(text: str) -> int:
    total, last = 0, 0
    for m in _EMOJI.finditer(text):
        chunk = text[last:m.start()]
        total += len(chunk) + len(_HEAVY.findall(chunk)) + _EMOJI_WEIGHT
        last = m.end()
    chunk = text[last:]
    return total + len(chunk) + len(_HEAVY.findall(chunk))


def _url_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each link, left to right as twitter-text extracts them."""
    if "." not in text:
        return []
    spans: list[tuple[int, int]] = []
    pos = 0
    while m := _START.search(text, pos):
        start = m.start()
        end, ok = _scheme_url(text, start) if m.group("scheme") else _bare_url(text, start)
        if ok:
            spans.append((start, end))
        pos = end  # a rejected match is skipped whole, as twitter-text does
    return spans


def _scheme_url(text: str, start: int) -> tuple[int, bool]:
    m = _SCHEME_HOSTS[0].match(text, start) or _SCHEME_HOSTS[1].match(text, start)
    if not m or not _labels_ok(m["host"]):
        return start + 1, False
    end = _path_and_query(text, m.end())
    if m["host"].lower() == "t.co":  # t.co links end at the slug
        tco = _TCO.match(text, start)
        if tco:
            if len(tco.group(1)) > _MAX_TCO_SLUG:
                return end, False
            end = tco.end()
    ascii_extra = len(_to_ascii(m["host"])) - len(m["host"])
    return end, end - start + ascii_extra <= _MAX_URL_LENGTH


def _bare_url(text: str, start: int) -> tuple[int, bool]:
    m = _BARE_HOST.match(text, start)
    if not m:
        return start + 1, False
    if not _labels_ok(m["host"]):
        return m.end(), False
    # Without a path, neither port nor query belongs to the link ("acme.com?x" is text).
    end = _path_and_query(text, m.end())
    if end == m.end() or text[m.end()] == "?":
        end = m.end("host")
    return end, len("https://") + end - start <= _MAX_URL_LENGTH


def _path_and_query(text: str, end: int) -> int:
    if path := _PATH.match(text, end):
        trimmed = _trim(text, path.start() + 1, path.end(), _PATH_END)
        if trimmed < path.end():  # the query must follow the path directly
            return trimmed
        end = trimmed
    if query := _QUERY.match(text, end):
        trimmed = _trim(text, query.start() + 1, query.end(), _QUERY_END)
        if trimmed > query.start() + 1:
            end = trimmed
    return end


def _trim(text: str, floor: int, end: int, ending: re.Pattern[str]) -> int:
    """Back `end` off until it follows a character a link may end with."""
    while end > floor and not ending.match(text, end - 1):
        end -= 1
    return end


def _labels_ok(host: str) -> bool:
    """Labels start and end with a letter or digit; only subdomains may hold "_"."""
    *labels, _tld = host.split(".")
    if any(label[:4].lower() == "xn--" and not label.isascii() for label in labels):
        return False
    if "_" in labels[-1] or any(label[0] in "-_" or label[-1] in "-_" for label in labels):
        return False
    return all(len(label) <= _MAX_LABEL_LENGTH for label in _to_ascii(host).split("."))


def _to_ascii(host: str) -> str:
    return ".".join(label if label.isascii() else "xn--" + label.encode("punycode").decode()
                    for label in host.split("."))
