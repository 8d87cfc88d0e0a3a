#!/usr/bin/env python3
"""Turns bench/run.sh's results.jsonl into the Markdown summary (tables and goal checks).

usage: bench/summarize.py results.jsonl > summary.md
"""
import json
import sys

PEER = "jwt-authorizer"
SSOGUARD = ["tasks-api", "ssoguard-cache", "ssoguard-nocache", "ssoguard-nobatch"]


MEDIAN_FIELDS = ("rps", "p50_us", "p90_us", "p99_us", "mean_us", "cpu_us_per_req", "cpu_busy")
ERROR_FIELDS = ("errors_status", "errors_timeout", "errors_connect", "errors_read", "errors_write")


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def median_record(rs):
    """One (server, mode, alg) over its rounds: the median of each figure (req/s, latencies, CPU per
    request), the largest peak RSS, the sum of errors, and the req/s range."""
    agg = dict(rs[-1])
    for f in MEDIAN_FIELDS:
        if all(f in r for r in rs):
            agg[f] = median([r[f] for r in rs])
    for f in ERROR_FIELDS:
        agg[f] = sum(r.get(f, 0) for r in rs)
    if all("vmhwm_kb" in r for r in rs):
        agg["vmhwm_kb"] = max(r["vmhwm_kb"] for r in rs)
    agg["rounds"] = len(rs)
    agg["rps_all"] = [r["rps"] for r in rs]
    return agg


