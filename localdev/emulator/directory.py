"""The emulator's directory: the seeded tenant and its ids, users, app registrations and their credentials, managed
identities, and Teams application access policies (``Directory``, ``EmulatorState.directory``)."""
from __future__ import annotations

import copy
import hashlib
import hmac
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes

# ----------------------------------------------------------------------------------------------- seeded directory
DEFAULT_TENANT_ID = "5f1d8c3a-9b2e-4c47-8a61-2e3d4b5c6a70"
DEFAULT_TENANT_DOMAIN = "contoso.example"
DEFAULT_CLIENT_ID = "3c9e4f52-7a1b-4d86-9f03-b2e5c8d7a614"
# A fixed local-emulator credential (not a secret of any real system): tests and the local host use it.
DEFAULT_CLIENT_SECRET = "local-emulator-only~not.a.real.secret"
DEFAULT_MI_CLIENT_ID = "8a2f6d14-3e5c-4b97-a0d8-61c4e9f27b35"
DEFAULT_MI_PRINCIPAL_ID = "d47b1e92-6c3a-4f58-b2e0-9a8c5d3f1e76"
ALICE_ID = "1b6f2c8e-4d3a-4e91-8c57-3f2a9d6e0b14"
BOB_ID = "7e3d9a05-2b8f-4c61-9d24-5a0f6e8c1b37"
CAROL_ID = "c2a8e4f1-9d6b-4a35-8e70-1f5b3d9c7a82"
ALICE_UPN = "alice@contoso.example"
BOB_UPN = "bob@contoso.example"
CAROL_UPN = "carol@contoso.example"

ONLINE_MEETINGS_ROLE = "OnlineMeetings.ReadWrite.All"
GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
TOKEN_EXCHANGE_AUDIENCES = (
    TOKEN_EXCHANGE_AUDIENCE,
    "api://AzureADTokenExchangeUSGov",
    "api://AzureADTokenExchangeChina",
)


@dataclass
class User:
    tenant_id: str
    object_id: str
    upn: str
    display_name: str

    def as_dict(self) -> dict[str, str]:
        return {"tenant_id": self.tenant_id, "object_id": self.object_id, "upn": self.upn,
                "display_name": self.display_name}


@dataclass
class RegisteredCertificate:
    sha1: bytes
    sha256: bytes
    public_key: Any
    not_after: float

    @classmethod
    def from_pem(cls, pem: str | bytes) -> "RegisteredCertificate":
        cert = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
        return cls(
            sha1=cert.fingerprint(hashes.SHA1()),  # noqa: S303 - x5t is defined as SHA-1 (RFC 7515 4.1.7)
            sha256=cert.fingerprint(hashes.SHA256()),
            public_key=cert.public_key(),
            not_after=cert.not_valid_after_utc.timestamp(),
        )


@dataclass
class FederatedCredential:
    subject: str
    issuer: str | None = None  # None: this emulator's issuer for the app's tenant
    audiences: tuple[str, ...] = TOKEN_EXCHANGE_AUDIENCES


@dataclass
class App:
    tenant_id: str
    client_id: str
    object_id: str  # service principal object id (the ``oid`` of its tokens)
    secret_digests: list[bytes] = field(default_factory=list, repr=False)
    certificates: list[RegisteredCertificate] = field(default_factory=list, repr=False)
    federated: list[FederatedCredential] = field(default_factory=list)
    roles: tuple[str, ...] = (ONLINE_MEETINGS_ROLE,)
    display_name: str = ""

    def secret_matches(self, candidate: str) -> bool:
        digest = hashlib.sha256(candidate.encode("utf-8")).digest()
        return any(hmac.compare_digest(digest, known) for known in self.secret_digests)


@dataclass
class ManagedIdentity:
    client_id: str
    principal_id: str
    tenant_id: str
    roles: tuple[str, ...] = ()
    system_assigned: bool = False


def _sp_object_id(tenant_id: str, client_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"emulator-sp:{tenant_id.lower()}:{client_id.lower()}"))


