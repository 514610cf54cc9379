"""OPC-UA application certificates, trust lists and readable security failures.

Folder layout under a PKI root (the client's ``opcua.pki_dir``, the simulator's ``--pki``)::

    own/cert.der  own/key.pem   this application's self-signed certificate (created when missing)
    trusted/                    peer certificates (DER or PEM) this application accepts
    rejected/                   peer certificates it refused, saved so an administrator can
                                check the fingerprint and move them into trusted/

Trust is by exact certificate (SHA-256 fingerprint); the folder is re-read on every connection, so
trusting a peer needs no restart.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto import cert_gen
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from plantpulse.data.core.errors import PlantPulseError

log = logging.getLogger(__name__)

_REFUSED_USER = {ua.StatusCodes.BadUserAccessDenied, ua.StatusCodes.BadIdentityTokenInvalid,
                 ua.StatusCodes.BadIdentityTokenRejected}
_REFUSED_CERT = {ua.StatusCodes.BadCertificateUntrusted, ua.StatusCodes.BadCertificateInvalid,
                 ua.StatusCodes.BadSecurityChecksFailed, ua.StatusCodes.BadCertificateUriInvalid,
                 ua.StatusCodes.BadCertificateTimeInvalid, ua.StatusCodes.BadCertificateUseNotAllowed,
                 ua.StatusCodes.BadCertificateRevoked}
_REFUSED_POLICY = {ua.StatusCodes.BadSecurityPolicyRejected, ua.StatusCodes.BadSecurityModeRejected}


class OpcUaSecurityError(PlantPulseError):
    """A connection was refused for security reasons; retrying will not help until it is fixed."""


@dataclass(frozen=True, slots=True)
class Pki:
    """The certificate folders of one application (see the module docstring)."""

    root: Path
    trusted_dir: Path | None = None  # another folder to trust instead of root/trusted

    @property
    def cert(self) -> Path:
        return self.root / "own" / "cert.der"

    @property
    def key(self) -> Path:
        return self.root / "own" / "key.pem"

    @property
    def trusted(self) -> Path:
        return self.trusted_dir or self.root / "trusted"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"

    async def ensure_identity(self, application_uri: str, server: bool) -> tuple[Path, Path]:
        """Create this application's key and self-signed certificate unless valid ones exist."""
        for folder in (self.cert.parent, self.root / "trusted", self.rejected):
            folder.mkdir(parents=True, exist_ok=True)
        uses = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            uses = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        await cert_gen.setup_self_signed_certificate(
            self.key, self.cert, application_uri, socket.gethostname(), uses, {"organizationName": "PlantPulse"})
        self.key.chmod(0o600)
        return self.cert, self.key


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else "?"


def _load_any(path: Path) -> x509.Certificate | None:
    if path.suffix.lower() not in {".der", ".pem", ".crt", ".cer"}:
        return None
    data = path.read_bytes()
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        try:
            return x509.load_pem_x509_certificate(data)
        except ValueError:  # e.g. a private key next to a certificate in an own/ folder
            log.debug("Ignoring %s in the trust list: not a DER or PEM certificate.", path)
            return None


@dataclass
class TrustList:
    """Validates a peer's certificate against ``pki.trusted``; refused ones go to ``pki.rejected``."""

    pki: Pki
    peer_is_server: bool
    last_rejected: Path | None = field(default=None, init=False)

    def trusted_fingerprints(self) -> set[str]:
        if not self.pki.trusted.is_dir():
            return set()
        certs = (_load_any(p) for p in sorted(self.pki.trusted.iterdir()) if p.is_file())
        return {fingerprint(c) for c in certs if c is not None}

    async def validate(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        peer = CertificateValidatorOptions.PEER_SERVER if self.peer_is_server else CertificateValidatorOptions.PEER_CLIENT
        await CertificateValidator(CertificateValidatorOptions.BASIC_VALIDATION | peer).validate(cert, app)
        if fingerprint(cert) in self.trusted_fingerprints():
            return
        self.pki.rejected.mkdir(parents=True, exist_ok=True)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in common_name(cert))[:60]
        path = self.pki.rejected / f"{safe}_{fingerprint(cert)[:16]}.der"
        path.write_bytes(cert.public_bytes(Encoding.DER))
        self.last_rejected = path
        log.error("Refused the certificate of %s (CN=%s, SHA-256 %s): not in %s. Saved to %s.",
                  app.ApplicationUri, common_name(cert), fingerprint(cert), self.pki.trusted, path)
        raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    __call__ = validate


def explain_refusal(err: BaseException, endpoint: str, pki: Pki | None, trust: TrustList | None,
                    username: str | None) -> OpcUaSecurityError | None:
    """A clear error for a security refusal, or None when ``err`` is not one."""
    code = getattr(err, "code", None)
    if code is None and isinstance(err.__cause__, ServiceError):
        code = err.__cause__.code
    if code in _REFUSED_USER:
        who = f"user {username!r}" if username else "anonymous access"
        return OpcUaSecurityError(
            f"The OPC-UA server at {endpoint} refused {who} ({ua.StatusCode(code).name}). Check "
            "PLANTPULSE_OPCUA__USERNAME and PLANTPULSE_OPCUA__PASSWORD.")
    if code in _REFUSED_CERT and trust is not None and trust.last_rejected is not None:
        return OpcUaSecurityError(
            f"The certificate of the OPC-UA server at {endpoint} is not trusted. It was saved to "
            f"{trust.last_rejected}; check its fingerprint with the server's administrator, then move "
            f"it into {trust.pki.trusted}/ and retry.")
    if code in _REFUSED_CERT:
        own = pki.cert if pki is not None else "this client's certificate"
        return OpcUaSecurityError(
            f"The OPC-UA server at {endpoint} refused this client's certificate "
            f"({ua.StatusCode(code).name}). Add {own} to the server's trusted certificates "
            "(for `plantpulse opcua-sim`: its pki/trusted folder) and retry.")
    if code in _REFUSED_POLICY:
        return OpcUaSecurityError(
            f"The OPC-UA server at {endpoint} refused the security policy ({ua.StatusCode(code).name}). "
            "Check opcua.security_policy and opcua.security_mode against the server's endpoints.")
    return None
