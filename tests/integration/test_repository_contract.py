"""One contract for the meeting repository, run against the in-memory fake and against Table Storage (Azurite)."""
from __future__ import annotations

import dataclasses
import socket
import uuid
from urllib.parse import quote, unquote
from dataclasses import replace as with_changes
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from localdev.azurite import ACCOUNT_KEY
from shared.adapters.table import keys
from shared.adapters import storage
from shared.adapters.network import Network
from shared.adapters.transport import Urllib3Transport
from shared.domain.errors import MeetingTooLarge, StorageUnavailable
from shared.domain.records import MeetingKey, MeetingRecord, RecordExists, RecordModified, Status
from shared.ports import QUOTA_SHARDS, Alias, AliasChanged, DueAttendance, DueChanged, QuotaChanged, QuotaCount
from shared.adapters.table.repository import TableMeetingRepository
from shared.domain.identifiers import normalize_organizer
from shared.config.settings import StorageSettings
from tests.fakes import InMemoryMeetingRepository

TENANT = "contoso.onmicrosoft.com"
ORGANIZER = "Ada.Lovelace@Contoso.com"
CEST = timezone(timedelta(hours=2))
APP_NETWORK = Network()  # the app's clients: the transport over urllib3, no proxy, the default trust


def meeting_json(external_id: str = "order-1", *, padding: str = "") -> dict:
    """An onlineMeeting as Graph returns it (trimmed)."""
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('oid')/onlineMeetings/$entity",
        "id": "MSpkYzE3Njc0Yy04MWQ5LTRhZGItYmZiMi04ZjZhNDQyMmZkYmYqMCoqMTk6bWVldGluZw==",
        "creationDateTime": "2024-05-01T08:00:00.1234567Z",
        "startDateTime": "2024-05-01T10:00:00Z",
        "endDateTime": "2024-05-01T11:00:00Z",
        "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7b%7d",
        "joinMeetingIdSettings": {"joinMeetingId": "123456789012", "isPasscodeRequired": True, "passcode": "s3cr3t"},
        "subject": "Réunion d'équipe 😀",
        "externalId": external_id,
        "participants": {
            "organizer": {"upn": "ada.lovelace@contoso.com", "identity": {"user": {"id": "6e2b4c1a-0000-4000-8000-000000000001"}}},
            "attendees": [],
        },
        "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
        "padding": padding,
    }


def make_record(external_id: str = "order-1", *, tenant: str = TENANT, organizer: str = ORGANIZER, **changes) -> MeetingRecord:
    now = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=CEST)
    record = MeetingRecord(
        key=MeetingKey(tenant, normalize_organizer(organizer), external_id),
        status=Status.CREATED,
        fingerprint="f" * 64,
        organizer_id=organizer,
        correlation_id="corr-1",
        source="http",
        meeting=meeting_json(external_id),
        last_error=None,
        attempts=1,
        first_attempt_at=now - timedelta(seconds=3),
        created_at=now,
        updated_at=now,
    )
    return with_changes(record, **changes)


def unique_table_name() -> str:
    return "t" + uuid.uuid4().hex[:24]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["memory", "table"])
def repository(request):
    if request.param == "memory":
        repo = InMemoryMeetingRepository()
        repo.ensure_ready()
        yield repo
        return
    azurite = request.getfixturevalue("azurite")
    client = storage.table_client(StorageSettings(connection_string=azurite.connection_string), unique_table_name(),
                                  network=APP_NETWORK)
    repo = TableMeetingRepository(client)
    repo.ensure_ready()
    yield repo
    client.delete_table()


@pytest.fixture
def table_client(azurite):
    client = storage.table_client(StorageSettings(connection_string=azurite.connection_string), unique_table_name(),
                                  network=APP_NETWORK)
    yield client
    client.delete_table()


def test_an_inserted_record_reads_back_equal_with_utc_datetimes(repository):
    record = make_record(last_error={"code": "graph_throttled", "message": "slow down", "retryable": True, "status": 429})
    inserted = repository.insert(record)
    read = repository.get(record.key)

    assert inserted.etag and read.etag == inserted.etag
    assert with_changes(read, etag=None) == record
    for stamp in (read.created_at, read.updated_at, read.first_attempt_at):
        assert stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)
    assert read.created_at == datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=timezone.utc)
    assert read.meeting == meeting_json("order-1")


def test_a_record_without_meeting_or_first_attempt_reads_back_with_none(repository):
    record = make_record(status=Status.PENDING, meeting=None, first_attempt_at=None, correlation_id=None, source=None, attempts=0)
    repository.insert(record)
    assert with_changes(repository.get(record.key), etag=None) == record