class Directory:
    """Tenants, users, apps, managed identities and access policies; guarded by ``lock`` (the state's, which every
    store shares)."""

    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.clear()

    def clear(self) -> None:
        """Forget every tenant, user, app, identity and policy."""
        with self.lock:
            self._tenants: dict[str, set[str]] = {}
            self._users: dict[tuple[str, str], User] = {}
            self._apps: dict[tuple[str, str], App] = {}
            self._identities: dict[str, ManagedIdentity] = {}
            self._policies: set[tuple[str, str, str]] = set()

    def seed_defaults(self) -> None:
        """The contoso.example tenant, the broker app, its trusted managed identity and alice/bob/carol."""
        with self.lock:
            self.add_tenant(DEFAULT_TENANT_ID, domains=(DEFAULT_TENANT_DOMAIN,))
            self.add_user(DEFAULT_TENANT_ID, ALICE_ID, ALICE_UPN, "Alice Example")
            self.add_user(DEFAULT_TENANT_ID, BOB_ID, BOB_UPN, "Bob Example")
            self.add_user(DEFAULT_TENANT_ID, CAROL_ID, CAROL_UPN, "Carol Example")
            self.register_app(
                DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, secret=DEFAULT_CLIENT_SECRET,
                federated_subjects=(DEFAULT_MI_PRINCIPAL_ID,), display_name="Teams Meeting Broker (local)",
            )
            self.add_managed_identity(DEFAULT_MI_CLIENT_ID, DEFAULT_MI_PRINCIPAL_ID, DEFAULT_TENANT_ID)
            self.grant_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, ALICE_ID)
            self.grant_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, BOB_ID)

    # ----------------------------------------------------------------------------------------------- tenants, users
    def add_tenant(self, tenant_id: str, domains: Iterable[str] = ()) -> None:
        with self.lock:
            self._tenants.setdefault(tenant_id.lower(), set()).update(d.lower() for d in domains)

    def resolve_tenant(self, segment: str) -> str | None:
        """Tenant id for an authority path segment (the id or one of its domains)."""
        key = segment.lower()
        with self.lock:
            if key in self._tenants:
                return key
            for tenant_id, domains in self._tenants.items():
                if key in domains:
                    return tenant_id
        return None

    def add_user(self, tenant_id: str, object_id: str, upn: str, display_name: str) -> User:
        with self.lock:
            self.add_tenant(tenant_id)
            user = User(tenant_id.lower(), object_id.lower(), upn, display_name)
            self._users[(user.tenant_id, user.object_id)] = user
            return copy.copy(user)

    def find_user(self, tenant_id: str, id_or_upn: str) -> User | None:
        key = id_or_upn.lower()
        with self.lock:
            user = self._users.get((tenant_id.lower(), key))
            if user is None:
                user = next((u for (t, _), u in self._users.items()
                             if t == tenant_id.lower() and u.upn.lower() == key), None)
            return copy.copy(user) if user else None

    def users(self) -> list[dict[str, str]]:
        with self.lock:
            return [u.as_dict() for u in self._users.values()]

    # ----------------------------------------------------------------------------------------------- apps
    def register_app(self, tenant_id: str, client_id: str, secret: str | None = None,
                     certificate_pem: str | bytes | None = None, federated_subjects: Iterable[str] = (),
                     roles: Iterable[str] = (ONLINE_MEETINGS_ROLE,), *, display_name: str = "") -> None:
        """Register (or extend) an app in a tenant. On an existing app the credentials are added, roles replaced."""
        with self.lock:
            self.add_tenant(tenant_id)
            key = (tenant_id.lower(), client_id.lower())
            app = self._apps.get(key)
            if app is None:
                app = App(tenant_id=key[0], client_id=client_id.lower(),
                          object_id=_sp_object_id(tenant_id, client_id), display_name=display_name or client_id)
                self._apps[key] = app
            if secret:
                app.secret_digests.append(hashlib.sha256(secret.encode("utf-8")).digest())
            if certificate_pem:
                app.certificates.append(RegisteredCertificate.from_pem(certificate_pem))
            for subject in federated_subjects:
                app.federated.append(FederatedCredential(subject=subject.lower()))
            app.roles = tuple(roles)
            if display_name:
                app.display_name = display_name

    def find_app(self, tenant_id: str, client_id: str) -> App | None:
        with self.lock:
            app = self._apps.get((tenant_id.lower(), client_id.lower()))
            return copy.deepcopy(app) if app else None

    def add_managed_identity(self, client_id: str, principal_id: str, tenant_id: str, roles: Iterable[str] = (),
                             *, system_assigned: bool = False) -> None:
        with self.lock:
            self.add_tenant(tenant_id)
            self._identities[client_id.lower()] = ManagedIdentity(
                client_id.lower(), principal_id.lower(), tenant_id.lower(), tuple(roles), system_assigned)

    def find_managed_identity(self, *, client_id: str | None = None, object_id: str | None = None,
                              resource_id: str | None = None) -> ManagedIdentity | None:
        """By client id, principal (object) id; with no selector the system-assigned identity, if any."""
        with self.lock:
            if client_id:
                mi = self._identities.get(client_id.lower())
            elif object_id:
                mi = next((m for m in self._identities.values() if m.principal_id == object_id.lower()), None)
            elif resource_id:
                mi = None  # ARM resource ids are not modelled
            else:
                mi = next((m for m in self._identities.values() if m.system_assigned), None)
            return copy.copy(mi) if mi else None

    # ----------------------------------------------------------------------------------------------- access policies
    def grant_policy(self, tenant_id: str, app_client_id: str, user_object_id_or_star: str) -> None:
        with self.lock:
            self._policies.add((tenant_id.lower(), app_client_id.lower(), user_object_id_or_star.lower()))

    def revoke_policy(self, tenant_id: str, app_client_id: str, user_object_id_or_star: str) -> None:
        with self.lock:
            self._policies.discard((tenant_id.lower(), app_client_id.lower(), user_object_id_or_star.lower()))

    def has_policy(self, tenant_id: str, app_client_id: str, user_object_id: str) -> bool:
        t, a = tenant_id.lower(), app_client_id.lower()
        with self.lock:
            return (t, a, user_object_id.lower()) in self._policies or (t, a, "*") in self._policies
