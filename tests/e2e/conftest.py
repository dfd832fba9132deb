"""One running demo stack per test module, and a fresh member for every test.

The stack is the real thing `passgate demo` starts (``DemoStack``): Passgate on SQLite
with its outbox worker, the development IdP, a local APNs receiver and one reader agent
per seeded door, all on free loopback ports with a temporary data directory. These
tests run on SQLite only, the demo's embedded default (like test_demo_scenario.py); the
layers beneath run on SQLite and PostgreSQL in their own suites.

Independence: the dev IdP's users are fixed when it starts, so the module fixture
writes a pool of IdP users first; each test takes the next one and makes it a fresh
member through the REST API (with Staff access). Tests that flip an organization-wide
switch (MFA required, the subscription, a reader's link or tamper state) put it back
in a ``finally``. A fresh organization is made where one is needed without sign-in
(the dev IdP only knows the demo organization's redirect URI).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.world import Person, World

from passgate.demo.stack import DemoStack, pick_ports
from passgate.devidp.users import load_users, new_user, save_users
from passgate.sim.home import Account

POOL = 10  # IdP users per module; a test takes one (or two)
DOMAIN = "acme.example"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("demo")
    users_file = Path(data) / "devidp-users.json"
    users = load_users(users_file)
    passwords = {}
    for i in range(1, POOL + 1):
        name = f"e2e{i:02d}"
        passwords[name] = f"{name}-pw"
        users[name] = new_user(name, f"{name}@{DOMAIN}", passwords[name])
    save_users(users_file, users)
    host = "127.0.0.1"
    port, idp_port = pick_ports(host)
    stack = DemoStack(data_dir=Path(data), host=host, port=port, idp_port=idp_port)
    stack.start()
    try:
        home = stack.sim_home
        for name, password in passwords.items():
            home.save_account(Account(name, password, users[name].totp_secret))
        w = World(stack, sorted(passwords), DOMAIN)
        try:
            yield w
        finally:
            w.close()
    finally:
        stack.stop()


@pytest.fixture
def person(world: World) -> Person:
    return world.new_person()
