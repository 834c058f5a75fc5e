from __future__ import annotations

import pytest

from apps.gateway.pipeline.masking import mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("write to jane.doe+work@example.co.uk today", "write to [EMAIL] today"),
        ("card 4111 1111 1111 1111 exp 12/29", "card [CARD] exp 12/29"),
        ("card 4111-1111-1111-1112 fails luhn", "card 4111-1111-1111-1112 fails luhn"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please"),
        ("call +49 30 1234 5678 or (030) 1234-5678", "call [PHONE] or [PHONE]"),
        ("key sk-proj-abcdefghijklmnop1234 leaked", "key [SECRET] leaked"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz123", "Authorization: Bearer [SECRET]"),
        ("from 192.168.10.24 at 12:30", "from [IP] at 12:30"),
        ("order 12345 of 2026-11-27 costs 19.99", "order 12345 of 2026-11-27 costs 19.99"),
    ],
)
def test_personal_data_and_secrets_are_replaced_by_their_kind(text, masked):
    assert mask_text(text)[0] == masked


def test_the_count_says_how_many_were_masked():
    assert mask_text("a@b.io and c@d.io, 4111111111111111")[1] == 3
