"""How the portal knows a browser may see and act on an appeal, with no account and no
server-side session.

- **The citizen's proof** is what the tracking API asks for: the tracking code and the last
  four digits of the phone (`tickets.queries.find_for_citizen`). Once typed (or right after
  submitting), the pair is kept in an HttpOnly, SameSite=Lax cookie and checked again
  against the database on every request, so the cookie needs no signature: forging one is
  the same as guessing at the form. Nothing else personal is in it.
- **A follower** (someone who found the appeal in the "already reported" box) gets a link
  carrying a follow token: a digest of what only the server knows about the ticket (its
  dedupe hash, itself a digest of the requester and the full text). It opens a public view
  without the reply or attachments, and cannot act. Without a proof or a token, a tracking
  page answers 404 whether the code exists or not.
- **Cross-site forms (CSRF).** Every change is a POST. The proof cookie is SameSite=Lax, so
  a browser never sends it with another site's POST; and each POST is refused when its
  Origin (or, lacking that, its Referer) names another host than the one asked. A request
  with neither header (some privacy settings strip both) is let through on SameSite alone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import urlsplit

from fastapi import Request
from starlette.responses import Response

from minyi.intake.domain import normalise_tracking_code
from minyi.tickets.models import Ticket

PROOF_COOKIE = "minyi_track"
PROOF_MAX_AGE = 30 * 24 * 3600  # a month: long enough to come back for the reply and rate
MAX_PROOFS = 5  # a family's few appeals; the oldest falls off
_PAIR = re.compile(r"^([A-Z0-9]{4,32})-(\d{4})?$")


def proofs(request: Request) -> dict[str, str]:
    """The (code, last four digits) pairs this browser has proven, newest first. An empty
    last4 marks an appeal filed without a phone: only its confirmation page may be shown."""
    found: dict[str, str] = {}
    for part in request.cookies.get(PROOF_COOKIE, "").split("."):
        match = _PAIR.match(part)
        if match is not None and match.group(1) not in found:
            found[match.group(1)] = match.group(2) or ""
    return found


def remember(request: Request, response: Response, code: str, last4: str) -> None:
    """Add the pair to the browser's proofs (first), keeping the newest few."""
    pairs = {code: last4, **{k: v for k, v in proofs(request).items() if k != code}}
    value = ".".join(f"{k}-{v}" for k, v in list(pairs.items())[:MAX_PROOFS])
    response.set_cookie(
        PROOF_COOKIE,
        value,
        max_age=PROOF_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clean_code(raw: str) -> str:
    return normalise_tracking_code(raw)[:32]


def clean_last4(raw: str) -> str | None:
    digits = raw.strip()
    return digits if len(digits) == 4 and digits.isascii() and digits.isdigit() else None


def follow_token(ticket: Ticket) -> str:
    """A token only the server can make for this ticket (see the module's docstring)."""
    material = f"minyi-follow\x1f{ticket.id}\x1f{ticket.tracking_code}\x1f{ticket.dedupe_hash}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:20]


def follows(ticket: Ticket, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(follow_token(ticket), token or "")


def same_origin(request: Request) -> bool:
    """Whether a POST comes from our own pages (see the module's docstring)."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None:
        # "null": a sandboxed frame or a redirect across sites; never one of our pages.
        return origin != "null" and urlsplit(origin).netloc == host
    referer = request.headers.get("referer")
    if referer is not None:
        return urlsplit(referer).netloc == host
    return True
