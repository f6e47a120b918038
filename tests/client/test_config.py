"""LinkisClient configuration: arguments/traitlets config > env > linkis-cli.properties >
connection file > defaults; secrets never shown."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from traitlets import TraitError
from traitlets.config import Config

from linkis_jupyter.client import LinkisClient
from linkis_jupyter.settings import _ENV, MASK
from linkis_jupyter.errors import ConfigError, LinkisError


def sources(client: LinkisClient) -> dict[str, tuple[str, str]]:
    return {name: (value, source) for name, value, source in client.describe_config()}


def test_defaults_without_any_configuration() -> None:
    client = LinkisClient()
    cfg = sources(client)
    assert client.gateway_url == "http://127.0.0.1:9001"
    assert cfg["gateway_url"] == ("http://127.0.0.1:9001", "default")
    assert client.api == "auto" and client.proxy_mode == "auto"
    assert client.auth_method == "none"
    assert client.connect_timeout > 0 and client.read_timeout > 0
    assert client.verify is True


def test_environment_variables_are_read_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKIS_GATEWAY_URL", "https://linkis.example:9001/api/rest_j/v1/")
    monkeypatch.setenv("LINKIS_USER", "alice")
    monkeypatch.setenv("LINKIS_PASSWORD", "pw-Env-Secret")
    monkeypatch.setenv("LINKIS_PROXY_USER", "carol")
    monkeypatch.setenv("LINKIS_VALIDATION_CODE", "vc-Env-Secret")
    monkeypatch.setenv("LINKIS_READ_TIMEOUT", "7.5")
    client = LinkisClient()
    cfg = sources(client)
    # The REST prefix a user may paste is not doubled.
    assert client.gateway_url == "https://linkis.example:9001"
    assert cfg["user"] == ("alice", "env LINKIS_USER")
    assert cfg["password"] == (MASK, "env LINKIS_PASSWORD")
    assert cfg["validation_code"] == (MASK, "env LINKIS_VALIDATION_CODE")
    assert client.read_timeout == 7.5
    assert client.auth_method == "password"
    shown = repr(client) + str(client.describe_config())
    assert "pw-Env-Secret" not in shown and "vc-Env-Secret" not in shown
    assert "carol" in repr(client)


def test_arguments_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKIS_USER", "alice")
    monkeypatch.setenv("LINKIS_GATEWAY_URL", "http://env-host:1")
    client = LinkisClient(user="bob", gateway_url=None)
    assert client.user == "bob"
    assert client.gateway_url == "http://env-host:1"  # None means "not given"
    assert sources(client)["user"] == ("bob", "argument or config")


def test_traitlets_config_and_later_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKIS_TOKEN", "tok-Env-Secret")
    config = Config()
    config.LinkisClient.user = "dave"
    config.LinkisClient.poll_interval_max = 0.5
    client = LinkisClient(config=config)
    assert client.user == "dave" and client.poll_interval_max == 0.5
    assert sources(client)["user"][1] == "argument or config"
    assert client.auth_method == "token"
    # As `%config LinkisClient.password = ...` does: a higher-level password now wins over the env token.
    client.password = "pw-Set-Later"
    assert client.auth_method == "password"
    assert sources(client)["password"] == (MASK, "argument or config")


def test_every_env_variable_is_named_in_its_help() -> None:
    traits = LinkisClient.class_traits(config=True)
    for name, var in _ENV.items():
        assert var in (traits[name].help or ""), name


def test_cli_properties_token_strategy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "linkis-cli.properties"
    conf.write_text(
        "# shipped with linkis-cli\n"
        "wds.linkis.client.common.gatewayUrl=http://cli-host:9001\n"
        "wds.linkis.client.common.authStrategy=token\n"
        "wds.linkis.client.common.tokenKey=Validation-Code\n"
        "wds.linkis.client.common.tokenValue=cli-Token-Secret\n"
        "wds.linkis.client.common.submitUser = hadoop\n"
        "wds.linkis.client.common.proxyUser: erin\n"
    )
    monkeypatch.setenv("LINKIS_CLI_CONF", str(conf))
    client = LinkisClient()
    cfg = sources(client)
    assert client.gateway_url == "http://cli-host:9001"
    assert client.user == "hadoop" and client.proxy_user == "erin"
    assert client.token == "cli-Token-Secret" and client.auth_method == "token"
    assert cfg["token"] == (MASK, f"file {conf}")
    # The environment still beats the file.
    monkeypatch.setenv("LINKIS_USER", "frank")
    assert LinkisClient().user == "frank"


def test_cli_properties_static_strategy_logs_in_with_key_and_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "cli.properties"
    conf.write_text(
        "wds.linkis.client.common.authStrategy=static\n"
        "wds.linkis.client.common.tokenKey=hadoop\n"
        "wds.linkis.client.common.tokenValue=static-Pw-Secret\n"
    )
    monkeypatch.setenv("LINKIS_CLI_CONF", str(conf))
    client = LinkisClient()
    assert (client.user, client.password, client.auth_method) == ("hadoop", "static-Pw-Secret", "password")


def test_connection_file_of_the_embedded_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = tmp_path / "linkis-gateway.json"
    conn.write_text(json.dumps({"url": "http://127.0.0.1:4321", "user": "alice", "token": "conn-Token-Secret", "pid": os.getpid()}))
    monkeypatch.setenv("LINKIS_CONNECTION_FILE", str(conn))
    client = LinkisClient()
    assert client.gateway_url == "http://127.0.0.1:4321"
    assert (client.user, client.token, client.auth_method) == ("alice", "conn-Token-Secret", "token")
    assert sources(client)["token"][1] == f"connection file {conn}"
    # Pointed at another gateway, the file's token is not sent there.
    other = LinkisClient(gateway_url="http://elsewhere:9001")
    assert other.token == "" and other.user == ""


def test_stale_connection_file_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    conn = tmp_path / "linkis-gateway.json"
    conn.write_text(json.dumps({"url": "http://127.0.0.1:4321", "user": "alice", "token": "t", "pid": int(gone.stdout)}))
    monkeypatch.setenv("LINKIS_CONNECTION_FILE", str(conn))
    assert LinkisClient().gateway_url == "http://127.0.0.1:9001"


def test_cannot_connect_names_the_connection_file_of_a_stopped_gateway(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from linkis_jupyter.errors import TransportError

    # A port nothing listens on: the gateway that wrote the file has stopped (its pid, here ours,
    # lives on: a reused pid, or a gateway that hangs without its socket).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = tmp_path / "linkis-gateway.json"
    conn.write_text(json.dumps({"url": f"http://127.0.0.1:{port}", "user": "alice", "token": "conn-Token-Secret",
                                "pid": os.getpid()}))
    monkeypatch.setenv("LINKIS_CONNECTION_FILE", str(conn))
    client = LinkisClient(retries=0)
    with pytest.raises(TransportError) as info:
        client.list_jobs()
    text = "".join(info.value._render_traceback_())  # what a notebook shows
    assert "\n" not in text and "conn-Token-Secret" not in text
    assert (f": cannot connect to the Linkis gateway at http://127.0.0.1:{port} (from the connection file {conn} "
            "of a gateway that is no longer running; start one with `linkis-jupyter gateway`)") in text, text
    # The same address given by the user: no word of the file.
    given = LinkisClient(gateway_url=f"http://127.0.0.1:{port}", retries=0)
    with pytest.raises(TransportError) as info:
        given.list_jobs()
    assert "connection file" not in str(info.value) and "is it running at" in str(info.value)


def test_user_mistakes_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TraitError, match="http:// or https://"):
        LinkisClient(gateway_url="linkis-host:9001")
    with pytest.raises(TraitError):
        LinkisClient(api="websocket")
    with pytest.raises(TraitError):
        LinkisClient(page_size=200000)
    monkeypatch.setenv("LINKIS_READ_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="LINKIS_READ_TIMEOUT") as info:
        LinkisClient().read_timeout  # noqa: B018
    assert "\n" not in str(info.value)
    assert isinstance(info.value, LinkisError) and isinstance(info.value, ValueError)


def test_redact_masks_secrets_in_any_text() -> None:
    client = LinkisClient(
        password="pw/Secret 1",
        token="Tok-Secret",
        validation_code="VC-Secret",
        headers={"X-Api-Key": "header-Secret", "X-Trace": "visible"},
    )
    text = client.redact("a pw/Secret 1 b pw%2FSecret%201 c Tok-Secret d VC-Secret e header-Secret http://u:pw@h/")
    for secret in ("pw/Secret 1", "pw%2FSecret%201", "Tok-Secret", "VC-Secret", "header-Secret", ":pw@"):
        assert secret not in text
    headers = sources(client)["headers"][0]
    assert "header-Secret" not in headers and "visible" in headers


@pytest.mark.parametrize(
    ("var", "value"),
    [("LINKIS_API", "websocket"), ("LINKIS_GATEWAY_URL", "linkis-host:9001"), ("LINKIS_CONNECT_TIMEOUT", "-1"),
     ("LINKIS_VERIFY", "maybe"), ("LINKIS_PROXY_MODE", "cookie")],
)
def test_bad_environment_values_name_their_variable(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    client = LinkisClient()
    with pytest.raises(ConfigError, match=var):
        client.describe_config()