def test_the_callback_url_and_its_gone_mark_read_back_and_change_with_a_replace(repository):
    url = "https://hooks.example.com/results?token=a%2Fb&x=\u00e9"
    inserted = repository.insert(make_record(callback_url=url))
    assert repository.get(inserted.key).callback_url == url and repository.get(inserted.key).callback_gone is None
    repository.replace(with_changes(inserted, callback_gone=url))
    read = repository.get(inserted.key)
    assert (read.callback_url, read.callback_gone, read.callback_target) == (url, url, None)


def test_a_missing_record_reads_as_none(repository):
    assert repository.get(make_record().key) is None


def test_the_meeting_fields_are_derived_from_the_stored_json(repository):
    repository.insert(make_record())
    read = repository.get(make_record().key)
    assert read.meeting_id.startswith("MSpkYzE3")
    assert read.join_web_url.startswith("https://teams.microsoft.com/l/meetup-join/")
    assert read.join_meeting_id == "123456789012"
    assert read.subject == "Réunion d'équipe 😀"
    assert (read.start_date_time, read.end_date_time) == ("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z")
    assert read.organizer_object_id == "6e2b4c1a-0000-4000-8000-000000000001"


def test_inserting_twice_raises_record_exists_carrying_the_first_row(repository):
    first = repository.insert(make_record(fingerprint="1" * 64))
    with pytest.raises(RecordExists) as raised:
        repository.insert(make_record(fingerprint="2" * 64, status=Status.FAILED))
    assert raised.value.existing == first
    assert repository.get(first.key) == first


def test_a_lone_entity_inserted_twice_raises_record_exists_and_replaced_stale_raises_record_modified(repository):
    # A row without a meeting has no index rows: its writes change one entity (sent without a transaction).
    first = repository.insert(make_record(status=Status.PENDING, meeting=None, fingerprint="1" * 64))
    with pytest.raises(RecordExists) as raised:
        repository.insert(make_record(status=Status.PENDING, meeting=None, fingerprint="2" * 64))
    assert raised.value.existing == first
    winner = repository.replace(with_changes(first, attempts=2))
    with pytest.raises(RecordModified):
        repository.replace(with_changes(first, attempts=3))
    assert repository.get(first.key) == winner


def test_replace_with_the_current_etag_stores_the_change_under_a_new_etag(repository):
    first = repository.insert(make_record(status=Status.PENDING))
    second = repository.replace(with_changes(first, status=Status.CREATED, attempts=2))
    assert second.etag != first.etag
    assert repository.get(first.key) == second


def test_replace_with_a_stale_etag_raises_record_modified_and_keeps_the_winner(repository):
    first = repository.insert(make_record(status=Status.PENDING))
    winner = repository.replace(with_changes(first, status=Status.CREATED, fingerprint="w" * 64))
    with pytest.raises(RecordModified):
        repository.replace(with_changes(first, status=Status.FAILED, fingerprint="l" * 64))
    assert repository.get(first.key) == winner


def test_replace_of_a_moved_row_raises_record_modified(repository):
    first = repository.insert(make_record(organizer="kim@contoso.com", status=Status.PENDING))
    repository.learn_alias(Alias(TENANT, "kim@contoso.com", OID), [(first, None)])
    with pytest.raises(RecordModified):
        repository.replace(with_changes(first, attempts=5))
    assert repository.get(first.key) is None


def test_replace_without_an_etag_is_refused(repository):
    repository.insert(make_record())
    with pytest.raises(ValueError):
        repository.replace(make_record())


AWKWARD_EXTERNAL_IDS = [
    "a/b", "a\\b", "a#b", "a?b", "a%2Fb", "a%b", "a|b", "a||b", "it's", 'say "hi"', "tab\there", "nul\x00byte",
    "ctl\x01\x1f\x7f\x85\x9f", "emoji 😀🎉 ünïcödé", "trailing space ", "x" * 1000, "x" * 999 + "y", "/" * 300, "%%abc",
]


def test_awkward_external_ids_are_stored_and_read_back_under_distinct_keys(repository):
    for index, external_id in enumerate(AWKWARD_EXTERNAL_IDS):
        repository.insert(make_record(external_id, fingerprint=f"{index:064d}"))
    for index, external_id in enumerate(AWKWARD_EXTERNAL_IDS):
        read = repository.get(make_record(external_id).key)
        assert read is not None, external_id
        assert read.key.external_id == external_id
        assert read.fingerprint == f"{index:064d}"
        assert read.meeting["externalId"] == external_id


