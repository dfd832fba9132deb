"""Adding a reader, handing out its pairing code and pairing the agent that brings it,
as whole commands (the dashboard's forms, the API, the reader gateway): each checks the
caller's role (or, for pairing, the one-time code), owns its transaction and reads the
clock. The code is returned once and never stored in clear
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
from passgate.services.ports import Clock, ReaderDirectory, SecretBox, UnitOfWorkFactory
from passgate.services.readers import reader_gateway
from passgate.services.readers.reader_gateway import Pairing, PairingCode, create_pairing_code
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
    directory: ReaderDirectory
    box: SecretBox

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

    def pair(self, *, code: str, public_key: str, aliro_public_key: str) -> Pairing:
        """A reader agent trades its one-time pairing code for its identity."""
        return reader_gateway.pair(
            self.uow_factory,
            self.directory,
            self.box,
            code=code,
            public_key=public_key,
            aliro_public_key=aliro_public_key,
            now=self.clock.now(),
        )
