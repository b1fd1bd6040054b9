"""Client credentials against a running Gatehouse with third-party Python clients.

Authlib validates the server's RFC 8414 metadata and fetches a token with the
client's registered authentication method; PyJWT verifies it against the published
JWK Set as an RFC 9068 access token, and must refuse a tampered copy.

Env: GATEHOUSE_URL, CLIENT_ID, CLIENT_SECRET, AUTH_METHOD
(client_secret_basic | client_secret_post), AUDIENCE.
Prints one JSON line; exits non-zero on any failure.

`private_key_jwt.py` reuses `discover` and `check_token` for RFC 7523 clients.
"""

import json
import os
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata


class Metadata(AuthorizationServerMetadata):
    """Authlib's RFC 8414 validation but one check: Authlib refuses an empty
    `response_types_supported` as if it were missing. RFC 8414 requires the member,
    and a server with no authorization endpoint (client credentials only) supports
    no response type, so `[]` is its honest value."""

    def validate_response_types_supported(self):
        if not isinstance(self.get("response_types_supported"), list):
            raise ValueError('"response_types_supported" MUST be a JSON array')


def discover(url: str, method: str | None) -> Metadata:
    """The server's RFC 8414 metadata, validated by Authlib, naming `url` as its
    issuer and offering `method` (unless None)."""
    response = requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=10)
    response.raise_for_status()
    metadata = Metadata(response.json())
    metadata.validate()
    if metadata["issuer"] != url:
        raise SystemExit(f"metadata issuer {metadata['issuer']!r} is not {url!r}")
    offered = metadata["token_endpoint_auth_methods_supported"]
    if method is not None and method not in offered:
        raise SystemExit(f"{method} is not in the metadata")
    return metadata


def check_token(token: dict, jwks: jwt.PyJWKClient, url: str, audience: str) -> dict:
    """Verifies Authlib's `token` response with PyJWT (signature by the JWK Set,
    issuer, audience, required claims) and checks that a tampered copy is refused.
    Returns what the Rust test asserts on."""
    access_token = token["access_token"]
    if token.get("token_type", "").lower() != "bearer":
        raise SystemExit(f"token_type {token.get('token_type')!r}")

    header = jwt.get_unverified_header(access_token)
    if header.get("typ") != "at+jwt":
        raise SystemExit(f"header typ {header.get('typ')!r}, not at+jwt")

    def verify(candidate: str) -> dict:
        key = jwks.get_signing_key_from_jwt(candidate)
        return jwt.decode(
            candidate,
            key,
            algorithms=["ES256"],
            audience=audience,
            issuer=url,
            options={"require": ["exp", "iat", "sub", "jti"]},
        )

    claims = verify(access_token)

    # One character of the signature changed: still base64url, a different signature.
    head, payload, signature = access_token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    tampered = f"{head}.{payload}.{signature[:10]}{flipped}{signature[11:]}"
    try:
        verify(tampered)
        tampered_rejected = False
    except jwt.InvalidSignatureError:
        tampered_rejected = True
    if not tampered_rejected:
        raise SystemExit("PyJWT accepted a tampered token")

    return {
        "header": header,
        "claims": claims,
        "scope": token.get("scope"),
        "expires_in": token.get("expires_in"),
        "tampered_rejected": tampered_rejected,
    }


def main() -> None:
    url = os.environ["GATEHOUSE_URL"]
    audience = os.environ["AUDIENCE"]
    method = os.environ["AUTH_METHOD"]
    metadata = discover(url, method)

    session = OAuth2Session(
        os.environ["CLIENT_ID"],
        os.environ["CLIENT_SECRET"],
        token_endpoint_auth_method=method,
    )
    token = session.fetch_token(
        metadata["token_endpoint"], grant_type="client_credentials", timeout=10
    )
    checked = check_token(token, jwt.PyJWKClient(metadata["jwks_uri"]), url, audience)
    print(json.dumps({"auth_method": method, **checked}))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 — any failure is the test's failure
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