def test_two_organizers_with_the_same_external_id_get_two_rows(repository):
    ada = repository.insert(make_record("shared-id", organizer="ada@contoso.com", fingerprint="a" * 64))
    bob = repository.insert(make_record("shared-id", organizer="bob@contoso.com", fingerprint="b" * 64))
    assert repository.get(ada.key).fingerprint == "a" * 64
    assert repository.get(bob.key).fingerprint == "b" * 64


def test_two_tenants_with_the_same_organizer_and_external_id_are_kept_apart(repository):
    repository.insert(make_record("shared-id", tenant="contoso.com", fingerprint="c" * 64))
    repository.insert(make_record("shared-id", tenant="fabrikam.com", fingerprint="d" * 64))
    assert repository.get(make_record("shared-id", tenant="contoso.com").key).fingerprint == "c" * 64
    assert repository.get(make_record("shared-id", tenant="fabrikam.com").key).fingerprint == "d" * 64


def test_a_200_kb_meeting_round_trips_and_shrinks_back_without_leftover_chunks(repository):
    big = meeting_json(padding="é😀<>&\"\\" * 8_000)  # about 200 KB of JSON once escaped
    first = repository.insert(make_record(meeting=big))
    assert repository.get(first.key).meeting == big

    small = meeting_json(padding="tiny")
    repository.replace(with_changes(first, meeting=small))
    assert repository.get(first.key).meeting == small


def test_a_meeting_too_large_for_one_entity_is_rejected(repository):
    with pytest.raises(MeetingTooLarge):
        repository.insert(make_record(meeting=meeting_json(padding="x" * 460_000)))
    assert repository.get(make_record().key) is None


OID = "6e2b4c1a-0000-4000-8000-000000000001"


def test_an_alias_is_written_with_its_record_and_read_back_whatever_the_upns_case(repository):
    assert repository.get_alias(TENANT, "ada@contoso.com") is None
    written = repository.commit(make_record(organizer=OID), insert=True,
                                alias=Alias(TENANT, "Ada@Contoso.com", OID))
    assert written.alias.etag and written.record.etag
    read = repository.get_alias(TENANT, "ADA@CONTOSO.COM")
    assert (read.object_id, read.etag) == (OID, written.alias.etag)
    assert repository.get_alias("fabrikam.com", "ada@contoso.com") is None


def test_a_record_and_its_alias_are_written_all_or_nothing(repository):
    repository.commit(make_record("order-1", organizer=OID), insert=True, alias=Alias(TENANT, "ada@contoso.com", OID))
    with pytest.raises(AliasChanged):  # inserting an alias that exists: the record is not written either
        repository.commit(make_record("order-2", organizer=OID), insert=True,
                          alias=Alias(TENANT, "ada@contoso.com", OID))
    assert repository.get(make_record("order-2", organizer=OID).key) is None
    stale = Alias(TENANT, "ada@contoso.com", OID, etag='W/"datetime\'2020-01-01T00%3A00%3A00Z\'"')
    with pytest.raises(AliasChanged):
        repository.commit(make_record("order-3", organizer=OID), insert=True, alias=stale)
    assert repository.get(make_record("order-3", organizer=OID).key) is None


def test_a_counter_written_with_its_record_counts_only_on_the_version_read(repository):
    empty = repository.get_quota(TENANT, OID, "2026-12")
    assert empty.used == 0 and [count.shard for count in empty.shards] == list(range(QUOTA_SHARDS))
    assert all(count.etag is None and count.used == 0 for count in empty.shards)
    first = repository.commit(make_record("order-1", organizer=OID), insert=True,
                              quota=dataclasses.replace(empty.shards[3], used=1)).quota
    assert repository.get_quota(TENANT, OID, "2026-12").shards[3] == first and first.used == 1
    with pytest.raises(QuotaChanged):  # counted from a stale view: neither the record nor the counter is written
        repository.commit(make_record("order-2", organizer=OID), insert=True,
                          quota=dataclasses.replace(empty.shards[3], used=1))
    assert repository.get(make_record("order-2", organizer=OID).key) is None
    second = repository.put_quota(dataclasses.replace(first, used=2))
    with pytest.raises(QuotaChanged):
        repository.put_quota(dataclasses.replace(first, used=3))
    assert repository.get_quota(TENANT, OID, "2026-12").used == 2 and second.etag != first.etag
    assert repository.get_quota(TENANT, OID, "2027-01").used == 0


