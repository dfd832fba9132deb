"""Create, change and delete an organization's configuration objects.

One description per kind of object (``ResourceSpec``) says which other objects
it points to and which point to it; the three commands below apply those rules
the same way for every kind and record one audit event per change, so places,
doors, groups... need no hand-written copies of the same transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from passgate.domain.errors import Conflict, ValidationError
from passgate.domain.model import new_id
from passgate.services.actors import Actor
from passgate.services.events import audit, summarize
from passgate.services.ports import UnitOfWork

T = TypeVar("T")


@dataclass(frozen=True)
class Reference:
    """``field`` holds the id of an ``entity`` that must exist in the same organization."""

    field: str
    entity: type[Any]
    label: str


@dataclass(frozen=True)
class Dependent:
    """Rows of ``entity`` whose ``field`` points here: deleted with us, or blocking our delete."""

    entity: type[Any]
    field: str
    cascade: bool
    label: str


@dataclass(frozen=True)
class ResourceSpec(Generic[T]):
    name: str
    entity: type[T]
    id_prefix: str
    references: tuple[Reference, ...] = ()
    dependents: tuple[Dependent, ...] = ()
    # Fill defaults that depend on other rows (a door's timezone from its place).
    prepare: Callable[[UnitOfWork, dict[str, Any]], dict[str, Any]] | None = None
    # Domain validation of the whole entity; raises ValidationError naming the field.
    validate: Callable[[UnitOfWork, T], None] | None = None
    # What must follow a change, in the same transaction (e.g. Wallet copies to refresh).
    after_update: Callable[[UnitOfWork, T, T, datetime], None] | None = None
    # Extra clean-up before the row goes (link tables without an entity of their own).
    before_delete: Callable[[UnitOfWork, T], None] | None = None
    search_fields: tuple[str, ...] = field(default_factory=tuple)


def _check_references(uow: UnitOfWork, spec: ResourceSpec[Any], entity: Any) -> None:
    for ref in spec.references:
        value = getattr(entity, ref.field)
        if value is not None and uow.repo(ref.entity).find(value) is None:
            # Same message whether the id is unknown or another organization's.
            raise ValidationError(
                f"{ref.field} must name an existing {ref.label} of this organization",
                field=ref.field,
            )


def create(
    uow: UnitOfWork, actor: Actor, spec: ResourceSpec[T], values: Mapping[str, Any], now: datetime
) -> T:
    actor.require_write()
    org_id = actor.require_org()
    data = dict(values)
    if spec.prepare is not None:
        data = spec.prepare(uow, data)
    factory: Any = spec.entity
    entity: T = factory(id=new_id(spec.id_prefix), org_id=org_id, created_at=now, **data)
    _check_references(uow, spec, entity)
    if spec.validate is not None:
        spec.validate(uow, entity)
    uow.repo(spec.entity).add(entity)
    entity_id = getattr(entity, "id")  # noqa: B009 - generic entity
    audit(
        uow,
        actor,
        org_id=org_id,
        type=f"{spec.name}.created",
        object_type=spec.name,
        object_id=entity_id,
        now=now,
        after=summarize(entity),
    )
    return entity


def update(
    uow: UnitOfWork,
    actor: Actor,
    spec: ResourceSpec[T],
    entity_id: str,
    changes: Mapping[str, Any],
    now: datetime,
) -> T:
    actor.require_write()
    org_id = actor.require_org()
    repo = uow.repo(spec.entity)
    before = repo.get(entity_id)
    changed = {k: v for k, v in changes.items() if getattr(before, k) != v}
    if not changed:
        return before
    after = dataclasses.replace(before, **changed)  # type: ignore[type-var]
    _check_references(uow, spec, after)
    if spec.validate is not None:
        spec.validate(uow, after)
    repo.update(after)
    if spec.after_update is not None:
        spec.after_update(uow, before, after, now)
    old, new = summarize(before), summarize(after)
    audit(
        uow,
        actor,
        org_id=org_id,
        type=f"{spec.name}.updated",
        object_type=spec.name,
        object_id=entity_id,
        now=now,
        before={k: old[k] for k in changed},
        after={k: new[k] for k in changed},
    )
    return after


def delete(
    uow: UnitOfWork, actor: Actor, spec: ResourceSpec[T], entity_id: str, now: datetime
) -> None:
    actor.require_write()
    org_id = actor.require_org()
    repo = uow.repo(spec.entity)
    entity = repo.get(entity_id)
    for dep in spec.dependents:
        if not dep.cascade and uow.repo(dep.entity).count(**{dep.field: entity_id}):
            raise Conflict(
                f"this {spec.name.replace('_', ' ')} is still used by {dep.label}; "
                f"remove or move them first",
                field=f"{spec.name}_id",
            )
    for dep in spec.dependents:
        if dep.cascade:
            uow.repo(dep.entity).delete_where(**{dep.field: entity_id})
    if spec.before_delete is not None:
        spec.before_delete(uow, entity)
    repo.delete(entity_id)
    audit(
        uow,
        actor,
        org_id=org_id,
        type=f"{spec.name}.deleted",
        object_type=spec.name,
        object_id=entity_id,
        now=now,
        before=summarize(entity),
    )


def delete_returning(
    uow: UnitOfWork, actor: Actor, spec: ResourceSpec[T], entity_id: str, now: datetime
) -> T:
    """:func:`delete`, answering with the entity as it was (a page names what went)."""
    entity = uow.repo(spec.entity).get(entity_id)
    delete(uow, actor, spec, entity_id, now)
    return entity


def get(uow: UnitOfWork, spec: ResourceSpec[T], entity_id: str) -> T:
    return uow.repo(spec.entity).get(entity_id)
