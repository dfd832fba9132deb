"""Identifiers of the Aliro-style NFC protocol: AIDs, instructions, tags, fixed values.

Values come from the public write-up of Aliro (github.com/kormax/aliro, README) unless
marked "our choice"; those fill gaps the write-up leaves open and are explained in
:mod:`passgate.proto.aliro.crypto`.
"""

from __future__ import annotations

from typing import Final

AID_PRIMARY: Final = bytes.fromhex("A000000909ACCE5501")
AID_STEP_UP: Final = bytes.fromhex("A000000909ACCE5502")

CLA_ISO: Final = 0x00
CLA_PROPRIETARY: Final = 0x80

INS_SELECT: Final = 0xA4
INS_AUTH0: Final = 0x80
INS_LOAD_CERTIFICATE: Final = 0xD1
INS_AUTH1: Final = 0x81
INS_EXCHANGE: Final = 0xC9
INS_CONTROL_FLOW: Final = 0x3C
INS_ENVELOPE: Final = 0xC3
INS_GET_RESPONSE: Final = 0xC0

# Protocol versions are two bytes, major then minor. 1.0 (Samsung) and 0.9 (Apple/Google)
# are seen in the wild; we speak both identically and prefer the highest common one.
VERSION_1_0: Final = 0x0100
VERSION_0_9: Final = 0x0009
SUPPORTED_VERSIONS: Final = (VERSION_1_0, VERSION_0_9)

# SELECT response (FCI template)
TAG_FCI: Final = 0x6F
TAG_DF_NAME: Final = 0x84
TAG_FCI_PROPRIETARY: Final = 0xA5
TAG_MEDIUM_TYPE: Final = 0x80
TAG_VERSIONS: Final = 0x5C
TAG_CAPABILITIES: Final = 0x7F66
TAG_CAPABILITY: Final = 0x02

MEDIUM_MOBILE: Final = b"\x00\x00"

# AUTH0 / AUTH1 / CONTROL FLOW
TAG_FLAGS: Final = 0x41
TAG_TRANSACTION_CODE: Final = 0x42
TAG_STATUS: Final = 0x43
TAG_READER_EPHEMERAL_KEY: Final = 0x87
TAG_TRANSACTION_ID: Final = 0x4C
TAG_READER_ID: Final = 0x4D
TAG_DEVICE_EPHEMERAL_KEY: Final = 0x86
TAG_CRYPTOGRAM: Final = 0x9D
TAG_SIGNATURE: Final = 0x9E
TAG_DEVICE_ID: Final = 0x4E
TAG_PUBLIC_KEY: Final = 0x5A
TAG_MEDIUM_ID: Final = 0x5E
TAG_ISSUANCE_DATE: Final = 0x91
TAG_USAGE: Final = 0x93  # our choice: signing-input usage marker, as in UnifiedAccess

FLAG_STANDARD_ONLY: Final = 0x00  # AUTH0 41: skip FAST
FLAG_TRY_FAST: Final = 0x01  # AUTH0 41: attempt FAST
AUTH1_RETURN_IDENTIFIER: Final = 0x00  # AUTH1 41: device answers with 4E
AUTH1_RETURN_PUBLIC_KEY: Final = 0x01  # AUTH1 41: device answers with 5A

TRANSACTION_UNLOCK: Final = 0x00
TRANSACTION_LOCK: Final = 0x01

# CONTROL FLOW 43 (our choice; the write-up only says the tag is optional)
STATUS_DENIED: Final = 0x00
STATUS_GRANTED: Final = 0x01

GROUP_ID_LEN: Final = 16
INSTANCE_ID_LEN: Final = 16
READER_ID_LEN: Final = GROUP_ID_LEN + INSTANCE_ID_LEN
TRANSACTION_ID_LEN: Final = 16
PUBLIC_KEY_LEN: Final = 65  # uncompressed P-256 point
SIGNATURE_LEN: Final = 64  # raw r || s
CRYPTOGRAM_LEN: Final = 64
KEY_LEN: Final = 32
DEVICE_ID_LEN: Final = 8
