"""Apple Wallet pass files (.pkpass): build, sign, verify; development certificates.

Sans-IO: bytes in, bytes out, time passed in by the caller.
"""

from passgate.proto.passkit.certs import DevChain, check_pass_certificate, make_dev_chain
from passgate.proto.passkit.errors import PkpassError
from passgate.proto.passkit.images import default_images, encode_png
from passgate.proto.passkit.passjson import PassContent, build_pass_json, pass_dict
from passgate.proto.passkit.pkpass import (
    MIME_TYPE,
    VerifiedPass,
    build_manifest,
    build_pkpass,
    verify_pkpass,
)
from passgate.proto.passkit.signing import PassSigner

__all__ = [
    "MIME_TYPE",
    "DevChain",
    "PassContent",
    "PassSigner",
    "PkpassError",
    "VerifiedPass",
    "build_manifest",
    "build_pass_json",
    "build_pkpass",
    "check_pass_certificate",
    "default_images",
    "encode_png",
    "make_dev_chain",
    "pass_dict",
    "verify_pkpass",
]