def test_the_shards_of_a_counter_are_written_apart_and_read_together(repository):
    empty = repository.get_quota(TENANT, OID, "2026-12")
    repository.put_quota(dataclasses.replace(empty.shards[0], used=5))
    repository.commit(make_record("order-1", organizer=OID), insert=True,
                      quota=dataclasses.replace(empty.shards[QUOTA_SHARDS - 1], used=2))
    # Another shard's write does not make this one stale: concurrent creates in different shards both count.
    repository.commit(make_record("order-2", organizer=OID), insert=True,
                      quota=dataclasses.replace(empty.shards[7], used=1))
    counts = repository.get_quota(TENANT, OID, "2026-12")
    assert counts.used == 8 and [counts.shards[s].used for s in (0, 7, QUOTA_SHARDS - 1)] == [5, 1, 2]
    assert repository.get_quota(TENANT, OID, "2027-01").used == 0  # months and organizers stay apart
    assert repository.get_quota(TENANT, OID.replace("1", "2"), "2026-12").used == 0


def test_a_record_is_found_by_its_join_url_in_any_encoding_and_by_its_join_meeting_id(repository):
    stored = repository.insert(make_record("order-1"))
    url = meeting_json()["joinWebUrl"]
    for spelling in (url, url.replace("%3a", "%3A"), unquote(url), quote(url, safe="")):
        assert repository.record_by_join_url(TENANT, spelling) == stored
    assert repository.record_by_join_meeting_id(TENANT, "123456789012") == stored
    assert repository.record_by_join_meeting_id(TENANT, "123 456 789 012") == stored
    assert repository.record_by_join_url(TENANT, url.replace("abc", "xyz")) is None
    assert repository.record_by_join_meeting_id(TENANT, "999") is None
    assert repository.record_by_join_url("fabrikam.com", url) is None, "tenants are kept apart"


def test_an_index_row_follows_its_meeting_when_the_meeting_changes(repository):
    first = repository.insert(make_record("order-1"))
    other = {**meeting_json(), "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_new%40thread.v2/0",
             "joinMeetingIdSettings": {"joinMeetingId": "555000111222", "isPasscodeRequired": False}}
    changed = repository.replace(with_changes(first, meeting=other))
    assert repository.record_by_join_url(TENANT, other["joinWebUrl"]) == changed
    assert repository.record_by_join_meeting_id(TENANT, "555000111222") == changed
    assert repository.record_by_join_url(TENANT, meeting_json()["joinWebUrl"]) is None, "the old link finds nothing"


def test_learning_an_alias_moves_rows_keyed_by_the_upn_in_the_same_write(repository):
    upn_row = repository.insert(make_record("order-1", organizer="kim@contoso.com", status=Status.PENDING))
    stays = repository.insert(make_record("order-2", organizer="kim@contoso.com", status=Status.FAILED))
    existing = repository.insert(make_record("order-2", organizer=OID))
    placeholder = repository.commit(make_record("order-3", organizer="kim@contoso.com", status=Status.PENDING),
                                    insert=True, alias=Alias(TENANT, "kim@contoso.com", None)).alias
    third = repository.get(make_record("order-3", organizer="kim@contoso.com").key)
    moved = with_changes(upn_row, key=make_record("order-1", organizer=OID).key, etag=None)
    learned = repository.learn_alias(with_changes(placeholder, object_id=OID),
                                     [(upn_row, moved), (stays, None), (third, None)])
    assert repository.get_alias(TENANT, "kim@contoso.com") == learned and learned.object_id == OID
    assert repository.rows_of(TENANT, "kim@contoso.com") == []
    assert repository.get(moved.key).status == Status.PENDING
    assert repository.get(existing.key) == existing, "the object id's row stands"
    with pytest.raises(AliasChanged):  # written on the placeholder's version: it is gone now
        repository.learn_alias(with_changes(placeholder, object_id=OID), [])


def test_a_row_changed_since_it_was_read_stops_the_move_and_the_alias_with_it(repository):
    upn_row = repository.insert(make_record("order-1", organizer="kim@contoso.com", status=Status.PENDING))
    placeholder = repository.commit(make_record("order-9", organizer="kim@contoso.com", status=Status.PENDING),
                                    insert=True, alias=Alias(TENANT, "kim@contoso.com", None)).alias
    repository.replace(with_changes(upn_row, attempts=7))
    with pytest.raises(RecordModified):
        repository.learn_alias(with_changes(placeholder, object_id=OID), [(upn_row, None)])
    assert repository.get_alias(TENANT, "kim@contoso.com") == placeholder
    assert repository.get(upn_row.key).attempts == 7


