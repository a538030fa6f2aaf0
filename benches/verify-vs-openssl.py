#!/usr/bin/env python3
"""`sfhooks verify` against `openssl dgst -sha256 -hmac` on 64 MiB bodies, in the same run.

Usage: python3 benches/verify-vs-openssl.py [--runs N] [--bin target/release/sfhooks]
(build first: cargo build --release). Bodies are written to /dev/shm when it exists, so the disk
is not measured. Three bodies of 64 MiB each:
  random    random bytes (no JSON: the summary parser gives up at once)
  one-field an envelope with one event whose record holds one 64 MiB field
  many      an envelope of 16,384 events with 4 KB records each
Each (body, tool) pair runs N times, alternating the tools so both see the same machine load;
the script prints the median wall time, the ratio (openssl time / sfhooks time, so above 1 means
sfhooks is faster) and the peak RSS of each, and checks that sfhooks printed its summary.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import tempfile

SIZE = 64 * 1024 * 1024
KEY = "MySecretEventSignatureKey"


def envelope(events):
    return {"type": "sfhooks.events", "timestamp": "2026-12-07T10:00:00.000Z",
            "data": {"orgId": "00D5g000004SmKpEAK", "events": events}}


def event(i, record):
    return {"eventId": f"evt_{i:08d}", "eventType": "UPDATED", "objectType": "Contact",
            "objectId": f"003{i:015d}", "changedFields": ["Description"], "record": record}


def one_field_body():
    shell = json.dumps(envelope([event(0, {"Id": "003000000000000000", "Description": ""})]))
    pad = SIZE - len(shell)
    return shell.replace('"Description": ""', '"Description": "' + "x" * pad + '"').encode()


def many_body():
    n = 16384

    def body(filler):
        return json.dumps(envelope([event(i, {"Id": f"003{i:015d}", "LastName": "Doe",
                                              "Description": "lorem " + filler})
                                    for i in range(n)]))

    grow = (SIZE - len(body(""))) // n
    return body("y" * grow).encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bin", default="target/release/sfhooks")
    args = parser.parse_args()
    tmp = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=tmp) as d:
        bodies = {"random": os.urandom(SIZE), "one-field": one_field_body(), "many": many_body()}
        env = dict(os.environ, SFHOOKS_BENCH_KEY=KEY)
        print(f"{'body':10} {'openssl s':>10} {'sfhooks s':>10} {'ratio':>6} "
              f"{'RSS openssl':>12} {'RSS sfhooks':>12}  summary")
        for name, body in bodies.items():
            path = os.path.join(d, name)
            with open(path, "wb") as f:
                f.write(body)
            mac = hmac.new(KEY.encode(), body, hashlib.sha256).digest()
            signature = "sha256=" + base64.b64encode(mac).decode()
            del body
            ossl = ["openssl", "dgst", "-sha256", "-hmac", KEY, path]
            sfh = [args.bin, "verify", "--signature-scheme", "elements", "--secret-env",
                   "SFHOOKS_BENCH_KEY", "--signature", signature, "--body-file", path]
            times = {"openssl": [], "sfhooks": []}
            rss = {"openssl": 0, "sfhooks": 0}
            summary = ""
            for _ in range(args.runs):
                for tool, cmd in (("openssl", ossl), ("sfhooks", sfh)):
                    probe = subprocess.run(
                        ["python3", "-c", PROBE, *cmd], capture_output=True, env=env, check=False)
                    if probe.returncode != 0:
                        raise SystemExit(probe.stderr.decode()[:800])
                    wall, maxrss, stdout = probe.stdout.decode().split("\n", 2)
                    times[tool].append(float(wall))
                    rss[tool] = max(rss[tool], int(maxrss))
                    if tool == "sfhooks":
                        summary = stdout.strip()
            o = statistics.median(times["openssl"])
            s = statistics.median(times["sfhooks"])
            print(f"{name:10} {o:10.3f} {s:10.3f} {o / s:6.2f} {rss['openssl'] / 1024:10.1f}MB "
                  f"{rss['sfhooks'] / 1024:10.1f}MB  {summary[:70]}")
            os.unlink(path)


# Runs one command and prints its wall time, its peak RSS (KB, from GNU time, which forks from a
# small C process: Python's own pages would count in ru_maxrss of a child forked from Python) and
# its stdout.
PROBE = r"""
import os, subprocess, sys, tempfile, time
with tempfile.NamedTemporaryFile("r") as rss:
    start = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *sys.argv[1:]],
                         capture_output=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{sys.argv[1]} failed ({out.returncode}): {out.stderr.decode()[:500]}")
    print(f"{wall:.4f}")
    print(rss.read().strip().splitlines()[-1])
sys.stdout.write(out.stdout.decode())
"""

if __name__ == "__main__":
    main()
