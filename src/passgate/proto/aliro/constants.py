"""Identifiers and fixed values of Aliro 1.0 (expedited phase over NFC).

Every value here is published: the Aliro 1.0 specification's worked examples (Appendix
14.3/14.4, kept in ``tests/proto/aliro/vectors-1.0.json``), its certification test plan
and the public write-up of the protocol. ``docs/aliro.md`` maps each message to the code
that handles it.
"""

from __future__ import annotations

from typing import Final

AID_PRIMARY: Final = bytes.fromhex("A000000909ACCE5501")  # expedited phase
AID_STEP_UP: Final = bytes.fromhex("A000000909ACCE5502")

CLA_ISO: Final = 0x00
CLA_PROPRIETARY: Final = 0x80
CLA_CHAINING: Final = 0x10  # ISO 7816-4 command chaining bit: more parts follow

INS_SELECT: Final = 0xA4
INS_AUTH0: Final = 0x80
INS_LOAD_CERTIFICATE: Final = 0xD1
INS_AUTH1: Final = 0x81
INS_EXCHANGE: Final = 0xC9
INS_CONTROL_FLOW: Final = 0x3C
INS_ENVELOPE: Final = 0xC3
INS_GET_RESPONSE: Final = 0xC0

# Protocol versions, two bytes each. 0100 is Aliro 1.0; 0009 is what earlier Apple and
# Google Wallet releases announce. SELECT, AUTH0, AUTH1 and the cryptography are the same.
VERSION_1_0: Final = 0x0100
VERSION_0_9: Final = 0x0009
SUPPORTED_VERSIONS: Final = (VERSION_1_0, VERSION_0_9)  # in order of preference

# SELECT response (FCI template)
TAG_FCI: Final = 0x6F
TAG_DF_NAME: Final = 0x84
TAG_FCI_PROPRIETARY: Final = 0xA5
TAG_MEDIUM_TYPE: Final = 0x80
TAG_VERSIONS: Final = 0x5C
TAG_EXTENDED_LENGTH: Final = 0x7F66  # extended length information: two INTEGERs
TAG_INTEGER: Final = 0x02
MEDIUM_MOBILE: Final = b"\x00\x00"

# AUTH0
TAG_FLAGS: Final = 0x41  # AUTH0 transaction flags / AUTH1 command parameters
TAG_AUTH_POLICY: Final = 0x42
TAG_READER_EPHEMERAL_KEY: Final = 0x87
TAG_TRANSACTION_ID: Final = 0x4C
TAG_READER_ID: Final = 0x4D
TAG_READER_EXTENSION: Final = 0xB1  # vendor extension in AUTH0 (feeds the HKDF info)
TAG_DEVICE_EPHEMERAL_KEY: Final = 0x86
TAG_CRYPTOGRAM: Final = 0x9D
TAG_DEVICE_EXTENSION: Final = 0xB2  # vendor extension in the AUTH0 answer

FLAGS_STANDARD: Final = 0x00
FLAGS_FAST: Final = 0x01

POLICY_USER_DEVICE_SETTING: Final = 0x01
POLICY_SECURE_ACTION: Final = 0x02
POLICY_FORCE_USER_AUTH: Final = 0x03
AUTH_POLICIES: Final = (POLICY_USER_DEVICE_SETTING, POLICY_SECURE_ACTION, POLICY_FORCE_USER_AUTH)

# AUTH1
TAG_SIGNATURE: Final = 0x9E
TAG_READER_CERTIFICATE: Final = 0x90
TAG_CREDENTIAL_PUBLIC_KEY: Final = 0x5A
TAG_KEY_SLOT: Final = 0x4E
TAG_SIGNALING: Final = 0x5E
TAG_ISSUED_AT: Final = 0x91
TAG_EXPIRES_AT: Final = 0x92
AUTH1_RETURN_KEY_SLOT: Final = 0x00  # AUTH1 41: answer with 4E
AUTH1_RETURN_PUBLIC_KEY: Final = 0x01  # AUTH1 41: answer with 5A

# EXCHANGE: the reader status closes a transaction inside the secure channel.
TAG_READER_STATUS: Final = 0x97
# 01xx report the door's state after a success (0100 secured, 0101 unsecured: opened);
# 00xx are failures.
READER_STATUS_SECURED: Final = 0x0100
READER_STATUS_GRANTED: Final = 0x0101  # access granted: the door is unsecured (open)
READER_STATUS_UNKNOWN_KEY: Final = 0x0001  # public key not found
READER_STATUS_BAD_SIGNATURE: Final = 0x0004
READER_STATUS_BAD_FORMAT: Final = 0x0006  # invalid data format
READER_STATUS_NO_KEY_SLOT: Final = 0x0021  # key slot not found
READER_STATUS_DENIED: Final = 0x0025  # invalid access rights
EXCHANGE_OK: Final = b"\x00\x02\x00\x00"  # the device's answer: status length 2, success
EXCHANGE_MAILBOX_ERROR: Final = b"\x00\x02\xff\xff"

# CONTROL FLOW: failures before a secure channel exists.
TAG_S1: Final = 0x41
TAG_S2: Final = 0x42
TAG_READER_INFO: Final = 0x43
S1_FAILURE: Final = 0x00
S2_GENERIC: Final = 0x00
S2_NO_COMMON_VERSION: Final = 0x27

# Key derivation
INTERFACE_NFC: Final = 0x5E
INTERFACE_BLE: Final = 0xC3
LABEL_VOLATILE: Final = b"Volatile****"
LABEL_PERSISTENT: Final = b"Persistent**"
LABEL_FAST: Final = b"VolatileFast"
READER_USAGE: Final = bytes.fromhex("415D9569")  # tag 93 of the reader's signed data
DEVICE_USAGE: Final = bytes.fromhex("4E887B4C")  # tag 93 of the device's signed data
TAG_USAGE: Final = 0x93

GROUP_ID_LEN: Final = 16
SUB_ID_LEN: Final = 16
READER_ID_LEN: Final = GROUP_ID_LEN + SUB_ID_LEN
TRANSACTION_ID_LEN: Final = 16
PUBLIC_KEY_LEN: Final = 65  # uncompressed P-256 point
SIGNATURE_LEN: Final = 64  # raw r || s
CRYPTOGRAM_LEN: Final = 64  # 48 bytes of sealed TLVs + 16-byte GCM tag
KEY_LEN: Final = 32
KEY_SLOT_LEN: Final = 8
DATE_LEN: Final = 20
