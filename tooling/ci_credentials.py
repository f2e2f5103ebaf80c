"""Alibaba Cloud access for a GitHub Actions job through OIDC, instead of a stored AccessKey.

    python -m tooling.ci_credentials

Requests the job's OIDC token from GitHub (the job needs `permissions: id-token: write`), exchanges it with STS
AssumeRoleWithOIDC for temporary credentials of a RAM role whose trust policy admits only this repository's jobs
in one GitHub environment (docs/runbook.md, "Continuous delivery"), and hands them to the job's later steps as
ALICLOUD_ACCESS_KEY / ALICLOUD_SECRET_KEY / ALICLOUD_SECURITY_TOKEN (the variables pulumi-alicloud reads for
`accessKey`, `secretKey`, `securityToken`: its provider/resources.go, tfbridge DefaultInfo EnvVars),
masked in the log. The stack's provider configuration stays as committed, so a prod preview made with the preview
role and the approved `up --plan` made with the deploy role plan the same provider.

Reads ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN (set by GitHub for such a job), GITHUB_ENV,
ALICLOUD_ROLE_ARN, ALICLOUD_OIDC_PROVIDER_ARN, ALICLOUD_OIDC_AUDIENCE and optionally ALICLOUD_STS_ENDPOINT,
GITHUB_RUN_ID.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REQUIRED = (
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITHUB_ENV",
    "ALICLOUD_ROLE_ARN",
    "ALICLOUD_OIDC_PROVIDER_ARN",
    "ALICLOUD_OIDC_AUDIENCE",
)
STS_ENDPOINT = "https://sts.aliyuncs.com"
# One hour: the RAM role's MaxSessionDuration must allow it (a new cluster takes well under that to create).
SESSION_SECONDS = 3600


class CredentialError(Exception):
    pass


def _get_json(url: str, headers: dict[str, str] | None = None) -> dict:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise CredentialError(
            f"{url.split('?', maxsplit=1)[0]} answered {error.code}: {error.read()[:300]!r}"
        ) from None


def github_token(url: str, bearer: str, audience: str) -> str:
    # GitHub's token request: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud> with the request bearer token.
    separator = "&" if "?" in url else "?"
    answer = _get_json(
        f"{url}{separator}audience={urllib.parse.quote(audience, safe='')}", {"Authorization": f"Bearer {bearer}"}
    )
    return answer["value"]


def assume_role(endpoint: str, role_arn: str, provider_arn: str, token: str, session: str) -> dict[str, str]:
    # STS AssumeRoleWithOIDC (API version 2015-04-01) is called without a signature: the OIDC token is the proof.
    query = urllib.parse.urlencode(
        {
            "Action": "AssumeRoleWithOIDC",
            "Version": "2015-04-01",
            "Format": "JSON",
            "RoleArn": role_arn,
            "OIDCProviderArn": provider_arn,
            "OIDCToken": token,
            "RoleSessionName": session,
            "DurationSeconds": SESSION_SECONDS,
        }
    )
    credentials = _get_json(f"{endpoint}/?{query}")["Credentials"]
    return {
        "ALICLOUD_ACCESS_KEY": credentials["AccessKeyId"],
        "ALICLOUD_SECRET_KEY": credentials["AccessKeySecret"],
        "ALICLOUD_SECURITY_TOKEN": credentials["SecurityToken"],
    }


def export(env: dict[str, str]) -> list[str]:
    """Writes the credentials for the job's later steps; returns the log lines that mask them."""
    token = github_token(
        env["ACTIONS_ID_TOKEN_REQUEST_URL"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], env["ALICLOUD_OIDC_AUDIENCE"]
    )
    values = assume_role(
        env.get("ALICLOUD_STS_ENDPOINT") or STS_ENDPOINT,
        env["ALICLOUD_ROLE_ARN"],
        env["ALICLOUD_OIDC_PROVIDER_ARN"],
        token,
        f"github-{env.get('GITHUB_RUN_ID', 'run')}",
    )
    with Path(env["GITHUB_ENV"]).open("a") as stream:
        stream.writelines(f"{name}={value}\n" for name, value in values.items())
    return [f"::add-mask::{value}" for value in values.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.ci_credentials", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(f"error: not set: {', '.join(missing)} (see docs/runbook.md, 'Continuous delivery')", file=sys.stderr)
        return 2
    try:
        masks = export(dict(os.environ))
    except CredentialError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(masks))
    print(f"Temporary credentials of {os.environ['ALICLOUD_ROLE_ARN']} for the next steps ({SESSION_SECONDS} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
