"""The rules requests must pass, every broken rule listed: ``validate_request`` (a meeting asked for) and
``validate_change`` (a change to a recorded one)."""
from shared.domain.validation.checks import MAX_ATTENDEES, MAX_ORGANIZER_ID, ROLES
from shared.domain.validation.create import MAX_BODY_BYTES, MAX_CORRELATION_ID, MAX_EXTERNAL_ID, MAX_SUBJECT, validate_request
from shared.domain.validation.update import CANCEL_MODES, validate_cancel, validate_change, validate_lookup

__all__ = ["MAX_ATTENDEES", "MAX_BODY_BYTES", "MAX_CORRELATION_ID", "MAX_EXTERNAL_ID", "MAX_ORGANIZER_ID",
           "MAX_SUBJECT", "ROLES", "CANCEL_MODES", "validate_cancel", "validate_change", "validate_lookup",
           "validate_request"]