def test_rows_of_lists_one_organizer_keys_records_and_nothing_else(repository):
    mine = [repository.insert(make_record(f"order-{i}", organizer="kim@contoso.com")) for i in range(3)]
    repository.insert(make_record("order-0", organizer="kim@contoso.co"))
    repository.insert(make_record("order-0", organizer="kim@contoso.com2"))
    repository.insert(make_record("order-0", organizer="kim@contoso.com", tenant="fabrikam.example"))
    found = repository.rows_of(TENANT, "kim@contoso.com")
    assert sorted(found, key=lambda r: r.key.external_id) == mine
    assert repository.rows_of(TENANT, "nobody@contoso.com") == []


def test_ensure_ready_can_run_again_and_the_repository_still_works(repository):
    repository.ensure_ready()
    repository.ensure_ready()
    repository.ping()
    assert repository.insert(make_record()).etag


# Attendance due after meetings end: found by due time, claimed and finished on the version read.

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def due_row(external_id: str = "order-1", *, minutes: int = 0, **changes) -> DueAttendance:
    key = MeetingKey(TENANT, "6e2b4c1a-0000-4000-8000-000000000001", external_id)
    due = DueAttendance(key=key, occurrence="", end=NOON - timedelta(minutes=10),
                        due_at=NOON + timedelta(minutes=minutes), correlation_id="corr-1")
    return with_changes(due, **changes)


def test_a_scheduled_row_is_due_from_its_time_on_and_reads_back_equal(repository):
    stored = repository.schedule_attendance(due_row("a/b?c#d", minutes=5, occurrence="2026-03-01"))
    assert stored is not None and stored.etag
    assert repository.due_attendance(NOON, 10) == []
    [found] = repository.due_attendance(NOON + timedelta(minutes=5), 10)
    assert found == stored
    assert (found.key.external_id, found.occurrence, found.end, found.attempts) == (
        "a/b?c#d", "2026-03-01", NOON - timedelta(minutes=10), 0)


def test_due_rows_come_longest_due_first_and_at_most_the_limit(repository):
    for name, minutes in (("late", -1), ("early", -30), ("later", 20), ("middle", -10)):
        repository.schedule_attendance(due_row(name, minutes=minutes))
    assert [d.key.external_id for d in repository.due_attendance(NOON, 10)] == ["early", "middle", "late"]
    assert [d.key.external_id for d in repository.due_attendance(NOON, 2)] == ["early", "middle"]


def test_scheduling_again_keeps_one_row_moved_to_the_new_time_with_its_state(repository):
    first = repository.schedule_attendance(due_row(minutes=-5))
    assert repository.schedule_attendance(due_row(minutes=-5)) == first
    assert first is not None
    claimed = repository.move_attendance(first, with_changes(first, attempts=2, lease_owner="c-1"))
    moved = repository.schedule_attendance(due_row(minutes=30, end=NOON + timedelta(minutes=20)))
    assert moved is not None and (moved.attempts, moved.lease_owner) == (2, "c-1")
    assert repository.due_attendance(NOON, 10) == []
    [found] = repository.due_attendance(NOON + timedelta(minutes=30), 10)
    assert found == moved and found.end == NOON + timedelta(minutes=20) and found.etag != claimed.etag


def test_of_two_claims_on_the_version_read_one_wins(repository):
    scheduled = repository.schedule_attendance(due_row(minutes=-1))
    [seen_by_a] = repository.due_attendance(NOON, 10)
    [seen_by_b] = repository.due_attendance(NOON, 10)
    claimed = repository.move_attendance(seen_by_a, with_changes(seen_by_a, due_at=NOON + timedelta(minutes=5),
                                                                 lease_owner="a", last_error={"code": "x"}))
    with pytest.raises(DueChanged):
        repository.move_attendance(seen_by_b, with_changes(seen_by_b, due_at=NOON + timedelta(minutes=5),
                                                           lease_owner="b"))
    assert scheduled is not None and repository.due_attendance(NOON, 10) == []
    [held] = repository.due_attendance(NOON + timedelta(minutes=5), 10)
    assert held == claimed and held.lease_owner == "a" and held.last_error == {"code": "x"}
    same_time = repository.move_attendance(held, with_changes(held, attempts=1))
    assert same_time.attempts == 1 and same_time.etag != held.etag
    with pytest.raises(DueChanged):
        repository.finish_attendance(held)  # the version it was read as is gone


