"""schemathesis hooks for session-gateway's /openapi.json (load with SCHEMATHESIS_HOOKS=<this file>).

1. Custom string formats. The document marks with a `format` the rules JSON Schema cannot state:
   a recovery phrase's checksum word, and lengths counted in UTF-8 bytes. Without these
   strategies schemathesis would draw values of the right shape (the `pattern`) that break
   the rule, and the gateway rightly refuses them; with them, it draws valid values.
2. Test data: `POST /v1/accounts/{session_id}/communities` makes the gateway reach the community
   server its join URL names. Drawn URLs name hosts that do not exist, which the gateway answers
   with a documented 503 (the server cannot be reached). When SCHEMATHESIS_COMMUNITY_JOIN_URL
   is set (the devnet community's `join_url` from `serve --devnet`'s ready line), a well-formed
   URL is replaced by that one, so the join itself is tested; malformed ones are left alone.
"""

import os
import pathlib
import re
import zlib

import schemathesis
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).resolve().parent.parent

# --- session-recovery-phrase (src/protocol/phrase.rs) ------------------------------------------

WORDS = (ROOT / "src" / "protocol" / "wordlists" / "english.txt").read_text().splitlines()
assert len(WORDS) == 1626, "Session's English word list has 1626 words"


def phrase_of(entropy: bytes) -> str:
    """The 13-word phrase of 16 bytes, as `RecoveryPhrase::from_entropy` makes it."""
    n = len(WORDS)
    indices = []
    for i in range(0, 16, 4):
        x = int.from_bytes(entropy[i : i + 4], "little")
        w1 = x % n
        w2 = (x // n + w1) % n
        w3 = (x // n // n + w2) % n
        indices += [w1, w2, w3]
    checksum = zlib.crc32("".join(WORDS[i][:3] for i in indices).encode())
    indices.append(indices[checksum % len(indices)])
    return " ".join(WORDS[i] for i in indices)


schemathesis.openapi.format(
    "session-recovery-phrase", st.binary(min_size=16, max_size=16).map(phrase_of)
)

# --- utf8-max-N-bytes (group names and descriptions, src/chat/groups) -------------------------

# Rust's char::is_whitespace (Unicode White_Space).
WHITE_SPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)
}


def utf8_text(max_bytes: int, *, exclude: str, exclude_categories, min_size: int, blank_ok: bool):
    text = st.text(
        alphabet=st.characters(exclude_characters=exclude, exclude_categories=exclude_categories),
        min_size=min_size,
        max_size=max_bytes,
    )
    return text.filter(
        lambda s: len(s.encode()) <= max_bytes and (blank_ok or any(c not in WHITE_SPACE for c in s))
    )


# A group name: not blank, no control characters, at most 100 bytes.
schemathesis.openapi.format(
    "utf8-max-100-bytes",
    utf8_text(100, exclude="", exclude_categories=("Cc", "Cs"), min_size=1, blank_ok=False),
)
# A group description: no NUL, at most 2000 bytes.
schemathesis.openapi.format(
    "utf8-max-2000-bytes",
    utf8_text(2000, exclude="\x00", exclude_categories=("Cs",), min_size=0, blank_ok=True),
)

# --- a reachable community for joins -----------------------------------------------------------

JOIN_URL = os.environ.get("SCHEMATHESIS_COMMUNITY_JOIN_URL")
JOIN_OPERATION = "POST /v1/accounts/{session_id}/communities"
_join_pattern = None


def _well_formed_join_url(case, url) -> bool:
    global _join_pattern
    if _join_pattern is None:
        schema = case.operation.schema.raw_schema["components"]["schemas"]["JoinUrl"]
        _join_pattern = re.compile(schema["pattern"])
    return isinstance(url, str) and _join_pattern.fullmatch(url) is not None


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if not JOIN_URL or case.operation.label != JOIN_OPERATION:
        return
    body = case.body
    if isinstance(body, dict) and _well_formed_join_url(case, body.get("url")):
        case.body = {**body, "url": JOIN_URL}
