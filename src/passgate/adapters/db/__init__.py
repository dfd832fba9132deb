"""Storage adapters. Importing the package loads every area's tables onto `metadata`."""

# Area modules add their tables to `metadata` when imported; keep one import per line.
import passgate.adapters.db.change_log
import passgate.adapters.db.rate_limits
import passgate.adapters.db.tables_app
import passgate.adapters.db.tables_door_commands
import passgate.adapters.db.tables_passes
import passgate.adapters.db.tables_readers
import passgate.adapters.db.tables_sso  # noqa: F401