def test_a_finished_row_is_gone_and_scheduling_it_again_does_nothing(repository):
    scheduled = repository.schedule_attendance(due_row(minutes=-1))
    assert scheduled is not None
    repository.finish_attendance(scheduled)
    assert repository.due_attendance(NOON + timedelta(days=9), 10) == []
    assert repository.schedule_attendance(due_row(minutes=60)) is None
    assert repository.due_attendance(NOON + timedelta(days=9), 10) == []
    with pytest.raises(DueChanged):
        repository.finish_attendance(scheduled)


def test_a_due_row_moves_only_in_time(repository):
    scheduled = repository.schedule_attendance(due_row(minutes=-1))
    assert scheduled is not None
    with pytest.raises(ValueError):
        repository.move_attendance(scheduled, due_row("another"))
    with pytest.raises(ValueError):
        repository.finish_attendance(with_changes(scheduled, etag=None))


def test_due_rows_sort_by_due_time_in_their_own_partition(table_client):
    from shared.adapters.table import due

    repo = TableMeetingRepository(table_client)
    repo.ensure_ready()
    repo.insert(make_record())
    for name, minutes in (("b", 3), ("a", -7)):
        repo.schedule_attendance(due_row(name, minutes=minutes))
    rows = list(table_client.query_entities("PartitionKey eq @p", parameters={"p": due.DUE_PARTITION}))
    keys_found = [row["RowKey"] for row in rows]
    assert [k[:2] for k in keys_found] == ["k|", "k|", "q|", "q|"]
    assert keys_found[2].startswith("q|2026-03-01T11:53:00.000000Z|") and rows[2]["ExternalId"] == "a"


# Fake only: the outage switch the service tests rely on.

def test_the_fake_raises_its_outage_from_every_call_while_set():
    repo = InMemoryMeetingRepository()
    repo.outage = StorageUnavailable("table down")
    calls = [
        repo.ensure_ready, repo.ping, lambda: repo.get(make_record().key), lambda: repo.insert(make_record()),
        lambda: repo.replace(make_record(etag="x")), lambda: repo.get_alias(TENANT, "a@b.c"),
        lambda: repo.learn_alias(Alias(TENANT, "a@b.c", "oid"), []), lambda: repo.rows_of(TENANT, "a@b.c"),
        lambda: repo.record_by_join_url(TENANT, "https://x"), lambda: repo.record_by_join_meeting_id(TENANT, "1"),
        lambda: repo.get_quota(TENANT, "oid", "2026-12"), lambda: repo.put_quota(QuotaCount(TENANT, "o", "m", 1)),
        lambda: repo.schedule_attendance(due_row()), lambda: repo.due_attendance(NOON, 10),
        lambda: repo.move_attendance(due_row(etag="x"), due_row()), lambda: repo.finish_attendance(due_row(etag="x")),
    ]
    for call in calls:
        with pytest.raises(StorageUnavailable):
            call()
    repo.outage = None
    assert repo.insert(make_record()).etag


# Azurite only: what the table itself holds, and how failures surface.

def test_the_entity_keeps_raw_values_and_graph_fields_as_columns(table_client):
    repo = TableMeetingRepository(table_client)
    repo.ensure_ready()
    record = make_record("order/1", attempts=3)
    repo.insert(record)
    entity = table_client.get_entity(keys.partition_key(TENANT),
                                     keys.meeting_row_key("ada.lovelace@contoso.com", "order/1"))
    assert (entity["TenantId"], entity["OrganizerKey"], entity["OrganizerId"], entity["ExternalId"]) == (
        TENANT, "ada.lovelace@contoso.com", ORGANIZER, "order/1")
    assert entity["Attempts"] == 3 and entity["Status"] == Status.CREATED
    assert entity["JoinMeetingId"] == "123456789012" and entity["Subject"] == "Réunion d'équipe 😀"
    assert entity["StartDateTime"] == "2024-05-01T10:00:00Z"
    assert entity["MeetingJsonParts"] == 1 and "MeetingJson1" not in entity


def test_a_large_meeting_is_split_over_numbered_columns_within_the_string_limit(table_client):
    repo = TableMeetingRepository(table_client)
    repo.ensure_ready()
    repo.insert(make_record(meeting=meeting_json(padding="😀" * 20_000)))  # 240,000 characters once escaped
    entity = table_client.get_entity(keys.partition_key(TENANT),
                                     keys.meeting_row_key("ada.lovelace@contoso.com", "order-1"))
    parts = entity["MeetingJsonParts"]
    assert parts == 9
    columns = ["MeetingJson"] + [f"MeetingJson{i}" for i in range(1, parts)]
    assert all(len(entity[c]) <= 30_000 and entity[c].isascii() for c in columns)


