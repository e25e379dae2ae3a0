"""Team rules: a named group of users, optionally led by a manager. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from crm_platform.errors import FieldViolation, InvalidArgument

NAME_MAX = 200
UPDATABLE_FIELDS = ("name", "manager_id")


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    # Empty while the team has no manager.
    manager_id: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    @property
    def name_key(self) -> str:
        """The name as compared for uniqueness and search."""
        return self.name.casefold()


def validated(team: Team) -> Team:
    name = team.name.strip()
    if not name:
        raise InvalidArgument.field("team.name", "is required")
    if len(name) > NAME_MAX:
        raise InvalidArgument.field("team.name", f"must be at most {NAME_MAX} characters")
    return replace(team, name=name, manager_id=team.manager_id.strip())


def update_paths(requested: list[str], patch: Team) -> list[str]:
    """The mask's paths (unknown ones are InvalidArgument), or every field the patch sets."""
    if not requested:
        return [f for f in UPDATABLE_FIELDS if getattr(patch, f)]
    bad = [p for p in requested if p not in UPDATABLE_FIELDS]
    if bad:
        raise InvalidArgument(
            [
                FieldViolation("update_mask", f"'{p}' cannot be updated (updatable: {', '.join(UPDATABLE_FIELDS)})")
                for p in bad
            ]
        )
    return list(dict.fromkeys(requested))
