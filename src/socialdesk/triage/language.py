"""The language of a post, guessed locally when the network gives none (py3langid).

py3langid ships its model in the package: nothing is downloaded. Loading it takes about a
second, so it is loaded once, on the first post that needs it; a guess then costs
~50-100 µs for a typical post (ingest calls it only for posts without a language).
"""

from __future__ import annotations

import functools
import re
import unicodedata

_MIN_LETTERS = 12  # shorter texts ("ok", "lol 😂") are guessed at random
_SURE_AT = 0.5  # py3langid's normalised probability under which the guess is dropped
_NOISE_RE = re.compile(r"https?://\S+|www\.\S+|(?<!\w)[@#][\w.]+|&\w+;")
_CACHED_TEXTS = 4096


def detect_language(text: str) -> str | None:
    """ISO 639-1 code by py3langid (its model ships with it), or None when the text is too
    short or the guess is unsure. Mentions, links, hashtags stripped first."""
    plain = _NOISE_RE.sub(" ", unicodedata.normalize("NFC", text))
    if sum(1 for char in plain if char.isalpha()) < _MIN_LETTERS:
        return None
    return _guess(" ".join(plain.split()))


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _guess(plain: str) -> str | None:
    code, probability = _identifier().classify(plain)
    if probability < _SURE_AT or len(code) != 2:
        return None
    return code


# The model is read-only data shipped with the package (like VADER's lexicon): one copy per
# process, loaded on first use, so importing this module stays cheap.
@functools.cache
def _identifier():  # -> py3langid.langid.LanguageIdentifier
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
