"""Table keys from arbitrary strings: valid for the Table service, injective, readable where short."""
from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import example, given, settings, strategies as st

from shared.adapters.table import keys

# Any text the Table service could be handed (no lone surrogates), biased towards the characters that matter.
_interesting = st.sampled_from(list("/\\#?%|'\"% \t\n\x00\x1f\x7f\x80\x9f\xa0é€😀") + ["%%", "%2F", "%25"])
texts = st.lists(st.one_of(st.characters(exclude_categories=("Cs",)), _interesting), max_size=600).map("".join)
_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def utf16_length(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


@settings(max_examples=500)
@given(texts)
@example("")
@example("a" * 400)
@example("a" * 401)
@example("/" * 133)
@example("/" * 134)
@example("😀" * 200)
@example("😀" * 201)
def test_an_encoded_part_never_contains_a_forbidden_character_or_the_separator(value):
    encoded = keys.encode_key_part(value)
    assert not _FORBIDDEN.search(encoded)
    assert keys.SEPARATOR not in encoded
    assert utf16_length(encoded) <= keys.MAX_PART_LENGTH + 2
    assert len(encoded) <= keys.MAX_PART_LENGTH + 2


@settings(max_examples=500)
@given(texts, texts)
@example("a/b", "a%2Fb")
@example("%", "%25")
@example("x" * 500, "%%" + hashlib.sha256(b"x" * 500).hexdigest())
def test_distinct_strings_get_distinct_parts(first, second):
    if first != second:
        assert keys.encode_key_part(first) != keys.encode_key_part(second)


@settings(max_examples=500)
@given(texts)
def test_a_short_part_decodes_back_to_its_string_and_a_long_one_is_hashed(value):
    encoded = keys.encode_key_part(value)
    if encoded.startswith(keys.HASH_PREFIX):
        assert encoded == "%%" + hashlib.sha256(value.encode("utf-8")).hexdigest()
        with pytest.raises(ValueError):
            keys.decode_key_part(encoded)
    else:
        assert "%%" not in encoded
        assert keys.decode_key_part(encoded) == value


@given(texts)
def test_an_escaped_part_never_looks_like_a_hashed_one(value):
    escaped = "".join(keys._escape(c) if c in keys._ESCAPED else c for c in value)  # the unhashed form, any length
    assert "%%" not in escaped


def test_forbidden_characters_percent_and_the_separator_are_escaped_as_utf8_bytes():
    assert keys.encode_key_part("a/b\\c#d?e%f|g") == "a%2Fb%5Cc%23d%3Fe%25f%7Cg"
    assert keys.encode_key_part("\x00\x1f\x7f\x85") == "%00%1F%7F%C2%85"


def test_other_characters_including_non_ascii_are_kept_as_they_are():
    assert keys.encode_key_part("Réunion 😀 'q' a-b_c.d ~!") == "Réunion 😀 'q' a-b_c.d ~!"


def test_the_length_limit_counts_utf16_code_units():
    assert keys.encode_key_part("😀" * 125) == "😀" * 125  # 250 code units
    assert keys.encode_key_part("😀" * 126).startswith("%%")  # 252 code units


def test_a_lone_surrogate_is_rejected():
    with pytest.raises(ValueError):
        keys.encode_key_part("a\ud800b")


@pytest.mark.parametrize("part", ["%2", "%zz", "a%", "%%abc"])
def test_a_malformed_or_hashed_part_does_not_decode(part):
    with pytest.raises(ValueError):
        keys.decode_key_part(part)


def test_a_meeting_row_key_joins_escaped_parts_under_the_tenants_partition():
    assert keys.partition_key("contoso.com") == "t|contoso.com"
    assert keys.meeting_row_key("a|b@contoso.com", "order/42?x") == "m|a%7Cb@contoso.com|order%2F42%3Fx"


def test_organizer_and_external_id_cannot_be_confused_across_the_separator():
    assert keys.meeting_row_key("a|b", "c") != keys.meeting_row_key("a", "b|c")


def test_an_organizers_rows_are_one_range_that_excludes_every_other_organizer():
    first, after = keys.organizer_row_range("kim@contoso.com")
    assert first <= keys.meeting_row_key("kim@contoso.com", "") < after
    assert first <= keys.meeting_row_key("kim@contoso.com", "~~~ last") < after
    for other in ("kim@contoso.co", "kim@contoso.com2", "kim@contoso.com|x", "kin@contoso.com"):
        assert not first <= keys.meeting_row_key(other, "order-1") < after, other


def test_rows_of_one_tenant_do_not_collide_by_kind():
    rows = {keys.meeting_row_key("kim@contoso.com", "x"), keys.alias_row_key("kim@contoso.com"),
            keys.quota_row_key("kim@contoso.com", "2026-12"), keys.join_url_row_key("https://teams.example/l/x"),
            keys.join_id_row_key("123 456")}
    assert len({row.split("|")[0] for row in rows}) == 5


def test_alias_keys_lowercase_the_upn():
    assert keys.alias_row_key("Ada@Contoso.com") == keys.alias_row_key("ada@contoso.com") == "a|ada@contoso.com"


@pytest.mark.parametrize("spelling", [
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7b%22Tid%22%3a%22t%22%7d",
    "https://teams.microsoft.com/l/meetup-join/19%3Ameeting_abc%40thread.v2/0?context=%7B%22Tid%22%3A%22t%22%7D",
    "HTTPS://Teams.Microsoft.com/l/meetup-join/19:meeting_abc@thread.v2/0?context={\"Tid\":\"t\"}",
    "https://teams.microsoft.com/l/meetup-join/19%253ameeting_abc%2540thread.v2/0?context=%257b%2522Tid%2522%253a%2522t%2522%257d",
])
def test_one_join_url_in_any_of_its_encodings_has_one_index_key(spelling):
    canonical = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7b%22Tid%22%3a%22t%22%7d"
    assert keys.join_url_row_key(spelling) == keys.join_url_row_key(canonical)
