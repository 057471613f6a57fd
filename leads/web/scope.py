"""Data scoped by unit: an account given regions (``ConsoleState.set_unit``; admins set it on the users page)
sees only the leads whose shop address is in one of them (``leads.dashboard.region_of``) -- lists, lead
pages, the queue, exports, the dashboard and the API alike. Admins and accounts without regions see all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

from leads.dashboard import region_of


def visible_predicate(state: Any, user: Any) -> Callable[[Any], bool] | None:
    """A predicate on leads (anything with ``.address``) for ``user``; None when the user sees everything."""
    if user is None or user.role == "admin":
        return None
    regions = set(state.unit_of(user.username).regions)
    if not regions:
        return None
    return lambda lead: region_of(getattr(lead, "address", "")) in regions


def visible_for(request: Request) -> Callable[[Any], bool] | None:
    return visible_predicate(request.app.state.console_state, getattr(request.state, "user", None))


def lead_id_predicate(store: Any, visible: Callable[[Any], bool] | None) -> Callable[[str], bool] | None:
    """``visible`` as a predicate on lead ids (the shop's stored address; unknown shops: no address)."""
    if visible is None:
        return None
    from types import SimpleNamespace

    addresses = {s.subject_id: s.address for s in store.iter_shops()}
    return lambda lead_id: visible(SimpleNamespace(address=addresses.get(lead_id, "")))
