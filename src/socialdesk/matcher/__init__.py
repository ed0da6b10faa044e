"""The rule query language, matched locally against streamed posts, with an index.

A stream delivers every post; each must be checked against every active rule. This
package parses a rule's query once (`parse`), turns each post into a `MatchTarget`
once, and `RuleIndex.match` finds the rules a post satisfies without evaluating them
all. Pure: no I/O, stdlib only.

Modules: `text` (normalization, `MatchTarget`, `target_of`), `tree` (the query tree,
`describe`, `alternatives`), `query` (`parse`, `QueryInvalid`) and `index` (`RuleIndex`);
import from here.

Query language (`QUERY_LANGUAGE_HELP` says it shorter, in Markdown, for the README):

- ``acme battery``: every word must appear (AND), in any order, as whole words.
- ``"battery drain"``: a phrase: the words adjacent and in that order.
- ``refund OR return``: either side; ``OR`` is upper case (``or`` is a plain word).
  AND binds tighter than OR: ``a b OR c`` is ``(a b) OR c``; parentheses group.
- ``-word``, ``-"a phrase"``, ``-(a OR b)``, ``-#ad``: exclude posts that have it.
- ``#hashtag``, ``@handle`` (``@acme.example.social``, ``@acme@social.example``): the
  text has that hashtag or mention as a whole token.
- ``from:handle``: the author's handle is exactly that (a leading ``@`` is ignored).
- ``lang:en``: the post's language is ``en`` or a variant of it (``en-US``).

Matching rules (decided here, and tested):

- Text and query get the same normalization: NFKC, then casefold. So ``STRASSE``
  matches ``Straße`` and full-width ``ＡＣＭＥ`` matches ``acme``. Accents are
  significant: ``café`` does not match ``cafe``. Turkish dotted ``İ`` folds to ``i``
  (dotless ``ı`` stays distinct); the folding is not locale-aware.
- A word is a run of letters, digits, ``_`` and combining marks. Everything else
  separates words: ``phone`` matches ``phone!``, ``(phone)``, ``phone's``,
  ``smart-phone`` and ``#phone``, not ``phones`` or ``smartphone``. A query word with
  punctuation inside (``wi-fi``, ``don't``, ``3.5mm``, ``acme.example``) is the phrase
  of its parts. URLs are text like any other: their words can be matched.
- Emoji and other symbols are not matched; a query term made only of them is an error.
- Scripts written without spaces (Han, Hiragana, Katakana, Hangul, Thai, Lao, Khmer,
  Myanmar, Yi) have no word boundaries: a term in them matches as a substring of a
  run of those scripts, so ``故障`` matches ``手机故障了``. Hangul is included because
  particles attach to Korean words.
- ``x:y`` is an operator only for ``from:`` and ``lang:``; ``https://…`` and ``10:30``
  are words. Operators from other search languages (``since:``, ``to:``, ``has:``…)
  and near-misses (``form:``) are errors, so a pasted query does not silently match
  the literal text.
"""

from socialdesk.matcher.index import IndexStats, RuleIndex
from socialdesk.matcher.query import QUERY_LANGUAGE_HELP, QueryInvalid, parse
from socialdesk.matcher.text import MatchTarget, normalize, target_of
from socialdesk.matcher.tree import (
    And,
    FromAuthor,
    Hashtag,
    Lang,
    Mention,
    Not,
    Or,
    Phrase,
    Query,
    Unspaced,
    Word,
    alternatives,
    describe,
)

__all__ = [
    "QUERY_LANGUAGE_HELP", "And", "FromAuthor", "Hashtag", "IndexStats", "Lang", "MatchTarget",
    "Mention", "Not", "Or", "Phrase", "Query", "QueryInvalid", "RuleIndex", "Unspaced", "Word",
    "alternatives", "describe", "normalize", "parse", "target_of",
]
