"""`python -m tooling.ci_credentials`: GitHub's OIDC token in a private file, the provider pointed at it."""

from __future__ import annotations

import json
import stat
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import yaml

from tooling.ci_credentials import configure, main
from tooling.offline.checkout import copy_program

TOKEN = "eyJ-github-oidc-token"


class FakeTokenService(BaseHTTPRequestHandler):
    """Answers like GitHub's token endpoint, and only to the request's bearer token and an audience."""

    seen: ClassVar[list[str]] = []

    def do_GET(self):
        FakeTokenService.seen.append(self.path)
        if self.headers.get("Authorization") != "Bearer request-token" or "audience=" not in self.path:
            self.send_response(403)
            self.end_headers()
            return
        body = json.dumps({"value": TOKEN}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_token_file_and_the_provider_configuration(tmp_path):
    project = copy_program(tmp_path / "project")
    server = HTTPServer(("127.0.0.1", 0), FakeTokenService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"http://127.0.0.1:{server.server_port}/token?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
            "ALICLOUD_ROLE_ARN": "acs:ram::1234567890:role/ack-inference-prod-deploy",
            "ALICLOUD_OIDC_PROVIDER_ARN": "acs:ram::1234567890:oidc-provider/github",
            "ALICLOUD_OIDC_AUDIENCE": "sts.aliyuncs.com",
            "RUNNER_TEMP": str(tmp_path),
            "GITHUB_RUN_ID": "42",
        }
        token_file = configure("prod", env, project)
    finally:
        server.shutdown()
    assert FakeTokenService.seen[-1] == "/token?api-version=2.0&audience=sts.aliyuncs.com"
    assert token_file.read_text() == TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    config = yaml.safe_load((project / "Pulumi.prod.yaml").read_text())["config"]
    assert config["alicloud:assumeRoleWithOidc"] == {
        "oidcProviderArn": "acs:ram::1234567890:oidc-provider/github",
        "roleArn": "acs:ram::1234567890:role/ack-inference-prod-deploy",
        "oidcTokenFile": str(token_file),
        "roleSessionName": "github-42",
    }
    assert config["ack-inference:tier"] == "production", "the rest of the stack file is kept"


def test_a_missing_variable_is_a_one_line_error(monkeypatch, capsys):
    for name in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ALICLOUD_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["--stack", "dev"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: not set: ACTIONS_ID_TOKEN_REQUEST_URL") and error.count("\n") == 1
