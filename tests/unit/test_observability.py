from __future__ import annotations

from wa_conversions.observability import mask_email, mask_phone


def test_phone_is_masked_but_still_tellable_apart() -> None:
    assert mask_phone("16505551234") == "16*******34"
    assert mask_phone("+5511999990000") == "55*********00"
    assert mask_phone("123") == "***"
    assert mask_phone(None) is None


def test_email_keeps_only_its_first_letters_and_domain() -> None:
    assert mask_email("jon.snow@example.com") == "jo***@example.com"
    assert mask_email(None) is None
