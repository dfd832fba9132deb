"""Adding a reader and handing out its pairing code, as whole commands (the dashboard's
forms, and any other caller): each checks the caller's role, owns its transaction and
reads the clock. The code is returned once and never stored in clear
(``reader_gateway.create_pairing_code``).

The reader row itself follows the directory's description of a reader (references,
validation, audit), which the composition root passes in: readers and directory are
independent areas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from passgate.domain import model as m
from passgate.services import resources
from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.ports import Clock, UnitOfWorkFactory
from passgate.services.readers.reader_gateway import PairingCode, create_pairing_code
from passgate.services.resources import ResourceSpec


@dataclass(frozen=True)
class Paired:
    reader: m.Reader
    code: PairingCode


@dataclass(frozen=True)
class PairingCommands:
    uow_factory: UnitOfWorkFactory
    clock: Clock
    reader_spec: ResourceSpec[m.Reader]

    def add_reader(self, actor: Actor, values: Mapping[str, Any]) -> Paired:
        """A new reader and its first pairing code, in one transaction."""
        authorize(actor, "create_reader")
        authorize(actor, "create_reader_pairing_code")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            reader = resources.create(uow, actor, self.reader_spec, values, now)
            return Paired(reader, create_pairing_code(uow, actor, reader.id, now))

    def new_code(self, actor: Actor, reader_id: str) -> Paired:
        """A fresh pairing code for a reader (the previous one stops working)."""
        authorize(actor, "create_reader_pairing_code")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            reader = uow.repo(m.Reader).get(reader_id)
            return Paired(reader, create_pairing_code(uow, actor, reader_id, now))
