"""The participant API's directory read from the participant administration (the admin's register) instead
of the participants file: a suspension or a rotated token applies to the very next request."""

from __future__ import annotations

from console.api.participants import Participant
from console.services.participants_admin import ParticipantsAdmin
from core.participant_registry import ParticipantRecord


def _view(r: ParticipantRecord | None) -> Participant | None:
    if r is None:
        return None
    return Participant(r.id, r.wallet, r.token_sha256 or "", r.suspended, r.suspended_reason)


class RegistryDirectory:
    """``get`` and ``by_token`` as :class:`console.api.participants.ParticipantDirectory` has them."""

    def __init__(self, admin: ParticipantsAdmin) -> None:
        self.admin = admin

    def get(self, participant_id: str) -> Participant | None:
        return _view(self.admin.get(participant_id))

    def by_token(self, token: str) -> Participant | None:
        return _view(self.admin.by_token(token))

    def __len__(self) -> int:
        return len(self.admin.records())
