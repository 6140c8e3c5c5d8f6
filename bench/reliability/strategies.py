"""Hypothesis strategies of ``bench.reliability``'s fuzzing: hostile POST bodies and headers, queue message texts and
GET targets. Each example carries ``what``, a short printable description for the ledger."""
from __future__ import annotations

import base64
import json
from typing import Any, Callable
from urllib.parse import quote

from hypothesis import strategies as st

from localdev.emulator import ALICE_ID, ALICE_UPN, BOB_ID, BOB_UPN, DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID

from .rig import ERIN_UPN, FABRIKAM_DOMAIN, FABRIKAM_ID

LIMIT = 64 * 1024
ORGANIZERS = [ALICE_UPN, ALICE_ID, ALICE_ID.upper(), BOB_UPN, BOB_ID, "Alice@Contoso.Example", ERIN_UPN,
              "carol@contoso.example", "nobody@contoso.example", "dave@outside.example"]
LOOK_ALIKES = [
    "\u212aelvin@contoso.example",         # KELVIN SIGN, lower() gives a plain k
    "\u0430lice@contoso.example",           # Cyrillic a
    "alice@contoso.exampl\u0435",           # Cyrillic e in the domain
    "alice\uff20contoso.example",           # FULLWIDTH COMMERCIAL AT
    "alice@con\u200btoso.example",          # ZERO WIDTH SPACE
    "\u0130lice@contoso.example",           # I WITH DOT ABOVE, lower() gives two characters
    "\ufb01@contoso.example",               # LATIN SMALL LIGATURE FI
    "alice@contoso.example\n", " alice@contoso.example", "alice@contoso.example.", "alice@contoso.example\u0000",
    "alice%40contoso.example", "alice@@contoso.example", "@contoso.example", "alice@", "a" * 65 + "@contoso.example",
    "alice@" + "a" * 250 + ".example", "alice@xn--80ak6aa92e.example", ALICE_ID.replace("-", ""), ALICE_ID + " ",
    "{" + ALICE_ID + "}",
]
ODD_TIMES = [
    "9999-12-31T23:30:00Z", "9999-12-31T22:59:59Z", "9999-12-31T22:59:59.9999999Z", "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "2026-02-29T10:00:00Z",
    "2028-02-29T10:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T23:59:60Z",
    "2026-06-01T09:00:00+23:59", "2026-06-01T09:00:00-23:59", "2026-06-01T09:00:00+24:00",
    "2026-06-01T09:00:00." + "9" * 40 + "Z", "2026-06-01T09:00:00", "2026-06-01 09:00:00Z",
    "\uff12\uff10\uff12\uff16-06-01T09:00:00Z", "2026-06-01T09:00:00z", "+002026-06-01T09:00:00Z",
    "2026-06-01T09:00:00Z\n", "", " ", "2027-01-01T10:00:00+01:00", "2027-01-01T09:00:00.1234567Z",
]
TENANTS = [DEFAULT_TENANT_ID, DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_DOMAIN.upper(), FABRIKAM_ID, FABRIKAM_DOMAIN,
           "unknown.example", "00000000-0000-0000-0000-000000000000", "contoso.example.", "", "a" * 300,
           DEFAULT_TENANT_ID.upper() + "\n", "xn--bcher-kva.example", "localhost", "common", "organizations"]
NAMES = ["organizerid", "ORGANIZERID", "externalId ", "__proto__", "constructor", "", "participants.attendees",
         "subject\u0000", "$ref", "@odata.type", "tenantID", "isBroadcast", "joinMeetingIdSettings"]
CONTENT_TYPES = [None, "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                 "application/problem+json", "application/vnd.api+json", "text/plain", "application/xml", "text/json",
                 "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "",
                 "application/json; charset=latin-1", "*/*", "application/jsonx", "application/json, text/plain"]
PREFERS = [None, None, "respond-async", "respond-async, wait=5", "RESPOND-ASYNC", "return=minimal",
           "respond-async;x=1", "wait=1, respond-async", "respond-sync"]
