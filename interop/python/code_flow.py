"""The authorization code flow against a running Gatehouse with Authlib as the app.

Authlib's `OAuth2Session` builds the authorization URL (PKCE S256, state, nonce); a
plain `requests.Session` with its cookies plays the browser: it reads the login
form's hidden fields with the standard library's HTML parser, signs in (following
the 303 to the consent page), approves, and stops at the redirect back to the app.
Authlib exchanges the code with the verifier, the ID token is verified with joserfc
(Authlib's JOSE library) against the JWK Set and validated by Authlib's
`CodeIDToken` (issuer, audience, nonce, at_hash, azp); then Authlib refreshes and
calls userinfo.

Env: GATEHOUSE_URL, CLIENT_ID, CLIENT_SECRET (absent for a public client, which
authenticates with `none`), REDIRECT_URI, USERNAME, PASSWORD, SCOPE.
Prints one JSON line; exits non-zero on any failure.
"""

import json
import os
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

TIMEOUT = 10


class Forms(HTMLParser):
    """The forms of a page: each one's action, its hidden inputs, and its buttons'
    (name, value, label); and the text of its alerts."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[dict] = []
        self.alerts: list[str] = []
        self._button: dict | None = None
        self._alert: int = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("role") == "alert":
            self.alerts.append("")
            self._alert = 1
        elif self._alert:
            self._alert += 1
        if tag == "form":
            self.forms.append({"action": attrs.get("action"), "hidden": {}, "buttons": []})
        elif tag == "input" and self.forms and attrs.get("type") == "hidden":
            self.forms[-1]["hidden"][attrs["name"]] = attrs.get("value", "")
        elif tag == "button" and self.forms:
            self._button = {"name": attrs.get("name"), "value": attrs.get("value")}
            self._button["label"] = ""
            self.forms[-1]["buttons"].append(self._button)

    def handle_data(self, data):
        if self._button is not None:
            self._button["label"] += data
        if self._alert:
            self.alerts[-1] += data

    def handle_endtag(self, tag):
        if tag == "button":
            self._button = None
        if self._alert:
            self._alert -= 1

    def only(self) -> dict:
        if len(self.forms) != 1:
            raise SystemExit(f"expected one form, found {len(self.forms)}")
        return self.forms[0]


def page(response: requests.Response, what: str) -> dict:
    """The one form of an HTML page that must have answered 200."""
    html = "text/html" in response.headers.get("content-type", "")
    if not html:
        raise SystemExit(f"{what}: {response.status_code} {response.text[:500]!r}")
    forms = Forms(response.text)
    if response.status_code != 200:
        said = " ".join(a.strip() for a in forms.alerts) or response.text[:500]
        raise SystemExit(f"{what}: {response.status_code}: {said}")
    return forms.only()


def field(response: dict, name: str, why: str):
    """`response[name]`, or a failure that says which step lacked it."""
    if not response.get(name):
        raise SystemExit(f"no {name} in the {why} (it has {sorted(response)})")
    return response[name]


def validate_id_token(id_token: str, jwks: KeySet, metadata: dict, client_id: str,
                      access_token: str, nonce: str | None) -> dict:
    """Verifies the signature with joserfc and the claims with Authlib's CodeIDToken,
    as Authlib's own OpenID client does, but insisting on at_hash and auth_time."""
    decoded = jwt.decode(
        id_token, jwks, algorithms=metadata["id_token_signing_alg_values_supported"]
    )
    options = {
        "iss": {"essential": True, "value": metadata["issuer"]},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "at_hash": {"essential": True},
        "auth_time": {"essential": True},
    }
    params = {"client_id": client_id, "access_token": access_token}
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
        params["nonce"] = nonce
    claims = CodeIDToken(decoded.claims, decoded.header, options, params)
    claims.validate()
    return {"header": dict(decoded.header), "claims": dict(claims)}


