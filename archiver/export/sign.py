"""Anonymous WACZ signatures (WACZ Signing and Verification 0.1.0, "anonymous" form).

The signed message is the ``hash`` string of datapackage-digest.json (``"sha256:<hex>"``),
signed with ECDSA P-256 / SHA-256. As ArchiveWeb.page and WebCrypto do, ``signature`` is
the base64 of the raw r||s pair and ``publicKey`` the base64 of the DER
SubjectPublicKeyInfo. Verification also accepts a DER-encoded signature (authsign's form).
Whose key it is must be established out of band: the package alone proves only integrity.
"""
from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from ..errors import ConfigError

_P256_BYTES = 32


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The configured signing key; ConfigError (one line) when unreadable or not ECDSA P-256."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"config: 'export.signing_key': cannot load {path} ({str(exc).splitlines()[0]})") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigError(f"config: 'export.signing_key': {path} is not an ECDSA P-256 private key")
    return key


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def sign(key: ec.EllipticCurvePrivateKey, hash_str: str, created: str, software: str) -> dict:
    """The ``signedData`` object for datapackage-digest.json."""
    r, s = decode_dss_signature(key.sign(hash_str.encode("utf-8"), ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
    return {"hash": hash_str, "signature": base64.b64encode(raw).decode("ascii"),
            "publicKey": public_key_b64(key), "created": created, "software": software}


def check(signed: dict) -> str | None:
    """None when ``signature`` is a valid signature of ``hash`` by ``publicKey``, else why not."""
    try:
        pub = serialization.load_der_public_key(base64.b64decode(signed["publicKey"], validate=True))
        sig = base64.b64decode(signed["signature"], validate=True)
        message = signed["hash"].encode("utf-8")
    except (KeyError, TypeError, ValueError, binascii.Error, AttributeError) as exc:
        return f"signedData is incomplete or malformed ({type(exc).__name__})"
    if not isinstance(pub, ec.EllipticCurvePublicKey):
        return "publicKey is not an ECDSA key"
    size = (pub.curve.key_size + 7) // 8
    if len(sig) == 2 * size:  # raw r||s
        sig = encode_dss_signature(int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big"))
    try:
        pub.verify(sig, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return "signature does not verify with the included publicKey"
    return None
