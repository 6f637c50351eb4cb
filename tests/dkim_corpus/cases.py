#!/usr/bin/env python3
"""DKIM cases with known outcomes, and dkimpy's second opinion on each.

Writes OUT/manifest.json and one .eml per case. Each case has the key records to publish (TXT
at <selector>._domainkey.<domain>), names whose lookups fail (SERVFAIL), the outcome RFC 6376
section 6.1 and RFC 8301 define for every DKIM-Signature field in order (pass, fail, permerror,
temperror), and what dkimpy (https://launchpad.net/dkimpy, a separate implementation) says:
true (valid) or false for each field. The messages are signed by dkimpy, then changed the way
the case describes. Keys are made fresh on every run (openssl, PyNaCl); nothing here is
secret. Run by tests/dkim_corpus.rs; usage: cases.py OUT
"""

import base64
import json
import os
import subprocess
import sys
import tempfile

import dkim
import nacl.signing

DOMAIN = "dkim-corpus.example"

MESSAGE = (
    b"From: Taro Sender <taro@dkim-corpus.example>\r\n"
    b"To: Hanako <hanako@receiver.example>\r\n"
    b"Subject: DKIM corpus case\r\n"
    b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <case@dkim-corpus.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Hello,\r\n"
    b"\r\n"
    b"this message  has  double spaces and a trailing space \r\n"
    b"so that simple and relaxed canonicalisation differ.\r\n"
    b"\r\n"
    b"\r\n"
)

SIGNED = [b"from", b"to", b"subject", b"date", b"message-id"]


def rsa_key(bits):
    """A fresh RSA key: (PEM private key, base64 public key for p=)."""
    with tempfile.TemporaryDirectory() as d:
        priv = os.path.join(d, "k.pem")
        subprocess.run(["openssl", "genrsa", "-out", priv, str(bits)], check=True, capture_output=True)
        pub = subprocess.run(
            ["openssl", "rsa", "-in", priv, "-pubout", "-outform", "DER"], check=True, capture_output=True
        ).stdout
        with open(priv, "rb") as f:
            return f.read(), base64.b64encode(pub).decode()


def ed_key():
    """A fresh Ed25519 key (RFC 8463): (base64 seed as dkimpy takes it, base64 public key)."""
    sk = nacl.signing.SigningKey.generate()
    return base64.b64encode(bytes(sk)), base64.b64encode(bytes(sk.verify_key)).decode()


KEYS = {}


def key(kind):
    if kind not in KEYS:
        KEYS[kind] = ed_key() if kind == "ed25519" else rsa_key(kind)
    return KEYS[kind]


def sign(msg, selector, kind=2048, algorithm=b"rsa-sha256", canon=(b"relaxed", b"relaxed"), headers=None,
         length=False, domain=DOMAIN, identity=None):
    """The DKIM-Signature field (with its CRLF) dkimpy makes for msg."""
    priv, _ = key(kind)
    return dkim.sign(msg, selector.encode(), domain.encode(), priv, identity=identity, canonicalize=canon,
                     signature_algorithm=algorithm, include_headers=headers or SIGNED, length=length)


def record(kind, extra=""):
    _, pub = key(kind)
    k = "ed25519" if kind == "ed25519" else "rsa"
    return f"v=DKIM1; k={k};{extra} p={pub}"


def edit_tag(sig, tag, value=None):
    """The signature field with one tag removed (value None) or replaced. Whitespace folding is
    kept; the signature no longer matches, which is the point of the cases that use this."""
    text = sig.decode()
    parts = text.split(";")
    out = []
    for p in parts:
        name = p.split("=", 1)[0].strip().lower()
        if name.endswith(tag) and name.replace("dkim-signature:", "").strip() == tag:
            if value is None:
                if p.lower().lstrip().startswith("dkim-signature:"):
                    out.append(p.split(":", 1)[0] + ":")
                continue
            p = p.split("=", 1)[0] + "=" + value
        out.append(p)
    joined = ";".join(out).replace(":;", ":", 1)
    return joined.encode()


CASES = []


def case(name, why, msg, records, expected, servfail=()):
    CASES.append({"name": name, "why": why, "msg": msg, "records": records, "expected": expected,
                  "servfail": list(servfail)})