class _Counting:
    """A transport that notes each request (``$batch``, or the row key it writes) and can fail the request that
    writes a given row key before it is sent (a process that dies there)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail_on: str | None = None
        outer = self

        class Transport(Urllib3Transport):
            def send(self, request, **kwargs):
                outer.sent.append(outer.describe(request))
                if outer.fail_on is not None and outer.sent[-1].startswith(outer.fail_on):
                    from azure.core.exceptions import ServiceRequestError
                    raise ServiceRequestError("the process died before this request")
                return super().send(request, **kwargs)

        self.transport = Transport(ca_bundle=APP_NETWORK.ca_bundle)

    @staticmethod
    def describe(request) -> str:
        if request.url.split("?")[0].endswith("$batch"):
            return "$batch"
        body = request.content
        if body:
            import json
            return json.loads(body).get("RowKey", "table")
        return request.method


@pytest.fixture
def counted(azurite):
    """A Table Storage repository whose requests ``_Counting`` notes."""
    counting = _Counting()
    client = storage.table_client(StorageSettings(connection_string=azurite.connection_string), unique_table_name(),
                                  transport=counting.transport)
    repository = TableMeetingRepository(client)
    repository.ensure_ready()
    counting.sent.clear()
    yield counting, repository
    client.delete_table()


def test_a_record_alone_is_single_requests_after_its_index_rows_and_one_with_a_counter_one_transaction(counted):
    counting, repository = counted
    claimed = repository.insert(make_record(status=Status.PENDING, meeting=None))
    repository.replace(with_changes(claimed, attempts=2))
    assert [name[:2] for name in counting.sent] == ["m|", "m|"], "a lone entity is one request, no batch"
    counting.sent.clear()
    repository.insert(make_record("with-meeting"))
    assert [name[:2] for name in counting.sent] == ["j|", "n|", "m|"], "the index rows first, then the record"
    counting.sent.clear()
    count = QuotaCount(TENANT, normalize_organizer(ORGANIZER), "2024-05", used=1)
    repository.commit(make_record("with-counter"), insert=True, quota=count)
    assert counting.sent[2:] == ["$batch"], "a record with its counter: all or nothing, one transaction"
    assert [name[:2] for name in counting.sent[:2]] == ["j|", "n|"], "index rows are never in a transaction"


def test_each_index_row_is_in_a_partition_of_its_own_out_of_the_tenant_partition(counted):
    _, repository = counted
    table = repository._table
    repository.insert(make_record("order-1"))
    in_tenant = [e["RowKey"] for e in table.query_entities("PartitionKey eq @p",
                                                            parameters={"p": keys.partition_key(TENANT)})]
    assert in_tenant == [keys.meeting_row_key("ada.lovelace@contoso.com", "order-1")], "only the record"
    for index in (keys.join_url_row_key(meeting_json()["joinWebUrl"]), keys.join_id_row_key("123456789012")):
        partition = keys.index_partition_key(TENANT, index)
        assert [e["RowKey"] for e in table.query_entities("PartitionKey eq @p", parameters={"p": partition})] == [index]


def test_an_index_row_written_in_the_tenant_partition_by_an_earlier_version_still_finds_its_record(counted):
    _, repository = counted
    table = repository._table
    stored = repository.insert(make_record("order-1"))
    for index in (keys.join_url_row_key(meeting_json()["joinWebUrl"]), keys.join_id_row_key("123456789012")):
        row = dict(table.get_entity(keys.index_partition_key(TENANT, index), index))
        table.delete_entity(row["PartitionKey"], index)
        table.create_entity({**row, "PartitionKey": keys.partition_key(TENANT)})  # where it used to be written
    assert repository.record_by_join_url(TENANT, meeting_json()["joinWebUrl"]) == stored
    assert repository.record_by_join_meeting_id(TENANT, "123456789012") == stored


def test_a_move_that_dies_after_its_index_rows_leaves_every_lookup_finding_the_row_it_moves(counted):
    counting, repository = counted
    upn_row = repository.insert(make_record("order-1", organizer="kim@contoso.com"))
    placeholder = repository.commit(make_record("order-3", organizer="kim@contoso.com", status=Status.PENDING),
                                    insert=True, alias=Alias(TENANT, "kim@contoso.com", None)).alias
    moved = with_changes(upn_row, key=make_record("order-1", organizer=OID).key, etag=None)
    url = meeting_json()["joinWebUrl"]
    counting.fail_on = "$batch"
    with pytest.raises(StorageUnavailable):
        repository.learn_alias(with_changes(placeholder, object_id=OID), [(upn_row, moved)])
    assert repository.record_by_join_url(TENANT, url) == upn_row, "the index rows point at both keys until it is moved"
    assert repository.record_by_join_meeting_id(TENANT, "123456789012") == upn_row
    counting.fail_on = None
    repository.learn_alias(with_changes(placeholder, object_id=OID), [(upn_row, moved)])
    assert repository.get(upn_row.key) is None
    assert repository.record_by_join_url(TENANT, url).key == moved.key
    assert repository.record_by_join_meeting_id(TENANT, "123456789012").key == moved.key


def test_a_write_that_dies_after_the_index_rows_leaves_no_record_and_lookups_that_find_nothing(counted):
    counting, repository = counted
    record = make_record("order-1")
    url = meeting_json()["joinWebUrl"]
    counting.fail_on = "m|"
    with pytest.raises(StorageUnavailable):
        repository.insert(record)
    assert repository.get(record.key) is None
    assert repository.record_by_join_url(TENANT, url) is None, "an index row without its record finds nothing"
    assert repository.record_by_join_meeting_id(TENANT, "123456789012") is None
    counting.fail_on = None
    stored = repository.insert(record)  # the retry writes all of it
    assert repository.record_by_join_url(TENANT, url) == stored
    assert repository.record_by_join_meeting_id(TENANT, "123456789012") == stored


def test_a_missing_table_is_made_by_the_first_operation_that_finds_it_missing(table_client):
    repo = TableMeetingRepository(table_client)  # ensure_ready never ran: in Azure the template made the table
    with pytest.raises(ResourceNotFoundError, match="TableNotFound"):
        table_client.get_entity("p", "r")  # no table yet
    assert repo.get(make_record().key) is None
    assert repo.insert(make_record()).etag
    assert repo.get(make_record().key) is not None
    table_client.delete_table()  # deleted by hand while the app runs
    assert repo.record_by_join_meeting_id(TENANT, "1") is None
    assert repo.insert(make_record()).etag


def test_every_repository_operation_makes_a_missing_table():
    """The Azurite test above shows the mechanism on a few operations; none of the others may go without it."""
    from shared.ports import MeetingRepository

    operations = MeetingRepository.__abstractmethods__ - {"ensure_ready"}
    assert operations and not [name for name in operations
                               if not hasattr(getattr(TableMeetingRepository, name), "__wrapped__")]


def test_a_missing_table_that_cannot_be_made_raises_storage_unavailable(table_client, monkeypatch):
    repo = TableMeetingRepository(table_client)

    def refused(**_: object) -> None:
        raise HttpResponseError("AuthorizationPermissionMismatch")

    monkeypatch.setattr(table_client, "create_table", refused)
    with pytest.raises(StorageUnavailable, match="create table"):
        repo.ping()
    with pytest.raises(StorageUnavailable, match=table_client.table_name):
        repo.get(make_record().key)
    monkeypatch.undo()
    table_client.create_table()  # so the fixture's teardown has a table to delete


def test_a_dead_endpoint_raises_storage_unavailable_naming_the_operation_but_not_the_key(azurite):
    dead = azurite.connection_string.replace(azurite.endpoint("table"), f"http://127.0.0.1:{closed_port()}/devstoreaccount1")
    client = storage.table_client(StorageSettings(connection_string=dead), "meetings", retry_total=0,
                                  network=APP_NETWORK)
    repo = TableMeetingRepository(client)
    calls = {
        "create table": repo.ensure_ready,
        "health probe": repo.ping,
        "read": lambda: repo.get(make_record().key),
        "write ": lambda: repo.insert(make_record()),
        "write": lambda: repo.replace(make_record(etag='W/"1"')),
        "alias read": lambda: repo.get_alias(TENANT, "ada@contoso.com"),
        "alias write": lambda: repo.learn_alias(Alias(TENANT, "ada@contoso.com", "oid"), []),
        "query": lambda: repo.rows_of(TENANT, "ada@contoso.com"),
        "index read": lambda: repo.record_by_join_meeting_id(TENANT, "1"),
        "counter read": lambda: repo.get_quota(TENANT, "oid", "2026-12"),
        "counter write": lambda: repo.put_quota(QuotaCount(TENANT, "oid", "2026-12", 1)),
        "due read": lambda: repo.schedule_attendance(due_row()),
        "due query": lambda: repo.due_attendance(NOON, 10),
    }
    for operation, call in calls.items():
        with pytest.raises(StorageUnavailable) as raised:
            call()
        message = str(raised.value)
        assert operation in message and "'meetings'" in message
        assert ACCOUNT_KEY not in message and ACCOUNT_KEY[:20] not in message
        assert raised.value.retryable and raised.value.status == 503
