"""`network:` and `secrets:` in agents.yaml: what is accepted, and one clear sentence with
FILE:LINE for what is not."""

from __future__ import annotations

from engine.cli import cmd_check
from engine.config import NetworkRules
from engine.loader import load_team


def check(tmp_path, capsys, body: str) -> tuple[int, str]:
    (tmp_path / "team.yaml").write_text(body)
    code = cmd_check(str(tmp_path / "team.yaml"), str(tmp_path / "state.db"))
    return code, capsys.readouterr().out


AGENT = "agents:\n  - id: a\n    model: scripted\n    script: []\n"


def test_bridge_is_refused_with_what_to_write(tmp_path, capsys):
    code, out = check(tmp_path, capsys, "sandbox:\n  network: bridge\n" + AGENT)
    assert code == 2
    assert out.startswith(f"{tmp_path}/team.yaml:2: sandbox.network: `bridge` is gone: write "
                          "`unrestricted`")


def test_a_url_is_not_a_host_pattern(tmp_path, capsys):
    code, out = check(tmp_path, capsys, AGENT + "    network: {allow: [pypi.org, 'https://x.org']}\n")
    assert code == 2 and "team.yaml:5: agents[0].network.allow[1]: 'https://x.org' is a URL" in out


def test_secrets_without_the_proxy_are_refused(tmp_path, capsys):
    code, out = check(tmp_path, capsys, AGENT + "    secrets: [{host: x.org, header: x-api-key, env: K}]\n")
    assert code == 2 and "agents[0].secrets: secrets are added by the run's egress proxy" in out


def test_agent_over_team_over_default(tmp_path):
    (tmp_path / "team.yaml").write_text(
        "sandbox: {network: unrestricted}\ndefaults: {network: {allow: [pypi.org]}}\n"
        "agents:\n  - {id: a, model: scripted, script: []}\n"
        "  - {id: b, model: scripted, script: [], network: none}\n"
        "  - {id: c, model: scripted, script: [], network: {allow: ['*.github.com:443'], deny: [x.org]}}\n")
    team = load_team(tmp_path / "team.yaml")
    a, b, c = (team.network_of(x) for x in team.agents)
    assert isinstance(a, NetworkRules) and a.allow == ["pypi.org"] and a.ask
    assert b == "none"
    assert isinstance(c, NetworkRules) and c.deny == ["x.org"]


async def test_the_local_backend_says_it_cannot_enforce_network_rules(tmp_path):
    from engine_support import make_team, run_to_end

    team = make_team(tmp_path, [{"id": "a", "network": {"allow": ["pypi.org"]}}])
    engine, w, store = await run_to_end(team, tmp_path)
    [notice] = [e for e in w.find("notice") if "network rules" in e.data["text"]]
    assert notice.data["level"] == "warning"
    assert "NOT enforced" in notice.data["text"] and "LOCAL" in notice.data["text"]
    assert engine.network is not None and engine.network.proxy is None  # nothing pretends
    await store.close()
