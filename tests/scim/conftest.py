"""SCIM tests provision Apple Passes too: reuse the Wallet signing set-up of the pass tests."""

from tests.passes.conftest import dev_chain, settings  # noqa: F401
