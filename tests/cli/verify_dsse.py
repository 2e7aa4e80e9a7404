"""Verifies `hone ledger export --format in-toto` output without hone's code: each line is a
DSSE envelope whose Ed25519 signature (keyid = the public key in hex) must verify over
PAE(payloadType, payload) with Python's `cryptography` (Debian python3-cryptography), and whose
payload is an in-toto Statement v1 naming the artifact by its SHA-256, with an SLSA Provenance
v1 predicate or hone's validation predicate (one of each per record).

usage: verify_dsse.py ENVELOPES.jsonl ARTIFACT EXPECTED_PUBLIC_KEY_HEX
Prints "ok N" (N envelopes) or exits 1 naming the problem."""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


VALIDATION = "https://github.com/hone/hone/docs/ledger.md#validation-v1"


def pae(payload_type: bytes, body: bytes) -> bytes:
    # DSSE v1: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal.
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(body), body)


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def main() -> None:
    envelopes_path, artifact_path, expected_key = sys.argv[1:4]
    with open(artifact_path, "rb") as f:
        artifact_sha256 = hashlib.sha256(f.read()).hexdigest()
    with open(envelopes_path) as f:
        lines = [line for line in f.read().splitlines() if line]
    if not lines:
        fail("no envelopes")
    provenances = validations = 0
    for n, line in enumerate(lines, 1):
        env = json.loads(line)
        if env["payloadType"] != "application/vnd.in-toto+json":
            fail(f"envelope {n}: payloadType {env['payloadType']}")
        body = base64.b64decode(env["payload"], validate=True)
        if len(env["signatures"]) != 1:
            fail(f"envelope {n}: expected one signature")
        sig = env["signatures"][0]
        if sig["keyid"] != expected_key:
            fail(f"envelope {n}: keyid {sig['keyid']} is not {expected_key}")
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(sig["keyid"]))
        try:
            key.verify(base64.b64decode(sig["sig"], validate=True),
                       pae(env["payloadType"].encode(), body))
        except InvalidSignature:
            fail(f"envelope {n}: the signature does not verify")
        # A changed payload must not verify (the check above is not vacuous).
        try:
            key.verify(base64.b64decode(sig["sig"]), pae(env["payloadType"].encode(), body + b" "))
            fail(f"envelope {n}: a changed payload verified")
        except InvalidSignature:
            pass
        st = json.loads(body)
        if st["_type"] != "https://in-toto.io/Statement/v1":
            fail(f"envelope {n}: _type {st['_type']}")
        digests = [s["digest"]["sha256"] for s in st["subject"]]
        if artifact_sha256 not in digests:
            fail(f"envelope {n}: no subject has the artifact's SHA-256 {artifact_sha256}")
        if st["predicateType"] == VALIDATION:
            p = st["predicate"]
            lo, hi = p["metrics"]["accuracy"]["delta_interval"]
            if not lo <= hi:
                fail(f"envelope {n}: the accuracy delta interval [{lo}, {hi}] is not an interval")
            if p["decision"]["verdict"] not in ("approved", "needs_signoff", "rejected"):
                fail(f"envelope {n}: decision {p['decision']}")
            if "tier" not in p["policy"] or len(p["ledger"]["record_sha256"]) != 64:
                fail(f"envelope {n}: the policy or the ledger reference is missing")
            validations += 1
            continue
        if st["predicateType"] != "https://slsa.dev/provenance/v1":
            fail(f"envelope {n}: predicateType {st['predicateType']}")
        provenances += 1
        digests = [s["digest"]["sha256"] for s in st["subject"]]
        if artifact_sha256 not in digests:
            fail(f"envelope {n}: no subject has the artifact's SHA-256 {artifact_sha256}")
        build = st["predicate"]["buildDefinition"]
        run = st["predicate"]["runDetails"]
        if not build["buildType"] or "recipe" not in build["externalParameters"]:
            fail(f"envelope {n}: buildDefinition lacks buildType or the recipe")
        if "policy" not in build["externalParameters"]:
            fail(f"envelope {n}: externalParameters lack the policy")
        if not any(d.get("annotations", {}).get("role") == "base model"
                   for d in build["resolvedDependencies"]):
            fail(f"envelope {n}: resolvedDependencies lack the base model")
        for d in build["resolvedDependencies"]:
            if len(d["digest"]["sha256"]) != 64:
                fail(f"envelope {n}: dependency {d['name']} has no SHA-256")
        if "hone" not in run["builder"]["version"] or not run["builder"]["id"]:
            fail(f"envelope {n}: builder lacks id or hone's version")
    if provenances != validations:
        fail(f"{provenances} provenance and {validations} validation statements")
    print(f"ok {len(lines)}")


main()
