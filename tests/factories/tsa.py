"""A real RFC 3161 time-stamping authority for tests: `openssl ts -reply` behind http.server.

The test CA and the authority's certificate (extendedKeyUsage critical timeStamping) are
generated with `cryptography`; each request is answered by the openssl command line.
"""

import datetime
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {folder}
serial = $dir/serial
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass
class LoopbackAuthority:
    """A running authority: its URL, its CA certificate file, and a switch to make it fail."""

    url: str
    ca_certificate: Path
    failing: bool = False
    answered: int = 0
    delay_s: float = 0.0  # how long each answer takes, so that tests can overlap two requests


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
                 issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
        ), critical=True)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_pki(folder: Path) -> None:
    ca_key, tsa_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Witnessbox test CA", ca_key, "Witnessbox test CA", ca_key, ca=True)
    tsa = _certificate("Witnessbox test TSA", tsa_key, "Witnessbox test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (folder / "tsa.key").write_bytes(tsa_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(_CONFIG.format(folder=folder))


def _reply(folder: Path, query: bytes) -> bytes:
    with tempfile.TemporaryDirectory(dir=folder) as work:
        (Path(work) / "q.tsq").write_bytes(query)
        subprocess.run(
            ["openssl", "ts", "-reply", "-config", str(folder / "tsa.cnf"),
             "-queryfile", f"{work}/q.tsq", "-out", f"{work}/r.tsr"],
            check=True, capture_output=True,
        )
        return (Path(work) / "r.tsr").read_bytes()


@contextmanager
def running_authority(folder: Path) -> Iterator[LoopbackAuthority]:
    """Start an authority on 127.0.0.1 for the duration of the block."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_pki(folder)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(authority.delay_s)
            if authority.failing:
                self.send_error(503, "authority down")
                return
            with lock:  # openssl increments one serial file
                answer = _reply(folder, query)
                authority.answered += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    authority = LoopbackAuthority(f"http://127.0.0.1:{server.server_port}/tsa", folder / "ca.pem")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield authority
    finally:
        server.shutdown()
        server.server_close()
