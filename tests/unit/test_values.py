"""The values every layer shares: one organizer spelling, where Graph names the organizer's object id."""
from __future__ import annotations

from shared.domain.identifiers import normalize_organizer, organizer_object_id


def test_organizer_guids_and_upns_have_one_spelling():
    assert normalize_organizer("0B7E4A2C-1D3F-4E5A-8B9C-0D1E2F3A4B5C") == "0b7e4a2c-1d3f-4e5a-8b9c-0d1e2f3a4b5c"
    assert normalize_organizer(" Ada.Lovelace@Contoso.COM ") == "ada.lovelace@contoso.com"


def test_the_organizer_object_id_is_read_from_graphs_participants_and_normalized():
    meeting = {"participants": {"organizer": {"identity": {"user": {"id": "0B7E4A2C-1D3F-4E5A-8B9C-0D1E2F3A4B5C"}}}}}
    assert organizer_object_id(meeting) == "0b7e4a2c-1d3f-4e5a-8b9c-0d1e2f3a4b5c"
    assert organizer_object_id({"participants": {"organizer": {"upn": "a@b.example"}}}) is None
    assert organizer_object_id({"participants": "not an object"}) is None
    assert organizer_object_id(None) is None
