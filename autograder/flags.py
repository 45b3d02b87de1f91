"""Flags: what the autograder noticed or changed about a submission, with the reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Flag:
    """One remark on a submission. ``serious`` flags need an instructor's look."""

    code: str
    message: str
    serious: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Flag:
        return cls(code=data["code"], message=data["message"], serious=bool(data.get("serious")))

    def __str__(self) -> str:
        return f"{'!' if self.serious else ''}{self.code}: {self.message}"


# Execution events that mean student code broke something.
SERIOUS_EVENTS = {"kernel-died", "timeout", "time-limit", "memory", "tampering", "sandbox"}


def flag_from_event(event: dict) -> Flag:
    """A Flag for an execution event recorded by SafeExecute."""
    return Flag(
        code=event["code"], message=f"{event['cell']}: {event['message']}", serious=event["code"] in SERIOUS_EVENTS
    )
