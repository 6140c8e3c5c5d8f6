"""The app settings of result callbacks and signed intake (issue 21), read by pure functions of a Mapping:
``load_settings`` keeps them as ``Settings.callbacks`` and their problems join the others (every one reported at
once, by /api/health too); the names are part of SETTING_NAMES, the secret ones of SECRET_SETTINGS. Secret values
are never echoed in problems or in ``repr``.

- ``CALLBACK_ALLOWED_HOSTS``: where callbacks may go (``callback_urls``); empty (the default) refuses every one.
- ``CALLBACK_SIGNING_SECRETS``: one or more ``whsec_`` secrets separated by spaces; each signs every callback.
  Required once a host is allowed.
- ``CALLBACK_RETRY_SCHEDULE``: seconds before each retry, comma-separated (default ``5,300,1800,7200,18000,36000,36000``).
- ``MEETING_CALLBACKS_QUEUE`` (default ``meeting-callbacks``): the deliveries, one message per attempt.
- ``MEETING_CALLBACKS_FAILED_QUEUE`` (default ``meeting-callbacks-failed``): deliveries whose every attempt failed.
- ``INTAKE_SIGNING_SECRETS``: when set, writes must be signed by one of these ``whsec_`` secrets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from shared.config.reader import QUEUE_NAME, SettingsReader
from shared.domain.callback_urls import CallbackAllowlist
from shared.domain.callbacks import DEFAULT_RETRY_SCHEDULE, SECRET_RULE, parse_retry_schedule, parse_signing_secrets
from shared.domain.errors import ConfigurationError

CALLBACK_SETTING_NAMES: tuple[str, ...] = (
    "CALLBACK_ALLOWED_HOSTS",
    "CALLBACK_SIGNING_SECRETS",
    "CALLBACK_RETRY_SCHEDULE",
    "MEETING_CALLBACKS_QUEUE",
    "MEETING_CALLBACKS_FAILED_QUEUE",
    "INTAKE_SIGNING_SECRETS",
)
CALLBACK_SECRET_SETTINGS = frozenset({"CALLBACK_SIGNING_SECRETS", "INTAKE_SIGNING_SECRETS"})


@dataclass(frozen=True)
class CallbackSettings:
    allowed_hosts: CallbackAllowlist = field(default_factory=CallbackAllowlist)
    signing_secrets: tuple[str, ...] = field(default=(), repr=False)
    retry_schedule: tuple[int, ...] = DEFAULT_RETRY_SCHEDULE
    queue: str = "meeting-callbacks"
    failed_queue: str = "meeting-callbacks-failed"
    intake_signing_secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def enabled(self) -> bool:
        """Whether any callbackUrl can be accepted."""
        return bool(self.allowed_hosts)

    @property
    def intake_signed(self) -> bool:
        return bool(self.intake_signing_secrets)


def read_callback_settings(env: Mapping[str, str]) -> tuple[CallbackSettings, list[str]]:
    """The settings (defaults where a value is wrong) and every problem found, for ``load_settings`` to merge."""
    reader = SettingsReader(env)
    problems, get, get_or = reader.problems, reader.get, reader.get_or
    defaults = CallbackSettings()

    try:
        allowed = CallbackAllowlist.parse(get_or("CALLBACK_ALLOWED_HOSTS", ""))
    except ValueError as error:
        problems.append(f"CALLBACK_ALLOWED_HOSTS: {error}")
        allowed = defaults.allowed_hosts

    signing: tuple[str, ...] = ()
    if get("CALLBACK_ALLOWED_HOSTS") is not None:  # the secret matters once a host is (meant to be) allowed
        raw = get("CALLBACK_SIGNING_SECRETS")
        if raw is None:
            problems.append(f"CALLBACK_SIGNING_SECRETS is required when CALLBACK_ALLOWED_HOSTS lists hosts "
                            f"({SECRET_RULE}; scripts/new-signing-secret makes one)")
        else:
            signing = _secrets("CALLBACK_SIGNING_SECRETS", raw, problems)

    try:
        schedule = parse_retry_schedule(get_or("CALLBACK_RETRY_SCHEDULE", ""))
    except ValueError as error:
        problems.append(f"CALLBACK_RETRY_SCHEDULE {error}")
        schedule = defaults.retry_schedule

    queues = {}
    for name, default, longest in (("MEETING_CALLBACKS_QUEUE", defaults.queue, 56),
                                   ("MEETING_CALLBACKS_FAILED_QUEUE", defaults.failed_queue, 63)):
        queues[name] = get_or(name, default)
        # The triggered queue's poison queue adds 7 characters ("-poison") and must itself be a valid name.
        if not QUEUE_NAME.fullmatch(queues[name]) or len(queues[name]) > longest:
            problems.append(f"{name} must be 3-{longest} lowercase letters, digits and single hyphens")
            queues[name] = default
    if queues["MEETING_CALLBACKS_QUEUE"] == queues["MEETING_CALLBACKS_FAILED_QUEUE"]:
        problems.append("MEETING_CALLBACKS_QUEUE and MEETING_CALLBACKS_FAILED_QUEUE must differ")

    raw_intake = get("INTAKE_SIGNING_SECRETS")
    intake = _secrets("INTAKE_SIGNING_SECRETS", raw_intake, problems) if raw_intake is not None else ()

    return CallbackSettings(allowed, signing, schedule, queues["MEETING_CALLBACKS_QUEUE"],
                            queues["MEETING_CALLBACKS_FAILED_QUEUE"], intake), problems


def load_callback_settings(env: Mapping[str, str]) -> CallbackSettings:
    """The settings; ConfigurationError listing every problem."""
    settings, problems = read_callback_settings(env)
    if problems:
        raise ConfigurationError(problems)
    return settings


def _secrets(name: str, raw: str, problems: list[str]) -> tuple[str, ...]:
    if raw.startswith("@Microsoft.KeyVault("):  # the platform hands an unresolved reference over as its own text
        problems.append(f"{name} is a Key Vault reference the platform could not resolve: set the secret in the Key "
                        "Vault (README, \"Result callbacks and signed intake\") and restart the app")
        return ()
    try:
        return parse_signing_secrets(raw)
    except ValueError as error:
        problems.append(f"{name}: {error}")
        return ()
