"""The ports hold their implementations to every method: a fake or an adapter that lacks one cannot be made."""
from __future__ import annotations

import inspect

import pytest

from shared.adapters.graph.client import GraphClient
from shared.adapters.graph.credentials import MsalTokenProvider
from shared.adapters.table.repository import TableMeetingRepository
from shared.ports import GraphPort, MeetingRepository, TenantResolver, TokenProvider
from shared.usecases.tenants import TenantDirectory
from tests.fake_graph import FakeGraph
from tests.fakes import InMemoryMeetingRepository, StaticTenants, StaticToken

IMPLEMENTATIONS = [(GraphPort, GraphClient), (GraphPort, FakeGraph), (MeetingRepository, TableMeetingRepository),
                   (MeetingRepository, InMemoryMeetingRepository), (TokenProvider, MsalTokenProvider),
                   (TokenProvider, StaticToken), (TenantResolver, StaticTenants),
                   (TenantResolver, TenantDirectory)]
FAKES = [(GraphPort, FakeGraph), (MeetingRepository, InMemoryMeetingRepository), (TokenProvider, StaticToken),
         (TenantResolver, StaticTenants)]


@pytest.mark.parametrize("port, implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_every_adapter_and_fake_names_its_port_and_implements_all_of_it(port, implementation):
    assert port in implementation.__mro__
    assert not inspect.isabstract(implementation), implementation.__abstractmethods__


def _forgetting(port: type, fake: type) -> list[tuple[type, str]]:
    return [(fake, name) for name in sorted(port.__abstractmethods__)]


@pytest.mark.parametrize("fake, forgotten", [case for port, fake in FAKES for case in _forgetting(port, fake)],
                         ids=lambda value: getattr(value, "__name__", value))
def test_a_fake_that_forgets_a_method_fails_when_made_not_when_called(fake, forgotten):
    members = {name: value for name, value in vars(fake).items() if name != forgotten}
    forgetful = type(f"Forgetful{fake.__name__}", fake.__bases__, members)
    with pytest.raises(TypeError, match=forgotten):
        forgetful()


def test_the_graph_port_is_the_meetings_the_calendar_and_the_artifacts_port():
    assert {"create_or_get", "create", "update", "delete", "meeting_by_join_url", "create_event", "find_event",
            "update_event", "cancel_event", "attendance_reports", "attendance_records", "transcripts",
            "transcript_content"} == GraphPort.__abstractmethods__
