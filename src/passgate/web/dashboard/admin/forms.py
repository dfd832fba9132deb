"""What every administration form shares: checking input with the API's own bodies,
turning refusals into messages on the form, and safe redirects after a change.

A form is checked with the same pydantic body the REST API uses and then handed to
the same service command, so the dashboard and the API accept and refuse the same
input. A refusal re-renders the form with the submitted values and one message per
field naming the rule; the transaction was rolled back, so nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import pydantic
from fastapi import Form
from fastapi.responses import RedirectResponse, Response

from passgate.domain.errors import Conflict, ValidationError
from passgate.services.actors import Actor

Csrf = Annotated[str | None, Form(alias="csrf_token")]
B = TypeVar("B", bound=pydantic.BaseModel)
T = TypeVar("T")


class Invalid(Exception):
    """Form input refused before any service ran: ``errors`` maps field to message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


# What a form shows as messages; anything else (no permission, not found) is an error page.
REFUSALS = (Invalid, ValidationError, Conflict)


def errors_of(exc: Exception) -> dict[str, str]:
    if isinstance(exc, Invalid):
        return exc.errors
    if isinstance(exc, ValidationError | Conflict):
        return {exc.field or "form": exc.message}
    raise exc


def _rule(err: Mapping[str, Any]) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "is required"
    if kind == "missing":
        return "is required"
    message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"is not valid: {message[:1].lower()}{message[1:]}"


def check(model: type[B], data: Mapping[str, Any], labels: Mapping[str, str]) -> B:
    """``data`` as the API body ``model``, or Invalid naming each field and its rule."""
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        out: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            if not loc:
                out.setdefault("form", _rule(err))
                continue
            field = loc[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:])
            label = labels.get(loc[0], loc[0].replace("_", " "))
            if len(loc) > 1:  # a row of a list: "Opening hours, row 2, end"
                label += "".join(
                    f", row {int(p) + 1}" if p.isdigit() else f", {p}" for p in loc[1:]
                )
            out.setdefault(field, f"{label} {_rule(err)}")
        raise Invalid(out) from exc


def blank(value: str | None) -> str | None:
    """A form's empty text is "not given"."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def local_time(value: str | None, field: str, label: str) -> datetime | None:
    """A datetime-local input (no offset), taken as UTC as the form says."""
    text = blank(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise Invalid({field: f"{label} must be a date and time like 2026-12-01T08:00"}) from exc


def can_write(who: Actor) -> bool:
    return who.role in ("owner", "admin")


def done(path: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={quote(message)}", status_code=303)


def save(
    change: Callable[[], T],
    then: Callable[[T], tuple[str, str]],
    *,
    refused: Callable[[dict[str, str]], Response] | None = None,
) -> Response:
    """What a form does once its input is read: ``change()`` checks the form (``check``)
    and calls one service command (which owns its transaction, its role check and its
    clock), then a redirect to the (path, message) ``then`` makes of its result. A
    refusal (``REFUSALS``: the form's own check, or the service's rule) changed nothing;
    ``refused`` renders it with one message per field, and without it the refusal
    becomes the error page, as any other error does."""
    try:
        result = change()
    except REFUSALS as exc:
        if refused is None:
            raise
        return refused(errors_of(exc))
    path, message = then(result)
    return done(path, message)


def back_to(value: str | None, default: str) -> str:
    """Where a shared form returns: a dashboard path only, never another site."""
    if value and value.startswith("/dashboard/") and "//" not in value and "\\" not in value:
        return value.split("?", 1)[0]
    return default
