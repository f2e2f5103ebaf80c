"""Alibaba Cloud access for a GitHub Actions job through OIDC, instead of a stored AccessKey.

    python -m tooling.ci_credentials --stack prod

Requests the job's OIDC token from GitHub (the job needs `permissions: id-token: write`), writes it to a file only
the runner user can read, and points the stack's provider configuration at it: `alicloud:assumeRoleWithOidc`
(pulumi-alicloud's provider config: `oidcProviderArn`, `roleArn`, `oidcTokenFile`, `roleSessionName`; see
`pulumi_alicloud/config/outputs.py`, class AssumeRoleWithOidc). The provider then calls STS AssumeRoleWithOIDC
for the RAM role, whose trust policy (docs/runbook.md, "Continuous delivery") admits only this repository's
jobs in the stack's GitHub environment. Only the runner's copy of the stack file changes; nothing is committed.

Reads ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN (set by GitHub for such a job),
ALICLOUD_ROLE_ARN, ALICLOUD_OIDC_PROVIDER_ARN, ALICLOUD_OIDC_AUDIENCE, RUNNER_TEMP and GITHUB_RUN_ID.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from tooling.offline.run import PROJECT_DIR

REQUIRED = (
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ALICLOUD_ROLE_ARN",
    "ALICLOUD_OIDC_PROVIDER_ARN",
    "ALICLOUD_OIDC_AUDIENCE",
    "RUNNER_TEMP",
)


def request_token(url: str, bearer: str, audience: str) -> str:
    # GitHub's documented token request: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud> with the bearer token.
    separator = "&" if "?" in url else "?"
    request = urllib.request.Request(
        f"{url}{separator}audience={urllib.parse.quote(audience, safe='')}",
        headers={"Authorization": f"Bearer {bearer}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["value"]


def configure(stack: str, env: dict[str, str], project_dir: Path = PROJECT_DIR) -> Path:
    token = request_token(
        env["ACTIONS_ID_TOKEN_REQUEST_URL"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], env["ALICLOUD_OIDC_AUDIENCE"]
    )
    token_file = Path(env["RUNNER_TEMP"]) / "alicloud-oidc-token"
    # Created readable by the runner user only: the token is a credential until it expires.
    descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(token)
    stack_path = project_dir / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(stack_path.read_text())
    document.setdefault("config", {})["alicloud:assumeRoleWithOidc"] = {
        "oidcProviderArn": env["ALICLOUD_OIDC_PROVIDER_ARN"],
        "roleArn": env["ALICLOUD_ROLE_ARN"],
        "oidcTokenFile": str(token_file),
        "roleSessionName": f"github-{env.get('GITHUB_RUN_ID', 'run')}",
    }
    stack_path.write_text(yaml.safe_dump(document, sort_keys=False))
    return token_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.ci_credentials", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(f"error: not set: {', '.join(missing)} (see docs/runbook.md, 'Continuous delivery')", file=sys.stderr)
        return 2
    configure(args.stack, dict(os.environ))
    print(f"Pulumi.{args.stack}.yaml: alicloud:assumeRoleWithOidc set for this job")
    return 0


if __name__ == "__main__":
    sys.exit(main())
