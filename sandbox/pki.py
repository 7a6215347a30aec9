"""Certificates for the sandbox: one CA, the apiserver serving cert, client certs, and the service-account key."""
import datetime
import os
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

VALIDITY = datetime.timedelta(days=365)


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(path, key):
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not even briefly
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_cert(path, cert):
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(cn, org=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _sign(subject, public_key, ca_cert, ca_key, *, is_ca=False, server_sans=None, client=False):
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(ca_cert.subject if ca_cert else subject)
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now)
               .not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if is_ca:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    else:
        usages = []
        if server_sans:
            usages.append(x509.oid.ExtendedKeyUsageOID.SERVER_AUTH)
            builder = builder.add_extension(x509.SubjectAlternativeName(server_sans), critical=False)
        if client:
            usages.append(x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH)
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def ensure(pki_dir, clients):
    """Create the CA and certs once; later calls keep them so kubeconfigs stay valid.

    clients: mapping of file stem -> (common name, organization or None).
    """
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_crt, ca_key_path = pki_dir / "ca.crt", pki_dir / "ca.key"
    if not ca_crt.exists():
        ca_key = _key()
        ca = _sign(_name("istio-runbooks-sandbox-ca"), ca_key.public_key(), None, ca_key, is_ca=True)
        _write_key(ca_key_path, ca_key)
        _write_cert(ca_crt, ca)
    ca = x509.load_pem_x509_certificate(ca_crt.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)

    if not (pki_dir / "apiserver.crt").exists():
        key = _key()
        sans = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                           "kubernetes.default.svc.cluster.local")]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "10.96.0.1")]
        cert = _sign(_name("kube-apiserver"), key.public_key(), ca, ca_key, server_sans=sans)
        _write_key(pki_dir / "apiserver.key", key)
        _write_cert(pki_dir / "apiserver.crt", cert)

    for stem, (cn, org) in clients.items():
        if (pki_dir / f"{stem}.crt").exists():
            continue
        key = _key()
        cert = _sign(_name(cn, org), key.public_key(), ca, ca_key, client=True)
        _write_key(pki_dir / f"{stem}.key", key)
        _write_cert(pki_dir / f"{stem}.crt", cert)

    if not (pki_dir / "sa.key").exists():
        key = _key()
        _write_key(pki_dir / "sa.key", key)
        (pki_dir / "sa.pub").write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
