"""JSON text for the database's JSON columns (the engine's serializer, and store.bulk's).

orjson writes a page of raw network payloads about four times faster than the standard
library. It refuses what JSON cannot hold exactly (integers past 64 bits, keys that are not
strings) and lone surrogates: those go to the standard library, which writes them as before.
Strings holding NUL or a lone surrogate are cleaned first (store.storable): PostgreSQL reads
neither back out of JSON (->>, jsonb), so the same payload is written on both databases.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from socialdesk.store.storable import json_value


def dumps(value: Any) -> str:
    try:
        written = orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(json_value(value))
    # orjson writes NUL as this escape: one search of the text, the payload is walked only when found.
    return orjson.dumps(json_value(value)).decode() if "\\u0000" in written else written
