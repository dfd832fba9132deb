"""`passgate demo --scenario` end to end: every process of the demo, the emulator, real HTTP.

Runs on SQLite only (the demo's embedded default); the layers beneath run on both
databases in their own suites. One subprocess, a temporary data directory, free ports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RULE_LINES = [
    ("R2", "refused (sign-in failed)"),
    ("R2", "MFA proven"),
    ("R5", "add on iOS 16.7: refused"),
    ("R5", "add with app 45.9: refused"),
    ("R9", "iPhone only, watch skipped"),
    ("R9", "iPhone and watch"),
    ("R11", "granted (granted)"),
    ("R13", "denied (tamper_protection_off)"),
    ("R12", "denied (unsupported_method)"),
    ("R27", "app sign-in registered the app's own key"),
    ("R27", "wave at the front door: granted (granted)"),
    ("R27", "wave at the lab: denied (tamper_protection_off)"),
    ("R27", "wave with Bluetooth off: nothing happened"),
    ("R27", "app credential suspended: denied (credential_suspended)"),
    ("R27", "app credential resumed: granted (granted)"),
    ("R27", "wave after signing out of the app: nothing happened"),
    ("R6", "denied (no_access_right)"),
    ("R19", "denied (pass_suspended)"),
    ("R19", "shows Suspended"),
    ("R7", "add while suspended: refused"),
    ("R3", "denied (org_not_eligible)"),
    ("R1", "subscription expired mid-life: denied (org_not_eligible)"),
    ("R14", "denied (reader_tampered)"),
    ("R14", "tamper cleared by the admin: granted"),
    ("R16", "denied (cache_stale)"),
    ("R10", "shows Replaced by a newer device, voided"),
    ("R10", "old iPhone taps: denied (device_replaced)"),
    ("R10", "old watch taps: denied (device_replaced)"),
    ("R21", "404, nothing leaked"),
    ("R19", "denied (pass_deleted)"),
    ("R19", "shows Deleted, voided"),
    ("R7", "a new pass with new serials"),
    ("R15", "one per decision"),
]


def test_demo_scenario_tells_every_rule(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSGATE_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "passgate.cli",
            "demo",
            "--scenario",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "demo"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for rule, text in RULE_LINES:
        assert any(line.startswith(rule + " ") and text in line for line in lines), (
            f"no {rule} line with {text!r} in:\n{done.stdout}"
        )
    assert "DEVIATION" not in done.stdout
    assert lines[-1].startswith("scenario complete")
