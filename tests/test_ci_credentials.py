"""`python -m tooling.ci_credentials`: GitHub's OIDC token exchanged for a RAM role's temporary credentials."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from tooling.ci_credentials import main

GITHUB_TOKEN = "eyJ-github-oidc-token"
ROLE = "acs:ram::1234567890:role/ack-inference-prod-deploy"
IDP = "acs:ram::1234567890:oidc-provider/github"


class FakeServices(BaseHTTPRequestHandler):
    """GitHub's token endpoint (bearer and audience required) and STS AssumeRoleWithOIDC (the token required)."""

    seen: ClassVar[list[str]] = []

    def do_GET(self):
        FakeServices.seen.append(self.path)
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/token":
            ok = (
                self.headers.get("Authorization") == "Bearer request-token"
                and query.get("audience") == "sts.aliyuncs.com"
            )
            self.answer(200 if ok else 403, {"value": GITHUB_TOKEN})
        elif query.get("Action") == "AssumeRoleWithOIDC" and query.get("OIDCToken") == GITHUB_TOKEN:
            ok = query["RoleArn"] == ROLE and query["OIDCProviderArn"] == IDP
            credentials = {"AccessKeyId": "STS.id", "AccessKeySecret": "sts-secret", "SecurityToken": "sts-token"}
            self.answer(200 if ok else 400, {"Credentials": credentials})
        else:
            self.answer(403, {"Code": "InvalidParameter"})

    def answer(self, status: int, body: dict) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def services():
    server = HTTPServer(("127.0.0.1", 0), FakeServices)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def set_env(monkeypatch, tmp_path, services: str, role: str = ROLE):
    for name, value in {
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{services}/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
        "GITHUB_ENV": str(tmp_path / "github-env"),
        "ALICLOUD_ROLE_ARN": role,
        "ALICLOUD_OIDC_PROVIDER_ARN": IDP,
        "ALICLOUD_OIDC_AUDIENCE": "sts.aliyuncs.com",
        "ALICLOUD_STS_ENDPOINT": services,
        "GITHUB_RUN_ID": "42",
    }.items():
        monkeypatch.setenv(name, value)


def test_the_role_credentials_reach_the_next_steps_masked(monkeypatch, tmp_path, services, capsys):
    set_env(monkeypatch, tmp_path, services)
    assert main([]) == 0
    assert (tmp_path / "github-env").read_text() == (
        "ALICLOUD_ACCESS_KEY=STS.id\nALICLOUD_SECRET_KEY=sts-secret\nALICLOUD_SECURITY_TOKEN=sts-token\n"
    )
    log = capsys.readouterr().out
    assert log.splitlines()[:3] == ["::add-mask::STS.id", "::add-mask::sts-secret", "::add-mask::sts-token"]
    sts = urllib.parse.parse_qs(urllib.parse.urlparse(FakeServices.seen[-1]).query)
    assert sts["RoleSessionName"] == ["github-42"] and sts["Version"] == ["2015-04-01"]


def test_a_refused_role_is_a_one_line_error(monkeypatch, tmp_path, services, capsys):
    set_env(monkeypatch, tmp_path, services, role="acs:ram::1234567890:role/not-trusted")
    assert main([]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {services}/ answered 400") and error.count("\n") == 1
    assert not (tmp_path / "github-env").exists()


def test_a_missing_variable_is_a_one_line_error(monkeypatch, capsys):
    for name in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ALICLOUD_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: not set: ACTIONS_ID_TOKEN_REQUEST_URL") and error.count("\n") == 1