def build():
    sel = lambda s: f"{s}._domainkey.{DOMAIN}"
    rr = {sel("rr"): record(2048)}
    # Pass: the algorithms and canonicalisations RFC 6376 and RFC 8463 define.
    for c in [(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple"), (b"simple", b"relaxed")]:
        label = c[0].decode() + "-" + c[1].decode()
        case(f"pass-{label}", "valid rsa-sha256 signature, RFC 6376 section 3.4", sign(MESSAGE, "rr", canon=c) + MESSAGE,
             rr, ["pass"])
    case("pass-1024", "RFC 8301 section 3.2: 1024-bit keys must be accepted",
         sign(MESSAGE, "k1024", kind=1024) + MESSAGE, {sel("k1024"): record(1024)}, ["pass"])
    case("pass-ed25519", "RFC 8463 ed25519-sha256", sign(MESSAGE, "ed", kind="ed25519", algorithm=b"ed25519-sha256")
         + MESSAGE, {sel("ed"): record("ed25519")}, ["pass"])
    case("pass-unsigned-header-added", "a header field not in h= may be added (RFC 6376 section 5.4)",
         b"X-Added: later\r\n" + sign(MESSAGE, "rr") + MESSAGE, rr, ["pass"])
    case("pass-length-appended", "l= counts the signed body; text appended after it is not covered (section 3.5)",
         sign(MESSAGE, "rr", length=True) + MESSAGE + b"-- appended footer\r\n", rr, ["pass"])
    plain = MESSAGE.replace(b"  ", b" ").replace(b" \r\n", b"\r\n")
    case("pass-length-appended-plain", "l= with a body that canonicalisation does not shorten, text appended",
         sign(plain, "rr", length=True) + plain + b"-- appended footer\r\n", rr, ["pass"])
    case("pass-key-s-email", "a key with s=email", sign(MESSAGE, "semail") + MESSAGE,
         {sel("semail"): record(2048, " s=email;")}, ["pass"])
    case("pass-key-h-sha256", "a key with h=sha256", sign(MESSAGE, "hsha") + MESSAGE,
         {sel("hsha"): record(2048, " h=sha256;")}, ["pass"])
    case("pass-identity", "i= in a subdomain of d= (section 3.5)",
         sign(MESSAGE, "rr", identity=b"@news.dkim-corpus.example") + MESSAGE, rr, ["pass"])
    # Line endings: a file saved with LF only is the same message (issue 9, item 11).
    for c in [(b"simple", b"simple"), (b"relaxed", b"relaxed")]:
        label = c[0].decode() + "-" + c[1].decode()
        signed = sign(MESSAGE, "rr", canon=c) + MESSAGE
        case(f"pass-lf-{label}", "the same signed message saved with bare LF line endings",
             signed.replace(b"\r\n", b"\n"), rr, ["pass"])
    # Fail: the cryptography says no (section 6.1.3).
    signed = sign(MESSAGE, "rr")
    case("fail-body-changed", "body altered after signing: body hash mismatch",
         signed + MESSAGE.replace(b"Hello", b"Hullo"), rr, ["fail"])
    case("fail-subject-changed", "a signed header field altered after signing",
         signed + MESSAGE.replace(b"Subject: DKIM corpus case", b"Subject: changed"), rr, ["fail"])
    case("fail-wrong-key", "the published key is not the signer's",
         sign(MESSAGE, "other") + MESSAGE, {sel("other"): record(1024)}, ["fail"])
    case("fail-ed25519-body", "ed25519 signature, body altered",
         sign(MESSAGE, "ed", kind="ed25519", algorithm=b"ed25519-sha256") + MESSAGE.replace(b"Hello", b"Hullo"),
         {sel("ed"): record("ed25519")}, ["fail"])
    case("fail-simple-space-changed", "simple body canonicalisation: a changed space breaks the body hash",
         sign(MESSAGE, "rr", canon=(b"simple", b"simple")) + MESSAGE.replace(b"double spaces", b"double  spaces"),
         rr, ["fail"])
    # Permerror: the signature or the key cannot be used (sections 3.5, 3.6.1, 6.1.1, 6.1.2).
    case("permerror-sha1", "RFC 8301 section 3.1: rsa-sha1 must not be considered valid",
         sign(MESSAGE, "rr", algorithm=b"rsa-sha1") + MESSAGE, rr, ["permerror"])
    case("permerror-512", "RFC 8301 section 3.2: RSA keys under 1024 bits must not be considered valid",
         sign(MESSAGE, "k512", kind=512) + MESSAGE, {sel("k512"): record(512)}, ["permerror"])
    case("permerror-no-key", "no key record published (section 6.1.2: PERMFAIL)",
         sign(MESSAGE, "absent") + MESSAGE, {}, ["permerror"])
    case("permerror-revoked", "empty p=: the key is revoked (section 3.6.1)",
         sign(MESSAGE, "revoked") + MESSAGE, {sel("revoked"): "v=DKIM1; k=rsa; p="}, ["permerror"])
    case("permerror-key-syntax", "a key record that does not parse (v=DKIM1: with a colon)",
         sign(MESSAGE, "colon") + MESSAGE, {sel("colon"): record(2048).replace("v=DKIM1;", "v=DKIM1:")},
         ["permerror"])
    case("permerror-key-service", "the key's s= does not include email or *",
         sign(MESSAGE, "svc") + MESSAGE, {sel("svc"): record(2048, " s=tlsrpt;")}, ["permerror"])
    case("permerror-key-hash", "the key's h= excludes the signature's hash",
         sign(MESSAGE, "hsha1") + MESSAGE, {sel("hsha1"): record(2048, " h=sha1;")}, ["permerror"])
    case("permerror-key-type", "an Ed25519 key for an RSA signature",
         sign(MESSAGE, "edk") + MESSAGE, {sel("edk"): record("ed25519")}, ["permerror"])
    case("permerror-no-v", "v= is required (section 3.5)", edit_tag(sign(MESSAGE, "rr"), "v") + MESSAGE, rr,
         ["permerror"])
    case("permerror-no-bh", "bh= is required (section 3.5)", edit_tag(sign(MESSAGE, "rr"), "bh") + MESSAGE, rr,
         ["permerror"])
    case("permerror-v2", "an unknown version v=2 (section 6.1.1)",
         edit_tag(sign(MESSAGE, "rr"), "v", "2") + MESSAGE, rr, ["permerror"])
    case("permerror-garbage", "a DKIM-Signature field that is not a tag list",
         b"DKIM-Signature: this is not a signature at all\r\n" + MESSAGE, rr, ["permerror"])
    case("permerror-identity-domain", "i= outside d= (section 6.1.1)",
         edit_tag(sign(MESSAGE, "rr"), "i", "@other.example") + MESSAGE, rr, ["permerror"])
    case("permerror-from-unsigned", "h= must include From (section 6.1.1)",
         edit_tag(sign(MESSAGE, "rr"), "h", "to:subject:date:message-id") + MESSAGE, rr, ["permerror"])
    case("permerror-expired", "x= in the past (section 6.1.1: invalid)",
         edit_tag(sign(MESSAGE, "rr"), "t", "1500000000; x=1500000100") + MESSAGE, rr, ["permerror"])
    # Temperror: the key could not be fetched (section 6.1.2: TEMPFAIL).
    case("temperror-servfail", "the key lookup gets SERVFAIL",
         sign(MESSAGE, "down") + MESSAGE, {}, ["temperror"], servfail=[sel("down")])
    # Several signatures: each has its own outcome, in order.
    two = sign(MESSAGE, "rr") + sign(MESSAGE, "absent")
    case("two-pass-and-no-key", "one valid, one without a key", two + MESSAGE, rr, ["pass", "permerror"])
    three = sign(MESSAGE, "ed", kind="ed25519", algorithm=b"ed25519-sha256") + sign(MESSAGE, "rr",
                                                                                    algorithm=b"rsa-sha1")
    case("ed25519-and-sha1", "RFC 8463 dual signing next to a legacy rsa-sha1 signature", three + MESSAGE,
         {sel("ed"): record("ed25519"), **rr}, ["pass", "permerror"])


def dkimpy_says(c):
    """dkimpy's verdict for each signature field, in order (verify(idx=i))."""
    def dnsfunc(name, timeout=5):
        n = name.decode().rstrip(".") if isinstance(name, bytes) else name.rstrip(".")
        if n in c["servfail"]:
            raise RuntimeError("SERVFAIL")
        txt = c["records"].get(n)
        return txt.encode() if txt is not None else None

    out = []
    for i in range(count_sigs(c["msg"])):
        try:
            out.append(bool(dkim.DKIM(c["msg"]).verify(idx=i, dnsfunc=dnsfunc)))
        except Exception:
            out.append(False)
    return out


def count_sigs(msg):
    head = msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return sum(1 for line in head.split(b"\n") if line.lower().startswith(b"dkim-signature:"))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    build()
    manifest = []
    for c in CASES:
        path = os.path.join(out, c["name"] + ".eml")
        with open(path, "wb") as f:
            f.write(c["msg"])
        manifest.append({"name": c["name"], "why": c["why"], "file": path, "records": c["records"],
                         "servfail": c["servfail"], "expected": c["expected"], "dkimpy": dkimpy_says(c)})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{len(manifest)} cases written to {out}")


if __name__ == "__main__":
    main()
