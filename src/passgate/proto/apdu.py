"""ISO/IEC 7816-4 command and response APDUs.

Command APDUs follow the four ISO cases in short form (Lc up to 255, Le up to 256 encoded
as ``00``) and extended form (a ``00`` marker, then two-byte Lc/Le; Le 65536 encoded as
``0000``). Encoding picks the short form whenever everything fits, because many NFC
front-ends and phones do not accept extended APDUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from passgate.errors import ProtocolError

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_STATUS_NOT_SATISFIED = 0x6982
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_WRONG_DATA = 0x6A80
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_INCORRECT_P1P2 = 0x6A86
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_UNKNOWN = 0x6F00

SHORT_MAX_DATA = 255
SHORT_MAX_LE = 256
EXTENDED_MAX_DATA = 65535
EXTENDED_MAX_LE = 65536


class ApduError(ProtocolError):
    """Malformed APDU bytes, or fields that cannot be encoded."""

    code = "apdu_error"


def _check_byte(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise ApduError(f"{name} must be one byte", field=name)


@dataclass(frozen=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # expected response length; None = no Le field

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            _check_byte(name, getattr(self, name))
        if len(self.data) > EXTENDED_MAX_DATA:
            raise ApduError("command data longer than 65535 bytes", field="data")
        if self.le is not None and not 0 < self.le <= EXTENDED_MAX_LE:
            raise ApduError("le must be between 1 and 65536", field="le")

    @cached_property
    def wire(self) -> bytes:
        """The encoding (:meth:`encode`), made once."""
        return self.encode()

    @property
    def extended(self) -> bool:
        return len(self.data) > SHORT_MAX_DATA or (self.le is not None and self.le > SHORT_MAX_LE)

    def encode(self) -> bytes:
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        if not self.extended:
            body = b""
            if self.data:
                body += bytes([len(self.data)]) + self.data
            if self.le is not None:
                body += bytes([self.le & 0xFF])  # 256 -> 00
            return header + body
        body = b"\x00"
        if self.data:
            body += len(self.data).to_bytes(2, "big") + self.data
        if self.le is not None:
            body += (self.le & 0xFFFF).to_bytes(2, "big")  # 65536 -> 0000
        return header + body

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        if len(raw) < 4:
            raise ApduError("command APDU shorter than its header", field="apdu")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if not body:  # case 1
            return cls(cla, ins, p1, p2)
        if len(body) == 1:  # case 2 short
            return cls(cla, ins, p1, p2, b"", body[0] or SHORT_MAX_LE)
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:  # case 3 short
                return cls(cla, ins, p1, p2, bytes(body[1:]))
            if len(body) == 2 + lc:  # case 4 short
                return cls(cla, ins, p1, p2, bytes(body[1 : 1 + lc]), body[-1] or SHORT_MAX_LE)
            raise ApduError("Lc does not match the command length", field="lc")
        return cls._parse_extended(cla, ins, p1, p2, body)

    @classmethod
    def _parse_extended(cls, cla: int, ins: int, p1: int, p2: int, body: bytes) -> CommandApdu:
        # body[0] == 0: either a short Lc of zero (invalid) or the extended marker.
        if len(body) == 3:  # case 2 extended
            return cls(cla, ins, p1, p2, b"", int.from_bytes(body[1:3], "big") or EXTENDED_MAX_LE)
        if len(body) < 3:
            raise ApduError("malformed extended length", field="lc")
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ApduError("extended Lc of zero", field="lc")
        data = bytes(body[3 : 3 + lc])
        rest = body[3 + lc :]
        if len(data) != lc:
            raise ApduError("Lc does not match the command length", field="lc")
        if not rest:  # case 3 extended
            return cls(cla, ins, p1, p2, data)
        if len(rest) == 2:  # case 4 extended
            return cls(cla, ins, p1, p2, data, int.from_bytes(rest, "big") or EXTENDED_MAX_LE)
        raise ApduError("trailing bytes after the command", field="le")


_LC = tuple(bytes((n,)) for n in range(256))  # the one-byte Lc of a short command


class CommandKind:
    """Commands of one kind (CLA, INS, P1 = P2 = 00, one Le) made on a hot path.

    The fields are checked once, here; :meth:`make` then builds a command without checks
    and with its short encoding (``wire``) already made when the data fits one.
    """

    __slots__ = ("_fields", "_head", "_le")

    def __init__(self, cla: int, ins: int, le: int | None) -> None:
        CommandApdu(cla, ins, 0, 0, b"", le)  # the checks, once
        if le is not None and le > SHORT_MAX_LE:
            raise ApduError("a command kind's le must fit the short form", field="le")
        self._fields = {"cla": cla, "ins": ins, "p1": 0, "p2": 0, "le": le}
        self._head = bytes((cla, ins, 0, 0))
        self._le = b"" if le is None else bytes((le & 0xFF,))  # 256 -> 00

    def make(self, data: bytes) -> CommandApdu:
        """The command with ``data`` (at most 65535 bytes); equal to the one the
        constructor makes, ``wire`` equal to :meth:`CommandApdu.encode`."""
        command = _new(CommandApdu)
        state = command.__dict__
        state.update(self._fields)
        state["data"] = data
        n = len(data)
        if 0 < n <= SHORT_MAX_DATA:
            state["wire"] = b"".join((self._head, _LC[n], data, self._le))
        elif n > EXTENDED_MAX_DATA:
            raise ApduError("command data longer than 65535 bytes", field="data")
        return command


_new = object.__new__


@dataclass(frozen=True)
class ResponseApdu:
    data: bytes
    sw1: int
    sw2: int

    def __post_init__(self) -> None:
        _check_byte("sw1", self.sw1)
        _check_byte("sw2", self.sw2)

    @property
    def sw(self) -> int:
        return (self.sw1 << 8) | self.sw2

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    @classmethod
    def status(cls, sw: int, data: bytes = b"") -> ResponseApdu:
        return cls(data, (sw >> 8) & 0xFF, sw & 0xFF)

    def encode(self) -> bytes:
        return bytes(self.data) + bytes((self.sw1, self.sw2))

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ApduError("response APDU shorter than its status word", field="apdu")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])
