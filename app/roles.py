"""Roles and what each may do, and the access of one console session.

Four roles, from the issue that asked for them:

* ``viewer`` (executives): see every page, nothing else;
* ``operator``: run what-ifs and the lease optimiser, save them to the library, manage it;
* ``planner``: export site plans (SVG, PDF, DXF, CSV, NetBox);
* ``admin``: all of the above.

Pages check an :class:`Access` at the moment of each action, on the server: a button a role may
not use is shown disabled, but a crafted click on it is refused just the same. No Panel import
here: the rules are plain data, tested on their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

VIEW, RUN, SAVE, EXPORT, ADMIN = "view", "run", "save", "export", "admin"
ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({VIEW}),
    "operator": frozenset({VIEW, RUN, SAVE}),
    "planner": frozenset({VIEW, EXPORT}),
    "admin": frozenset({VIEW, RUN, SAVE, EXPORT, ADMIN}),
}
ACTIONS = {RUN: "run what-ifs", SAVE: "save to the library", EXPORT: "export site plans", ADMIN: "administer"}

audit = logging.getLogger("campustwin.access")


@dataclass(frozen=True)
class Access:
    """Who a session is and what its role lets it do."""

    user: str
    role: str

    def can(self, action: str) -> bool:
        return action in ROLES.get(self.role, frozenset())

    def refusal(self, action: str) -> str | None:
        """None when allowed; otherwise the sentence to show, after logging the refusal."""
        if self.can(action):
            return None
        audit.warning(
            "refused: user %r (role %s) tried to %s", self.user, self.role, ACTIONS.get(action, action)
        )
        who = [r for r, can in ROLES.items() if action in can]
        return f"Your role ({self.role}) may not {ACTIONS.get(action, action)}; ask for the {' or '.join(who)} role."


#: a console served without sign-in: one person at this machine, who may do everything
LOCAL = Access("local", "admin")
#: a session whose user is not (or no longer) in the users file: may do nothing
NOBODY = Access("", "none")