def main(path):
    recs = [json.loads(line) for line in open(path) if line.strip()]
    env = next((r for r in recs if r["kind"] == "env"), {})
    crypto = {(r["impl"], r["alg"]): r for r in recs if r["kind"] == "crypto"}
    rounds = {}
    for r in recs:
        if r["kind"] == "load":
            rounds.setdefault((r["server"], r["mode"], r["alg"]), []).append(r)
    load = {key: median_record(rs) for key, rs in rounds.items()}
    rss = {}
    for r in recs:
        if r["kind"] == "load" and "vmhwm_kb" in r:
            rss[r["server"]] = max(rss.get(r["server"], 0), r["vmhwm_kb"])
    paired = {(r["mode"], r["alg"]): r for r in recs
              if r["kind"] == "paired" and (r["a"], r["b"]) == (PEER, "tasks-api")}
    skipped = [r for r in recs if r["kind"] in ("skipped", "failed")]
    out = []
    p = out.append

    p("#### Environment\n")
    p(f"- CPU: {env.get('cpu', '?')} ({env.get('ncpu', '?')} cores), "
      f"{env.get('mem_kb', 0) // 1024} MiB RAM, kernel {env.get('kernel', '?')}, {env.get('rustc', '?')}")
    p(f"- load: {env.get('wrk', '?')}; {env.get('tokens', '?')} distinct tokens per algorithm; "
      f"load average at start {' '.join(env.get('loadavg', []))}")
    for r in skipped:
        what = " ".join(x for x in (r["server"], r.get("mode"), r.get("alg")) if x)
        p(f"- **{what}: {r['kind']}** {r.get('reason', '')}".rstrip())
    p("")

    p("#### Crypto floor (one core, CPU-pinned, no HTTP)\n")
    p("| alg | bare aws-lc `verify_sig` | µs/op | ssoguard `Verifier::verify`, cache off | µs/op | library overhead | queued alone µs/op |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    for alg in ("EdDSA", "RS256"):
        b, l = crypto.get(("bare", alg)), crypto.get(("library", alg))
        if not b:
            continue
        lib = f"{l['per_sec']:,.0f}/s | {l['ns_per_op'] / 1e3:.2f}" if l else "– | –"
        over = f"{(l['ns_per_op'] / b['ns_per_op'] - 1) * 100:+.1f}%" if l else "–"
        q = crypto.get(("library_queued_alone", alg))
        alone = f"{q['ns_per_op'] / 1e3:.2f}" if q else "–"
        p(f"| {alg} | {b['per_sec']:,.0f}/s | {b['ns_per_op'] / 1e3:.2f} | {lib} | {over} | {alone} |")
    p("")

    http = load.get(("http-floor", "floor", "-"))
    limits = {}
    for alg in ("EdDSA", "RS256"):
        b = crypto.get(("bare", alg))
        if b and http:
            limits[alg] = 1 / (1 / b["per_sec"] + 1 / http["rps"])

    p("#### Load (server on one core, wrk on the other)\n")
    p("| server | mode | alg | req/s | p50 ms | p99 ms | server CPU µs/req | peak RSS MiB | ratio vs jwt-authorizer | ratio vs limit |")
    p("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    order = ["tasks-api", "ssoguard-cache", "ssoguard-nocache", "ssoguard-nobatch", PEER, "http-floor"]
    keys = sorted(load, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1], k[2]))
    for key in keys:
        r = load[key]
        server, mode, alg = key
        peer = load.get((PEER, mode, alg))
        vs_peer = f"{r['rps'] / peer['rps']:.2f}×" if peer and server != PEER else ""
        vs_limit = f"{r['rps'] / limits[alg]:.2f}×" if alg in limits and mode == "distinct" else ""
        errors = r["errors_status"] + r["errors_timeout"] + r["errors_connect"] + r["errors_read"]
        flag = f" ⚠ {errors} errors" if errors else ""
        label = {"distinct": f"distinct ({env.get('tokens', '?'):,} tokens)" if isinstance(env.get('tokens'), int)
                 else "distinct", "repeated": "repeated (one token: cache hits)"}.get(mode, mode)
        p(f"| {server} | {label} | {alg} | {r['rps']:,.0f}{flag} | {r['p50_us'] / 1e3:.2f} | "
          f"{r['p99_us'] / 1e3:.2f} | {r['cpu_us_per_req']:.1f} | {r.get('vmhwm_kb', 0) / 1024:.1f} | "
          f"{vs_peer} | {vs_limit} |")
    p("")

    if any(r["rounds"] > 1 for r in load.values()):
        p("#### Rounds (each figure above is the median over the rounds; peak RSS the largest)\n")
        p("| server | mode | alg | req/s in each round, in order |")
        p("|---|---|---|---|")
        for key in keys:
            server, mode, alg = key
            p(f"| {server} | {mode} | {alg} | {', '.join(f'{x:,.0f}' for x in load[key]['rps_all'])} |")
        p("")

    if limits:
        p("#### Limit 1/(1/crypto + 1/http) per algorithm\n")
        p("| alg | crypto floor /s | HTTP floor req/s | limit req/s |")
        p("|---|---:|---:|---:|")
        for alg, lim in limits.items():
            p(f"| {alg} | {crypto[('bare', alg)]['per_sec']:,.0f} | {http['rps']:,.0f} | {lim:,.0f} |")
        p("")

    if rss:
        p("#### Peak RSS (largest VmHWM over each server's runs)\n")
        p("| server | VmHWM |")
        p("|---|---:|")
        for server, kb in rss.items():
            p(f"| {server} | {kb / 1024:.1f} MiB |")
        p("")

    notes = []
    for alg in ("EdDSA", "RS256"):
        # The reference for "every request verifies a signature" is the cache-off server under
        # the same load, not the crypto floor: under load EdDSA signatures are batch-checked, so
        # a verification costs less than one checked alone.
        d, r, n = (load.get((server, mode, alg)) for server, mode in
                   (("tasks-api", "distinct"), ("tasks-api", "repeated"), ("ssoguard-nocache", "distinct")))
        if d and r and n and n["cpu_us_per_req"] > r["cpu_us_per_req"]:
            verified = max(0.0, (d["cpu_us_per_req"] - r["cpu_us_per_req"])
                           / (n["cpu_us_per_req"] - r["cpu_us_per_req"]))
            notes.append(f"- tasks-api {alg} distinct: {d['cpu_us_per_req']:.1f} µs CPU/req, against "
                         f"{r['cpu_us_per_req']:.1f} for one repeated token (cache hits) and "
                         f"{n['cpu_us_per_req']:.1f} for ssoguard-nocache (every request verified): about "
                         f"{min(verified, 1) * 100:.0f}% of the distinct requests verified a signature.")
    if notes:
        p("#### Token cache in the distinct runs (estimate from CPU per request)\n")
        out.extend(notes)
        p("")

    checks = []
    for server in SSOGUARD:
        def get(mode, alg):
            return load.get((server, mode, alg))
        if not any(k[0] == server for k in load):
            continue
        for alg in ("EdDSA", "RS256"):
            r, peer = get("distinct", alg), load.get((PEER, "distinct", alg))
            if r and alg == "EdDSA" and alg in limits:
                checks.append((server, f"EdDSA distinct ≥ 0.9 × limit ({limits[alg]:,.0f})",
                               r["rps"] / limits[alg], 0.9))
            if r and peer:
                checks.append((server, f"{alg} distinct ≥ 1.5 × jwt-authorizer", r["rps"] / peer["rps"], 1.5))
                checks.append((server, f"{alg} distinct p99 ≤ jwt-authorizer's",
                               peer["p99_us"] / max(r["p99_us"], 1), 1.0))
            r, peer = get("repeated", alg), load.get((PEER, "repeated", alg))
            if r and peer:
                checks.append((server, f"{alg} repeated ≥ 4 × jwt-authorizer", r["rps"] / peer["rps"], 4.0))
                checks.append((server, f"{alg} repeated p99 ≤ jwt-authorizer's",
                               peer["p99_us"] / max(r["p99_us"], 1), 1.0))
        if server in rss:
            checks.append((server, "peak RSS < 30 MB", 30 * 1000 / rss[server], 1.0))
    if paired:
        p("#### Paired: tasks-api and jwt-authorizer on the server CPU at the same time\n")
        p("Each round runs both servers at once, each driven by its own wrk "
          f"(-c{next(iter(paired.values()))['connections_each']} each), so a slow phase of the host "
          "slows both; B/A is tasks-api's req/s over jwt-authorizer's (bench/paired.sh). Sharing a "
          "CPU favours the server with the cheaper request (docs/BENCHMARKS.md), so the goals "
          "below use the back-to-back runs only.\n")
        p("| mode | alg | tasks-api / jwt-authorizer, each round | median | CPU per request, jwt-authorizer / tasks-api (median) |")
        p("|---|---|---|---:|---:|")
        for (mode, alg), r in sorted(paired.items()):
            each = ", ".join(f"{x:.2f}" for x in r["ratio_rps"])
            p(f"| {mode} | {alg} | {each} | {r['median_ratio_rps']:.2f}× | {r['median_ratio_cpu']:.2f}× |")
        p("")

    if checks:
        p("#### Goals\n")
        p("| server | goal | measured ratio | met |")
        p("|---|---|---:|:---:|")
        for server, goal, ratio, need in checks:
            p(f"| {server} | {goal} | {ratio:.2f} (need ≥ {need:g}) | {'yes' if ratio >= need else '**no**'} |")
        p("")

    # The peer-relative goals in terms of this run's floors (docs/BENCHMARKS.md): the HTTP
    # floor is an app that verifies nothing, and the limit assumes one signature check per request
    # (only an Ed25519 batch check goes below that cost).
    asks = []
    for alg in ("EdDSA", "RS256"):
        peer_d, peer_r = load.get((PEER, "distinct", alg)), load.get((PEER, "repeated", alg))
        if peer_d and alg in limits:
            asks.append(f"| {alg} distinct ≥ 1.5 × jwt-authorizer | {1.5 * peer_d['rps']:,.0f} req/s | "
                        f"{1.5 * peer_d['rps'] / limits[alg]:.2f} × the limit ({limits[alg]:,.0f}) |")
        if peer_r and http:
            asks.append(f"| {alg} repeated ≥ 4 × jwt-authorizer | {4 * peer_r['rps']:,.0f} req/s | "
                        f"{4 * peer_r['rps'] / http['rps']:.2f} × the HTTP floor ({http['rps']:,.0f}) |")
    if asks:
        p("#### What the peer-relative goals ask of this machine\n")
        p("| goal | needs | as a share of this run's floors |")
        p("|---|---:|---:|")
        out.extend(asks)
        p("")
        p("A repeated-token goal at ≥ 1 × the HTTP floor, or an RS256 one at ≥ 1 × the limit, asks for more "
          "than an app doing no verification (or only the signature check) achieves on this machine.")
        p("")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