RAW_BODIES = [b"", b"null", b"{", b"[]", b"{}", b'{"a":NaN}', b'{"a":Infinity}', b"[1,2", b'"\\ud800"',
              b'{"organizerId":"alice@contoso.example","organizerId":"bob@contoso.example","externalId":"dup"}',
              b"1" * 5000, b'{"externalId": 1' + b"0" * 5000 + b"}", "{}".encode("utf-16"), b"\xff\xfe",
              b"\xc0\x80", b'{"organizerId":"alice@contoso.example","externalId":"\xed\xa0\x80"}',
              b"\xef\xbb\xbf" + b'{"organizerId":"alice@contoso.example","externalId":"bom"}',
              b'{"organizerId":"alice@contoso.example","externalId":"x"} trailing', b"\x00" * 64,
              b'{"organizerId":"alice@contoso.example","externalId":"' + b"\\u0000" * 10 + b'"}']

surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
with_surrogate = st.builds(lambda a, s, b: a + s + b, st.text(max_size=10), surrogates, st.text(max_size=10))
huge = st.one_of(st.integers(LIMIT - 600, LIMIT + 100).map(lambda n: "x" * n),
                 st.integers(LIMIT // 2 - 400, LIMIT // 2 + 50).map(lambda n: "\u00e9" * n),
                 st.integers(LIMIT // 12 - 50, LIMIT // 12 + 50).map(lambda n: "\U0001f600" * n))
def weighted(*pairs: tuple[int, Any]) -> Any:
    """one_of with weights (hypothesis picks the branches of one_of about evenly)."""
    return st.one_of(*[strategy for weight, strategy in pairs for _ in range(weight)])


strings = weighted((3, st.text(max_size=40)), (1, with_surrogate), (2, st.sampled_from(LOOK_ALIKES + ODD_TIMES + NAMES)),
                   (2, st.text(st.characters(codec="ascii"), max_size=20)))
strings_or_huge = weighted((14, strings), (1, huge))
member_names = st.one_of(st.text(max_size=20), with_surrogate, st.sampled_from(NAMES)).filter(
    lambda name: name != "correlationId")
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                    st.floats(allow_nan=False, allow_infinity=False), strings)
json_values = st.recursive(scalars, lambda children: st.lists(children, max_size=5)
                           | st.dictionaries(member_names, children, max_size=5), max_leaves=25)
organizers = weighted((5, st.sampled_from(ORGANIZERS)), (2, st.sampled_from(LOOK_ALIKES)), (1, strings),
                     (1, json_values))
external_ids = weighted((3, st.text(min_size=1, max_size=60)), (1, with_surrogate), (1, st.sampled_from(
    ["/?#%\\", "a" * 1000, "a" * 1001, "\u0000", "tab\there", "..", "%2F", " ", "", "\uffff", "\ufffe"])),
    (1, st.integers()), (3, st.uuids().map(str)))
times = weighted((4, st.sampled_from(ODD_TIMES)), (1, strings), (1, st.none()), (1, st.integers()),
                 (1, json_values))
attendee = st.fixed_dictionaries({}, optional={
    "upn": organizers, "role": st.sampled_from(["attendee", "presenter", "producer", "coorganizer", "organizer",
                                               "PRESENTER", "", None]),
    "identity": st.one_of(json_values, st.fixed_dictionaries({"user": st.fixed_dictionaries(
        {"id": st.one_of(st.uuids().map(str), strings)}, optional={"displayName": strings})}))})
participants = weighted((2, json_values), (4, st.fixed_dictionaries({"attendees": st.lists(attendee, max_size=5)})),
                       (1, st.integers(100, 1500).map(lambda n: {"attendees": [
                           {"upn": f"u{i}@partner.example", "role": "attendee"} for i in range(n)]})))
many_members = st.integers(1000, 4000).map(lambda n: {f"m{i}": i for i in range(n)})
request_like = st.builds(
    lambda base, extra, many: {**base, **extra, **many},
    st.fixed_dictionaries({"organizerId": organizers, "externalId": external_ids}, optional={
        "subject": st.one_of(strings_or_huge, json_values), "startDateTime": times, "endDateTime": times,
        "participants": participants, "tenantId": st.one_of(st.sampled_from(TENANTS), strings),
        "chatInfo": json_values}),
    weighted((4, st.just({})), (1, st.dictionaries(member_names, json_values, max_size=3))),
    weighted((20, st.just({})), (1, many_members)))


def _nested(depth: int) -> bytes:
    return (b'{"organizerId":"alice@contoso.example","externalId":"deep","participants":'
            + b"[" * depth + b"]" * depth + b"}")


def _pad_to(size: int) -> bytes:
    head = b'{"organizerId":"alice@contoso.example","externalId":"padded","subject":"'
    return head + b"s" * max(0, size - len(head) - 2) + b'"}'


def _encode(value: Any, style: str) -> bytes:
    if style == "ascii":
        return json.dumps(value).encode("ascii")
    if style == "utf-8":  # lone surrogates become bytes that are not UTF-8
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if style == "bom":
        return b"\xef\xbb\xbf" + json.dumps(value).encode("ascii")
    return json.dumps(value).encode("ascii") + b" ]"


bodies = weighted(
    (2, st.tuples(st.just("request-like"), st.builds(_encode, request_like, st.sampled_from(
        ["ascii", "ascii", "utf-8", "bom", "garbage"])))),
    (6, st.tuples(st.just("request-like"), st.builds(_encode, request_like, st.just("ascii")))),
    (2, st.tuples(st.just("json value"), st.builds(_encode, json_values, st.sampled_from(["ascii", "utf-8"])))),
    (1, st.tuples(st.just("nested"), st.one_of(st.integers(28, 36), st.integers(1, 3000)).map(_nested))),
    (1, st.tuples(st.just("near 64 KiB"), st.integers(-3, 3).map(lambda d: _pad_to(LIMIT + d)))),
    (2, st.tuples(st.just("raw bytes"), st.one_of(st.sampled_from(RAW_BODIES), st.binary(max_size=400)))),
)


@st.composite
def post_cases(draw: Callable[..., Any]) -> dict[str, Any]:
    kind, raw = draw(bodies)
    content_type = draw(weighted((6, st.sampled_from(CONTENT_TYPES[:3])), (1, st.sampled_from(CONTENT_TYPES))))
    prefer = draw(st.sampled_from(PREFERS))
    headers = {name: value for name, value in (("Content-Type", content_type), ("Prefer", prefer)) if value is not None}
    return {"raw": raw, "headers": headers,
            "what": f"{kind}, {len(raw)} bytes, {headers}, {raw[:100]!r}"}


@st.composite
def queue_texts(draw: Callable[..., Any]) -> dict[str, Any]:
    """{"text": cid -> message text, "names_cid": whether the text carries that correlationId, "what"}."""
    kind = draw(st.sampled_from(["request", "request", "request base64", "json value", "raw base64", "text",
                                 "nested", "request, odd correlationId"]))
    if kind.startswith("request"):
        body = draw(request_like)
        base64ed = kind == "request base64"
        odd_cid = draw(st.sampled_from([123, "", None, ["x"], {"a": 1}])) if "odd" in kind else None
        ascii_only = draw(st.booleans())

        def text(cid: str) -> str:
            document = {**body, "correlationId": cid if "odd" not in kind else odd_cid}
            plain = json.dumps(document, ensure_ascii=ascii_only)
            return base64.b64encode(plain.encode("utf-8", "surrogatepass")).decode() if base64ed else plain
        # A lone surrogate written raw makes the base64 text decode to bytes that are not UTF-8: not JSON at all,
        # so its result comes under the message id.
        readable = ascii_only or not base64ed or _utf8(json.dumps(body, ensure_ascii=False))
        return {"text": text, "names_cid": "odd" not in kind and readable, "what": f"{kind}: {json.dumps(body)[:120]}"}
    if kind == "json value":
        value = draw(json_values)
        return {"text": lambda cid: json.dumps(value), "names_cid": False, "what": f"{kind}: {json.dumps(value)[:120]}"}
    if kind == "raw base64":
        raw = draw(st.binary(max_size=300))
        return {"text": lambda cid: base64.b64encode(raw).decode(), "names_cid": False, "what": f"{kind}: {raw[:60]!r}"}
    if kind == "nested":
        raw = _nested(draw(st.one_of(st.integers(28, 36), st.integers(1, 3000)))).decode()
        return {"text": lambda cid: raw, "names_cid": False, "what": f"{kind}: {len(raw)} characters"}
    value = draw(st.text(max_size=200))
    return {"text": lambda cid: value, "names_cid": False, "what": f"{kind}: {value[:60]!r}"}


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _segment(value: str, style: str) -> str:
    if style == "quoted":
        return quote(value.encode("utf-8", "surrogatepass"), safe="")
    return quote(value.encode("utf-8", "surrogatepass"), safe="/%@:")


BAD_ESCAPES = ["%", "%zz", "%ED%A0%80", "%00", "%2F", "..", "%2e%2e", "a%2Fb", "%C0%AF", "%FF", "%E2%80%AE", "%0A",
               "%20", "~", "%25"]


@st.composite
def get_targets(draw: Callable[..., Any]) -> dict[str, Any]:
    values = st.one_of(organizers.filter(lambda v: isinstance(v, str)), strings, st.sampled_from(BAD_ESCAPES),
                       st.integers(1, 5000).map(lambda n: "q" * n))
    if draw(st.booleans()):
        style = draw(st.sampled_from(["quoted", "raw"]))
        organizer, external = draw(values), draw(values)
        if draw(st.sampled_from(["escaped", "escaped", "bad"])) == "bad":
            path = f"/api/meetings/{draw(st.sampled_from(BAD_ESCAPES))}/{draw(st.sampled_from(BAD_ESCAPES))}"
        else:
            path = f"/api/meetings/{_segment(organizer, style)}/{_segment(external, style)}"
        if draw(st.booleans()):
            path += "?tenantId=" + _segment(draw(st.one_of(st.sampled_from(TENANTS), values)), "quoted")
        template = "/api/meetings/{organizerId}/{externalId}"
    else:
        pairs = draw(st.lists(st.tuples(st.sampled_from(["organizerId", "externalId", "tenantId", "code", "x"]),
                                        values), max_size=6))
        query = "&".join(f"{name}={_segment(value, 'quoted')}" for name, value in pairs)
        path, template = f"/api/meetings?{query}", "/api/meetings"
    return {"path": path, "template": template, "what": path[:200]}


# Bodies put straight on the poison queue in every run (and the hypothesis ones after them): the poison trigger must
# tell each one exactly once and never raise. (text, whether it names the correlation id "{cid}")
POISON_CASES = [
    ("", False), ("null", False), ("{", False), ("[]", False), ("42", False), ('"text"', False),
    ('{"correlationId": 5}', False), ('{"correlationId": ""}', False), ('{"correlationId": null}', False),
    ("e30=", False), ("bm90IGpzb24=", False), ("//79", False), ("[" * 5000, False), ('"\\ud800"', False),
    ('{"organizerId": "alice@contoso.example", "externalId": "poisoned-{cid}", "correlationId": "{cid}"}', True),
    ('{"organizerId": "\u212aelvin@contoso.example", "externalId": "x", "correlationId": "{cid}"}', True),
    ('{"organizerId": "alice@contoso.example", "correlationId": "{cid}", "subject": "' + "s" * 60_000 + '"}', True),
    ('{"correlationId": "{cid}", "externalId": "\\uffff"}', True),
    (base64.b64encode(b'{"organizerId": 1, "externalId": []}').decode(), False),
    (base64.b64encode(b"\xff\xfe not UTF-8").decode(), False),
]
