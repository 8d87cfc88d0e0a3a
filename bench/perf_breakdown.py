#!/usr/bin/env python3
"""Breaks a server profile down by what the CPU was doing.

usage: perf script -i perf.data -F ip,sym | bench/perf_breakdown.py

Each sample is attributed by its innermost frame that matches a category (walking from the leaf
towards the root; within one frame the first matching category in the order below wins), so an
allocation inside serde_json counts as JSON. Samples whose leaf frame is in the kernel count as
"kernel".
"""
import re
import sys

CATEGORIES = [
    ("signature check (crypto library)",
     r"EVP_DigestVerify|ED25519_verify|ed25519_verify|ring::ec::|ring::rsa|ring_core_|"
     r"RSA_verify|rsa_verify|ECDSA_verify|ring::signature|UnparsedPublicKey.*verify|verify_sig|"
     r"ed25519_dalek|curve25519_dalek"),
    ("token cache (SHA-256, lookup, clone)", r"token_cache|TokenCache"),
    ("JWKS key lookup", r"key_for|KeySet::find|get_key|KeyStoreManager|DecodingKey|from_jwk"),
    ("base64", r"base64"),
    ("JSON parse/serialize", r"serde_json|serde::|serde_core"),
    ("JWT library, other (ssoguard / jsonwebtoken / jwt-authorizer)",
     r"ssoguard::|jsonwebtoken::|jwt_authorizer::"),
    ("tracing/middleware (tower-http, tracing)", r"tracing|tower_http"),
    ("hyper/axum/tokio (user space)", r"hyper|axum|tokio|tower|http::|mio"),
]


def read_stacks(lines):
    """`perf script -F ip,sym` output → one list of (ip, symbol) frames per sample, leaf first."""
    stacks, cur = [], []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if cur:
                stacks.append(cur)
            cur = []
            continue
        parts = line.strip().split(None, 1)
        cur.append((parts[0], parts[1] if len(parts) > 1 else ""))
    if cur:
        stacks.append(cur)
    return stacks


def main():
    stacks = read_stacks(sys.stdin)
    counts = {}
    for s in stacks:
        if s[0][0].startswith("ffffffff"):
            cat = "kernel (network, syscalls, scheduling)"
        else:
            cat = "other (allocator, libc, unattributed)"
            for _, frame in s:
                hit = next((name for name, pat in CATEGORIES if re.search(pat, frame)), None)
                if hit:
                    cat = hit
                    break
        counts[cat] = counts.get(cat, 0) + 1
    n = len(stacks) or 1
    for cat, c in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"{100 * c / n:5.1f}%  {cat}")
    print(f"({len(stacks)} samples)")


if __name__ == "__main__":
    main()
