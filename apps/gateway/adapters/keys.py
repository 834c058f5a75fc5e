from __future__ import annotations

import hashlib
import hmac

from apps.gateway.pipeline.snapshot import KeyEntry


class PepperKeyVerifier:
    """HMAC-SHA256 of the presented key under the key's pepper, compared in constant time
    (the same digest apps.core.tokens stores; peppers parsed once, not per request)."""

    def __init__(self, peppers: list[str]) -> None:
        self._peppers = {pid: secret.encode() for pid, _, secret in (p.partition(":") for p in peppers)}

    def verify(self, plaintext: str, entry: KeyEntry) -> bool:
        pepper = self._peppers.get(entry.pepper_id)
        if pepper is None:
            return False
        digest = hmac.new(pepper, plaintext.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(digest, entry.digest)
