"""Benchmark run inside the cluster (the benchmark Job): `vllm bench serve` against both gateway listeners with the
same request mix, then TTFT, inter-token latency and throughput side by side.

    python3 benchmark_script.py /bench/bench.json

Standard library only: it runs in the vLLM image, with the Job's service account allowed to read the Gateway.
The listeners run one after the other with seeds `seed` and `seed + 1`: the same lengths and rate, but other
prompts, so the second run never finds the first run's prompts in the prefix caches.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
API_SERVER = "https://kubernetes.default.svc"
ADDRESS_WAIT_SECONDS = 900
RESULTS_DIR = Path("/tmp/bench-results")
# (label, key in `vllm bench serve`'s result JSON, lower is better)
METRICS = [
    ("Successful requests", "completed", False),
    ("Request throughput (req/s)", "request_throughput", False),
    ("Output token throughput (tok/s)", "output_throughput", False),
    ("Mean TTFT (ms)", "mean_ttft_ms", True),
    ("P50 TTFT (ms)", "p50_ttft_ms", True),
    ("P90 TTFT (ms)", "p90_ttft_ms", True),
    ("P99 TTFT (ms)", "p99_ttft_ms", True),
    ("Mean ITL (ms)", "mean_itl_ms", True),
    ("P90 ITL (ms)", "p90_itl_ms", True),
    ("P99 ITL (ms)", "p99_itl_ms", True),
    ("Mean TPOT (ms)", "mean_tpot_ms", True),
    ("P90 E2E latency (ms)", "p90_e2el_ms", True),
]


def gateway_address(namespace: str, name: str) -> str:
    """The Gateway's first address from its status, waiting until the load balancer has one."""
    token = (SERVICE_ACCOUNT / "token").read_text()
    context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
    url = f"{API_SERVER}/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/gateways/{name}"
    deadline = time.monotonic() + ADDRESS_WAIT_SECONDS
    while True:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, context=context) as response:
            addresses = json.load(response).get("status", {}).get("addresses") or []
        if addresses:
            return addresses[0]["value"]
        if time.monotonic() > deadline:
            raise SystemExit(f"Gateway {namespace}/{name} has no address after {ADDRESS_WAIT_SECONDS} s")
        time.sleep(10)


def bench_command(config: dict, base_url: str, seed: int, result_file: str) -> list[str]:
    return [
        "vllm", "bench", "serve",
        "--base-url", base_url,
        "--model", config["model"],
        "--tokenizer", config["tokenizer"],
        "--dataset-name", "random",
        "--random-input-len", str(config["inputLen"]),
        "--random-output-len", str(config["outputLen"]),
        "--random-prefix-len", str(config["prefixLen"]),
        "--num-prompts", str(config["numPrompts"]),
        "--request-rate", str(config["requestRate"]),
        "--seed", str(seed),
        "--percentile-metrics", "ttft,tpot,itl,e2el",
        "--metric-percentiles", "50,90,99",
        "--save-result",
        "--result-dir", str(RESULTS_DIR),
        "--result-filename", result_file,
    ]  # fmt: skip


def _number(value: object) -> str:
    return f"{value:,.1f}" if isinstance(value, int | float) else "n/a"


def comparison(results: dict[str, dict]) -> str:
    """A table with one column per listener and the inference listener's change against the plain one."""
    (plain_name, plain), (smart_name, smart) = results.items()
    rows = [("", plain_name, smart_name, "change")]
    for label, key, lower_is_better in METRICS:
        before, after = plain.get(key), smart.get(key)
        change = "n/a"
        if isinstance(before, int | float) and isinstance(after, int | float) and before:
            delta = (after - before) / before * 100
            better = delta < 0 if lower_is_better else delta > 0
            change = f"{delta:+.1f}%" + (" better" if better and abs(delta) >= 0.05 else "")
        rows.append((label, _number(before), _number(after), change))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    address = gateway_address(config["namespace"], config["gateway"])
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for offset, (listener, port) in enumerate(config["listeners"].items()):
        label = f"{listener} :{port}"
        print(f"=== {label}: {config['numPrompts']} requests at {config['requestRate']} req/s", flush=True)
        result_file = f"{listener}.json"
        command = bench_command(config, f"http://{address}:{port}", config["seed"] + offset, result_file)
        subprocess.run(command, check=True)
        results[label] = json.loads((RESULTS_DIR / result_file).read_text())
    print("\n" + comparison(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
