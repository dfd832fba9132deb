"""Routes for the configuration objects, made from one description each.

Every object kind gets the same five operations: list (paged, searchable),
create, read, partial update and delete. The routes only translate HTTP to the
service commands in ``passgate.services.resources``; the rules live there.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel

from passgate.domain.errors import ValidationError
from passgate.services.directory.commands import Rows
from passgate.services.resources import ResourceSpec
from passgate.web.api.schemas import ErrorBody
from passgate.web.deps import ActorDep, ContainerDep, PageDep, set_total

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)
}


def _article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


@dataclass(frozen=True)
class Routes:
    spec: ResourceSpec[Any]
    plural: str
    create_model: type[BaseModel]
    update_model: type[BaseModel]
    out_model: type[BaseModel]
    nullable: frozenset[str] = frozenset()
    # Turns entities into response dicts (adds computed fields such as readiness).
    render: Callable[[Rows[Any]], list[dict[str, Any]]] | None = None
    # Converts a request body to the entity's stored form (e.g. schedule windows).
    to_values: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda v: v)
    filters: tuple[str, ...] = ()


def _render(routes: Routes, rows: Rows[Any]) -> list[dict[str, Any]]:
    if routes.render is not None:
        return routes.render(rows)
    return [routes.out_model.model_validate(i).model_dump(mode="json") for i in rows.items]


def _null_check(routes: Routes, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if value is None and key not in routes.nullable:
            raise ValidationError(
                f"{key} cannot be null; leave it out to keep its value", field=key
            )


def add_routes(router: APIRouter, routes: Routes) -> None:
    spec = routes.spec
    name = spec.name
    param = f"{name}_id"
    tag = routes.plural.replace("_", " ").replace("-", " ")
    id_path = Annotated[str, Path(alias=param, min_length=1, max_length=40)]

    def list_items(
        c: ContainerDep,
        who: ActorDep,
        pg: PageDep,
        response: Response,
        q: Annotated[str | None, Query(max_length=100, description="Search text")] = None,
    ) -> list[dict[str, Any]]:
        rows = c.directory.page(who, spec, q=q, limit=pg.limit, offset=pg.offset)
        set_total(response, rows.total)
        return _render(routes, rows)

    def create_item(
        body: routes.create_model,  # type: ignore[name-defined]  # built per resource
        c: ContainerDep,
        who: ActorDep,
    ) -> dict[str, Any]:
        values = routes.to_values(body.model_dump())
        return _render(routes, c.directory.create(who, spec, values))[0]

    def get_item(entity_id: id_path, c: ContainerDep, who: ActorDep) -> dict[str, Any]:
        return _render(routes, c.directory.get(who, spec, entity_id))[0]

    def update_item(
        entity_id: id_path,
        body: routes.update_model,  # type: ignore[name-defined]  # built per resource
        c: ContainerDep,
        who: ActorDep,
    ) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        _null_check(routes, changes)
        rows = c.directory.update(who, spec, entity_id, routes.to_values(changes))
        return _render(routes, rows)[0]

    def delete_item(entity_id: id_path, c: ContainerDep, who: ActorDep) -> Response:
        c.directory.delete(who, spec, entity_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    base = f"/{routes.plural}"
    one = f"{base}/{{{param}}}"
    out = routes.out_model
    router.add_api_route(
        base,
        list_items,
        methods=["GET"],
        response_model=list[out],  # type: ignore[valid-type]
        operation_id=f"list_{routes.plural}",
        tags=[tag],
        summary=f"List {tag}",
        responses=ERRORS,
    )
    router.add_api_route(
        base,
        create_item,
        methods=["POST"],
        response_model=out,
        status_code=201,
        operation_id=f"create_{name}",
        tags=[tag],
        summary=f"Create {_article(name.replace('_', ' '))}",
        responses=ERRORS,
    )
    router.add_api_route(
        one,
        get_item,
        methods=["GET"],
        response_model=out,
        operation_id=f"get_{name}",
        tags=[tag],
        summary=f"Read {_article(name.replace('_', ' '))}",
        responses=ERRORS,
    )
    router.add_api_route(
        one,
        update_item,
        methods=["PATCH"],
        response_model=out,
        operation_id=f"update_{name}",
        tags=[tag],
        summary=f"Change {_article(name.replace('_', ' '))}",
        responses=ERRORS,
    )
    router.add_api_route(
        one,
        delete_item,
        methods=["DELETE"],
        status_code=204,
        operation_id=f"delete_{name}",
        tags=[tag],
        summary=f"Delete {_article(name.replace('_', ' '))}",
        responses=ERRORS,
        response_class=Response,
    )
