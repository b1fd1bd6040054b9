"""private_key_jwt (RFC 7523 §2.2) against a running Gatehouse with Authlib and PyJWT.

Two modes:

`private_key_jwt.py genkey` generates one key pair per algorithm Gatehouse accepts
(ES256 on P-256, EdDSA on Ed25519, RS256 on RSA 2048) with `cryptography`, serializes
them as JWKs with PyJWT, and prints `{"private": <JWK Set>, "public": <JWK Set>}`:
the test registers the public set and hands the private one back.

Without arguments, for each private key in PRIVATE_JWKS, Authlib's own
`PrivateKeyJWT` client authentication (its assertion: iss = sub = client id, aud =
the token endpoint, a random jti, exp an hour ahead) fetches a token twice — two
assertions, since each jti is accepted once — and PyJWT verifies every token as
`client_credentials.py` does. Every request body Authlib sent is captured, so the
test can replay an assertion and see it refused.

Env: GATEHOUSE_URL, CLIENT_ID, AUDIENCE, PRIVATE_JWKS (the "private" set of genkey).
Prints one JSON line; exits non-zero on any failure.
"""

import json
import os
import sys
import warnings
from urllib.parse import parse_qs

import jwt
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc.jwk import import_key

from client_credentials import check_token, discover

METHOD = "private_key_jwt"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FETCHES_PER_KEY = 2

# joserfc warns that RFC 9864 deprecates the polymorphic "EdDSA" for "Ed25519"; the
# name Gatehouse accepts for Ed25519 keys is "EdDSA", so the warning is expected.
warnings.filterwarnings("ignore", message="EdDSA is deprecated")


def genkey() -> None:
    pairs = [
        ("ES256", ec.generate_private_key(ec.SECP256R1()), jwt.algorithms.ECAlgorithm),
        ("EdDSA", ed25519.Ed25519PrivateKey.generate(), jwt.algorithms.OKPAlgorithm),
        (
            "RS256",
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            jwt.algorithms.RSAAlgorithm,
        ),
    ]
    private, public = [], []
    for alg, key, algorithm in pairs:
        named = {"kid": f"interop-{alg.lower()}", "alg": alg, "use": "sig"}
        private.append({**algorithm.to_jwk(key, as_dict=True), **named})
        public.append({**algorithm.to_jwk(key.public_key(), as_dict=True), **named})
    print(json.dumps({"private": {"keys": private}, "public": {"keys": public}}))


def main() -> None:
    url = os.environ["GATEHOUSE_URL"]
    audience = os.environ["AUDIENCE"]
    client_id = os.environ["CLIENT_ID"]
    private_keys = json.loads(os.environ["PRIVATE_JWKS"])["keys"]

    # Not required to be advertised: the Rust test decides what to make of it.
    metadata = discover(url, None)
    advertised = METHOD in metadata["token_endpoint_auth_methods_supported"]
    token_endpoint = metadata["token_endpoint"]
    jwks = jwt.PyJWKClient(metadata["jwks_uri"])

    results = []
    for private_jwk in private_keys:
        kid, alg = private_jwk["kid"], private_jwk["alg"]
        # Authlib signs with the "client secret" when it is a joserfc key object.
        session = OAuth2Session(
            client_id, import_key(private_jwk), token_endpoint_auth_method=METHOD
        )
        # Authlib leaves the kid out of the header unless told; Gatehouse needs it.
        session.register_client_auth_method(
            PrivateKeyJWT(token_endpoint, headers={"kid": kid}, alg=alg)
        )
        sent = []  # the body of every request Authlib made
        session.hooks["response"].append(
            lambda response, *_, sent=sent, **__: sent.append(response.request.body)
        )

        tokens = [
            check_token(
                session.fetch_token(
                    token_endpoint, grant_type="client_credentials", timeout=10
                ),
                jwks,
                url,
                audience,
            )
            for _ in range(FETCHES_PER_KEY)
        ]

        assertions = []
        for body in sent:
            form = parse_qs(body if isinstance(body, str) else body.decode())
            if form.get("client_assertion_type") != [ASSERTION_TYPE]:
                raise SystemExit(f"{alg}: client_assertion_type {form!r}")
            if "client_secret" in form or "client_id" in form:
                raise SystemExit(f"{alg}: more than the assertion: {form!r}")
            [assertion] = form["client_assertion"]
            assertions.append(
                {
                    "jwt": assertion,
                    "header": jwt.get_unverified_header(assertion),
                    "claims": jwt.decode(
                        assertion, options={"verify_signature": False}
                    ),
                }
            )
        if len(assertions) != FETCHES_PER_KEY:
            raise SystemExit(f"{alg}: {len(assertions)} token requests")

        results.append(
            {"kid": kid, "alg": alg, "tokens": tokens, "assertions": assertions}
        )

    print(
        json.dumps(
            {
                "auth_method": METHOD,
                "advertised": advertised,
                "token_endpoint": token_endpoint,
                "keys": results,
            }
        )
    )


if __name__ == "__main__":
    try:
        if sys.argv[1:] == ["genkey"]:
            genkey()
        else:
            main()
    except Exception as error:  # noqa: BLE001 — any failure is the test's failure
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