def main() -> None:
    url = os.environ["GATEHOUSE_URL"]
    client_id = os.environ["CLIENT_ID"]
    client_secret = os.environ.get("CLIENT_SECRET") or None
    redirect_uri = os.environ["REDIRECT_URI"]
    scope = os.environ["SCOPE"]
    method = "client_secret_basic" if client_secret else "none"

    response = requests.get(f"{url}/.well-known/openid-configuration", timeout=TIMEOUT)
    response.raise_for_status()
    metadata = response.json()
    if metadata["issuer"] != url:
        raise SystemExit(f"metadata issuer {metadata['issuer']!r} is not {url!r}")

    app = OAuth2Session(
        client_id,
        client_secret,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=method,
    )
    code_verifier = generate_token(48)
    nonce = generate_token(24)
    authorization_url, state = app.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    sent = parse_qs(urlsplit(authorization_url).query)
    if sent.get("code_challenge_method") != ["S256"] or "code_challenge" not in sent:
        raise SystemExit(f"Authlib sent no S256 challenge: {authorization_url}")

    # The user's browser: its own cookies, nothing shared with the app.
    browser = requests.Session()
    login_page = browser.get(authorization_url, timeout=TIMEOUT)
    login = page(login_page, "login page")
    if set(login["hidden"]) != {"request", "csrf"}:
        raise SystemExit(f"login form hidden fields: {sorted(login['hidden'])}")
    signed_in = browser.post(
        urljoin(login_page.url, login["action"]),
        data={**login["hidden"], "username": os.environ["USERNAME"],
              "password": os.environ["PASSWORD"]},
        timeout=TIMEOUT,
    )
    redirects = [r.status_code for r in signed_in.history]
    consent = page(signed_in, "consent page")
    approve = [b for b in consent["buttons"] if b["value"] == "approve"]
    if len(approve) != 1 or approve[0]["name"] != "decision":
        raise SystemExit(f"no approve button on the consent page: {consent['buttons']}")
    decided = browser.post(
        urljoin(signed_in.url, consent["action"]),
        data={**consent["hidden"], "decision": "approve"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    if decided.status_code not in (302, 303):
        raise SystemExit(f"consent answered {decided.status_code}: {decided.text[:500]!r}")
    location = decided.headers["Location"]
    if not location.startswith(f"{redirect_uri}?"):
        raise SystemExit(f"redirected to {location!r}, not {redirect_uri!r}")
    back = parse_qs(urlsplit(location).query)
    # RFC 9207: the app checks who answered before it uses the code.
    if back.get("iss") != [metadata["issuer"]]:
        raise SystemExit(f"iss in the redirect: {back.get('iss')}")

    # Authlib checks the state it made against the redirect's.
    token = app.fetch_token(
        metadata["token_endpoint"],
        authorization_response=location,
        code_verifier=code_verifier,
        timeout=TIMEOUT,
    )
    jwks = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=TIMEOUT).json())
    id_token = validate_id_token(
        field(token, "id_token", "code exchange's answer to scope openid"),
        jwks, metadata, client_id, token["access_token"], nonce,
    )
    access = jwt.decode(token["access_token"], jwks, algorithms=["ES256"])

    # Authlib fills in the old refresh token when a response has none: keep the
    # server's own answer to tell.
    answers = []
    app.register_compliance_hook(
        "refresh_token_response", lambda resp: answers.append(resp.json()) or resp
    )
    refreshed = app.refresh_token(
        metadata["token_endpoint"],
        refresh_token=field(token, "refresh_token", "code exchange's answer"),
        timeout=TIMEOUT,
    )
    refreshed_access = jwt.decode(refreshed["access_token"], jwks, algorithms=["ES256"])
    refreshed_id = None
    if "id_token" in refreshed:
        # OIDC Core §12.2: no nonce on refresh.
        refreshed_id = validate_id_token(
            refreshed["id_token"], jwks, metadata, client_id, refreshed["access_token"], None
        )

    # The session now holds the refreshed token and sends it as a Bearer.
    userinfo = app.get(field(metadata, "userinfo_endpoint", "metadata"), timeout=TIMEOUT)
    userinfo.raise_for_status()

    print(json.dumps({
        "auth_method": method,
        "sent": {"state": state, "nonce": nonce, "scope": scope},
        "login_redirects": redirects,
        "consent_buttons": consent["buttons"],
        "callback": {
            "has_code": bool(back.get("code")),
            "state": back.get("state", [None])[0],
            "iss": back.get("iss", [None])[0],
        },
        "token": {
            "token_type": token.get("token_type"),
            "scope": token.get("scope"),
            "has_refresh_token": bool(token.get("refresh_token")),
            "access": {"header": dict(access.header), "claims": access.claims},
            "id_token": id_token,
        },
        "refresh": {
            "scope": refreshed.get("scope"),
            "has_refresh_token": bool(answers and answers[-1].get("refresh_token")),
            "new_access_token": refreshed["access_token"] != token["access_token"],
            "new_refresh_token": bool(answers and answers[-1].get("refresh_token"))
            and answers[-1]["refresh_token"] != token["refresh_token"],
            "access": {
                "header": dict(refreshed_access.header),
                "claims": refreshed_access.claims,
            },
            "id_token": refreshed_id,
        },
        "userinfo": userinfo.json(),
    }))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 — any failure is the test's failure
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
