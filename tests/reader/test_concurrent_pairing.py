"""Many readers of a new organization pair at the same moment (a site being installed).

The first pairing of an organization creates its snapshot-signing key and its current
Aliro reader group. Forty readers pair at once through a live server, on both
databases: every one must be paired (no 409 from the race to create the key, no 500
"database is locked"), all of them must be told the same server key, and all must be
certified under the one current group.
"""

from __future__ import annotations

import asyncio

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from tests.conftest import Org
from tests.reader.support import live_server

from passgate.bootstrap import Container
from passgate.proto import snapshot as snap
from passgate.proto.aliro import crypto
from passgate.services.ports import AliroReaderGroup, ReaderOrgKey

READERS = 40


def _new_readers(client: TestClient, count: int) -> tuple[Org, list[str]]:
    org = Org(client, "install")
    place = org.post("/places", {"name": "HQ", "timezone": "Europe/Berlin"})["id"]
    door = org.post("/doors", {"place_id": place, "name": "Front"})["id"]
    codes = []
    for i in range(count):
        reader = org.post(
            "/readers",
            {
                "door_id": door,
                "name": f"Reader {i}",
                "model": "reader_pro_2_1",
                "firmware": "2.1.0",
                "tamper_protection": True,
            },
        )["id"]
        r = client.post(f"/api/v1/readers/{reader}/pairing_code", headers=org.headers)
        assert r.status_code == 201, r.text
        codes.append(r.json()["code"])
    return org, codes


async def _pair_all(base: str, codes: list[str]) -> list[httpx.Response]:
    bodies = [
        {
            "code": code,
            "public_key": snap.public_pem(ec.generate_private_key(ec.SECP256R1())),
            "aliro_public_key": crypto.public_bytes(ec.generate_private_key(ec.SECP256R1())).hex(),
        }
        for code in codes
    ]
    limits = httpx.Limits(max_connections=len(codes))
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        return list(
            await asyncio.gather(*(http.post("/reader/v1/pair", json=body) for body in bodies))
        )


def test_concurrent_first_pairings_all_succeed_with_one_key_and_group(
    client: TestClient, container: Container
) -> None:
    org, codes = _new_readers(client, READERS)
    with live_server(container) as base:
        answers = asyncio.run(_pair_all(base, codes))
    statuses = sorted({r.status_code for r in answers})
    assert statuses == [200], [r.text for r in answers if r.status_code != 200][:3]
    made = [r.json() for r in answers]
    assert len({x["server_public_key"] for x in made}) == 1
    assert len({x["aliro"]["group_identifier"] for x in made}) == 1
    with container.uow_factory(org.id, write=False) as uow:
        keys = uow.repo(ReaderOrgKey).all_where()
        groups = uow.repo(AliroReaderGroup).all_where()
    assert [k.public_key for k in keys] == [made[0]["server_public_key"]]
    assert [(g.state, g.group_identifier) for g in groups] == [
        ("current", made[0]["aliro"]["group_identifier"])
    ]
