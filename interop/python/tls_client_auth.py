"""RFC 8705 `tls_client_auth` against a running Gatehouse with third-party Python
clients: the client authenticates at the token endpoint with its TLS certificate,
not a secret, and gets an access token bound to that certificate.

`requests` fetches the RFC 8414 metadata over HTTPS (trusting only CA_FILE), which
Authlib validates, and which must offer `tls_client_auth` and certificate-bound
tokens. Authlib's OAuth2Session (a `requests` session presenting the client
certificate) then fetches a token by client credentials: RFC 8705 §2 has the client
send its `client_id` in the body as a public client would, since the TLS handshake
is what authenticates it. PyJWT verifies the token against the JWK Set (fetched
here, as `PyJWKClient` cannot be given a CA bundle) as an RFC 9068 access token,
and its `cnf` `x5t#S256` (RFC 8705 §3.1) must be the SHA-256 thumbprint of the
certificate's DER, computed here with `cryptography`. The same request without the
certificate must be refused with 401 `invalid_client`.

Env: GATEHOUSE_URL (https://…), CA_FILE (the server's CA, PEM), CLIENT_CERT and
CLIENT_KEY (PEM files), CLIENT_ID.
Prints one JSON line; exits non-zero on any failure.
"""

import base64
import json
import os
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.auth import encode_none
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from client_credentials import Metadata

METHOD = "tls_client_auth"
TIMEOUT = 10


def discover(url: str, ca_file: str) -> Metadata:
    """The server's RFC 8414 metadata, validated by Authlib, naming `url` as its
    issuer and offering tls_client_auth with certificate-bound tokens."""
    response = requests.get(
        f"{url}/.well-known/oauth-authorization-server", verify=ca_file, timeout=TIMEOUT
    )
    response.raise_for_status()
    metadata = Metadata(response.json())
    metadata.validate()
    if metadata["issuer"] != url:
        raise SystemExit(f"metadata issuer {metadata['issuer']!r} is not {url!r}")
    if METHOD not in metadata["token_endpoint_auth_methods_supported"]:
        raise SystemExit(f"{METHOD} is not in the metadata")
    if metadata.get("tls_client_certificate_bound_access_tokens") is not True:
        raise SystemExit("the metadata does not offer certificate-bound tokens")
    return metadata


def thumbprint(cert_file: str) -> str:
    """RFC 8705 §3.1: base64url (no padding) of the SHA-256 of the certificate's DER."""
    with open(cert_file, "rb") as pem:
        cert = x509.load_pem_x509_certificate(pem.read())
    digest = hashes.Hash(hashes.SHA256())
    digest.update(cert.public_bytes(serialization.Encoding.DER))
    return base64.urlsafe_b64encode(digest.finalize()).rstrip(b"=").decode()


def verify(access_token: str, jwks_uri: str, ca_file: str, url: str) -> tuple[dict, dict]:
    """The header and claims of `access_token`, verified by PyJWT with the key of
    its `kid` from the server's JWK Set."""
    header = jwt.get_unverified_header(access_token)
    if header.get("typ") != "at+jwt":
        raise SystemExit(f"header typ {header.get('typ')!r}, not at+jwt")
    response = requests.get(jwks_uri, verify=ca_file, timeout=TIMEOUT)
    response.raise_for_status()
    keys = [k for k in response.json()["keys"] if k.get("kid") == header.get("kid")]
    if len(keys) != 1:
        raise SystemExit(f"{len(keys)} keys in the JWK Set for kid {header.get('kid')!r}")
    claims = jwt.decode(
        access_token,
        jwt.PyJWK(keys[0]).key,
        algorithms=["ES256"],
        # A client registered without an audience gets tokens for the issuer.
        audience=url,
        issuer=url,
        options={"require": ["exp", "iat", "sub", "jti", "cnf"]},
    )
    return header, claims


def main() -> None:
    url = os.environ["GATEHOUSE_URL"]
    ca_file = os.environ["CA_FILE"]
    certificate = (os.environ["CLIENT_CERT"], os.environ["CLIENT_KEY"])
    client_id = os.environ["CLIENT_ID"]
    metadata = discover(url, ca_file)
    token_endpoint = metadata["token_endpoint"]

    # Authlib knows no tls_client_auth of its own: the method is its `none` encoding
    # (client_id in the body) on a request that presents the certificate. `verify`
    # goes with the request, not the session: requests lets REQUESTS_CA_BUNDLE
    # override a session's `verify`.
    session = OAuth2Session(client_id, token_endpoint_auth_method=METHOD)
    session.register_client_auth_method((METHOD, encode_none))
    token = session.fetch_token(
        token_endpoint,
        grant_type="client_credentials",
        cert=certificate,
        verify=ca_file,
        timeout=TIMEOUT,
    )
    if token.get("token_type", "").lower() != "bearer":
        raise SystemExit(f"token_type {token.get('token_type')!r}")
    header, claims = verify(token["access_token"], metadata["jwks_uri"], ca_file, url)
    if claims.get("client_id") != client_id:
        raise SystemExit(f"client_id {claims.get('client_id')!r}, not {client_id!r}")
    expected = thumbprint(certificate[0])
    bound = claims["cnf"].get("x5t#S256")
    if bound != expected:
        raise SystemExit(f"cnf x5t#S256 {bound!r}, not the certificate's {expected!r}")

    # The same request from a client that presents no certificate.
    refused = requests.post(
        token_endpoint,
        data={"grant_type": "client_credentials", "client_id": client_id},
        verify=ca_file,
        timeout=TIMEOUT,
    )
    error = refused.json().get("error")
    if (refused.status_code, error) != (401, "invalid_client"):
        raise SystemExit(f"without a certificate: {refused.status_code} {refused.text}")

    print(
        json.dumps(
            {
                "auth_method": METHOD,
                "token_endpoint": token_endpoint,
                "bound_tokens_advertised": True,
                "token_type": token["token_type"],
                "scope": token.get("scope"),
                "expires_in": token.get("expires_in"),
                "header": header,
                "claims": claims,
                "thumbprint": expected,
                "without_certificate": {"status": refused.status_code, "error": error},
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 — any failure is the test's failure
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
