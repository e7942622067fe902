"""`approval: risky` fails closed: every rewording of a risky command asks, read-only
commands don't.  Attacks run through the real engine (scripted agent, local sandbox,
real SQLite) against a workspace of files that must survive."""

from __future__ import annotations

import asyncio
import os

import pytest
from engine_support import make_team, run_to_end, start, step

from engine.approval_gate import protected_reason
from engine.command_policy import assess, unquoted

KEEP = ("f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9")

#: each of these ran without asking under `approval: risky` (issue 10, part 3), or is a
#: way around a safe list; all of them only touch the test's own workspace
ATTACKS = [
    "r''m -rf keep/f1",
    "X=r; ${X}m keep/f2",
    'eval "$(echo cm0gLXJmIGtlZXAvZjM= | base64 -d)"',
    "echo cm0gLXJmIGtlZXAvZjM= | base64 -d | sh",
    "w''get -q -O keep/f4 http://127.0.0.1:9/",
    "python3 -c 'import shutil; shutil.rmtree(\"keep\")'",
    "perl -e 'unlink \"keep/f1\"'",
    "find keep -name f5 -delete",
    "find keep -name f5 -exec r''m {} +",
    "find keep -fprint keep/f5",
    "truncate -s 0 keep/f6",
    ": > keep/f7",
    "cat keep/f1 > keep/f2",
    "echo x >> keep/f1",
    "ls &> keep/f1",
    "ls >| keep/f1",
    "git -C . push",
    "chmod -R 777 keep",
    "tee keep/f8 < /dev/null",
    "cp keep/f1 keep/f9",
    "echo building" + "\n" * 60 + "rm -rf keep/f9",
    "sh -c 'rm keep/f1'",
    "bash -c 'rm keep/f1'",
    "f() { r''m keep/f1; }; f",
    "alias ls='rm -rf keep'; ls",
    "ls; $(printf rm) keep/f1",
    "ls `printf x`",
    "\"$(printf rm)\" keep/f1",
    "ls && env rm keep/f1",
    "echo keep/f1 | xargs rm",
    "timeout 5 rm keep/f1",
    "PATH=.:$PATH ls",
    "cat <<EOF\n$(rm keep/f1)\nEOF",
    "ls {,-la}; {rm,keep/f1}",
    "sed -i d keep/f1",
    "awk 'BEGIN{system(\"rm keep/f1\")}'",
    "sort -o keep/f1 keep/f2",
    "r\\\nm keep/f1",
    "/bin/rm keep/f1",
    "ls ) rm keep/f1",
]


def attack_team(tmp_path, command, **agent):
    keep = tmp_path / "ws" / "keep"
    keep.mkdir(parents=True)
    for name in KEEP:
        (keep / name).write_text(f"{name} must survive\n")
    return make_team(tmp_path, [{"id": "a", "approval": "risky", "sandbox_path": "ws",
                                 "script": [step("run_command", command=command)], **agent}])


def workspace_untouched(tmp_path) -> bool:
    keep = tmp_path / "ws" / "keep"
    return all((keep / n).read_text() == f"{n} must survive\n" for n in KEEP) \
        and sorted(p.name for p in keep.iterdir()) == sorted(KEEP)


@pytest.mark.parametrize("command", ATTACKS)
async def test_every_rewording_of_a_risky_command_asks(tmp_path, command):
    engine, w, store = await start(attack_team(tmp_path, command), tmp_path)
    ask = await asyncio.wait_for(_first_interrupt_or_end(engine, w), 15)
    assert ask is not None, f"ran without asking: {command!r}"
    assert ask.data["kind"] == "command_approval" and ask.data["command"] == command
    assert ask.data["reason"]
    await engine.reject(ask.data["id"], "no")
    await engine.wait()
    (res,) = w.results("a")
    assert res["result"]["error"] == "the person rejected this command: no"
    assert workspace_untouched(tmp_path)
    await store.close()


async def _first_interrupt_or_end(engine, w):
    """The first interrupt the agent raised, or None when its run ended without one."""
    try:
        return await w.wait_for("interrupt", "a")
    except AssertionError:  # the run ended without one
        return None


#: read-only commands: each runs under `approval: risky` without a question
SAFE = [
    "ls -la", "cat a.txt", "head -n 1 a.txt", "tail -n 1 a.txt", "wc -l a.txt",
    "grep -rn hello .", "find . -name '*.txt'", "find . -type f | sort | uniq -c",
    "echo hi", "printf '%s\\n' x", "pwd", "true", "diff a.txt a.txt", "stat a.txt",
    "file a.txt", "du -s .", "ls 2>/dev/null", "ls >/dev/null 2>&1",
    "cat a.txt | grep hello | wc -l", "cd sub && ls", "test -f a.txt && echo yes",
    "[ -d sub ]", "echo $HOME", "for f in *.txt; do wc -c $f; done", "ls # a comment",
    "date +%s", "sort a.txt", "basename /x/y", "cat < a.txt", "cmp a.txt a.txt",
    "sha256sum a.txt", "tr a-z A-Z < a.txt", "cut -c1-3 a.txt", "sleep 0", "uname -a",
    "ls\nwc -c a.txt", "if test -f a.txt; then cat a.txt; fi", "grep -c x a.txt || true",
    "set -eux; ls | wc -l; exit 0",
]


@pytest.mark.parametrize("command", SAFE)
async def test_each_read_only_command_runs_without_asking(tmp_path, command):
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "a.txt").write_text("hello\n")
    team = make_team(tmp_path, [{"id": "a", "approval": "risky", "sandbox_path": "ws",
                                 "script": [step("run_command", command=command)]}])
    engine, w, store = await run_to_end(team, tmp_path)
    assert not w.find("interrupt"), w.find("interrupt")[0].data["reason"]
    (res,) = w.results("a")
    assert res["result"]["exit_code"] == 0, res["result"]["output"]
    await store.close()


async def test_the_teams_safe_commands_run_without_asking_and_nothing_else_does(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "approval": "risky", "script": [
        step("run_command", command="python3 --version"),
        step("run_command", command="make --version && python3 --version"),
        step("run_command", command="python3 -c 'print(1)'"),
        step("run_command", command="python3 --version > out.txt"),
    ]}], safe_commands=["python3 --version", "make *"])
    engine, w, store = await start(team, tmp_path)
    first = await w.wait_for("interrupt", "a", kind="command_approval")
    assert first.data["command"] == "python3 -c 'print(1)'"
    assert first.data["reason"] == "`python3 -c` runs code given as text"
    await engine.reject(first.data["id"], "no")
    second = await w.wait_for("interrupt", "a", kind="command_approval", id="i2")
    assert second.data["reason"] == "writes to a file: > out.txt"
    await engine.reject(second.data["id"], "no")
    await engine.wait()
    assert [r["is_error"] for r in w.results("a")] == [False, False, True, True]
    await store.close()


async def test_a_script_the_agent_wrote_is_shown_in_the_prompt(tmp_path):
    script = "echo cleaning\nrm -rf keep\n"
    team = make_team(tmp_path, [{"id": "a", "approval": "always", "sandbox_path": "ws", "script": [
        step("write_file", path="cleanup.sh", content=script),
        step("run_command", command="sh cleanup.sh"),
    ]}])
    engine, w, store = await start(team, tmp_path)
    write = await w.wait_for("interrupt", "a", kind="command_approval")
    assert write.data["path"] == "cleanup.sh" and write.data["reason"] == "approval: always"
    assert write.data["files"] == [{"path": "cleanup.sh", "content": script}]
    await engine.approve(write.data["id"])
    run = await w.wait_for("interrupt", "a", kind="command_approval", id="i2")
    assert run.data["command"] == "sh cleanup.sh"
    assert run.data["reason"] == "approval: always; runs a script the agent wrote: cleanup.sh"
    assert run.data["files"] == [{"path": "cleanup.sh", "content": script}]
    await engine.reject(run.data["id"], "no")
    await engine.wait()
    await store.close()


async def test_a_long_script_is_shown_cut_with_a_marker(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "approval": "risky", "sandbox_path": "ws", "script": [
        step("write_file", path="bin/run.sh", content="#" * 5000),
        step("run_command", command="cd bin; ./run.sh"),
    ]}])
    engine, w, store = await start(team, tmp_path)
    run = await w.wait_for("interrupt", "a", kind="command_approval")
    assert run.data["reason"] == "runs a script the agent wrote: bin/run.sh"
    (shown,) = run.data["files"]
    assert shown["content"] == "#" * 4000 + "\n… (1000 more characters not shown)"
    await engine.reject(run.data["id"], "no")
    await engine.wait()
    await store.close()


PROTECTED = [".git/hooks/post-checkout", "/workspace/.git/config", "sub/../.git/hooks/x",
             ".GIT/hooks/x", ".github/workflows/ci.yml", ".gitlab-ci.yml", ".husky/pre-commit",
             "agents.yaml", "notes/rules.md", ".envrc"]


@pytest.mark.parametrize("path", PROTECTED)
async def test_writing_a_protected_path_asks_under_risky(tmp_path, path):
    team = make_team(tmp_path, [{"id": "a", "approval": "risky", "sandbox_path": "ws",
                                 "rules_file": "rules.md", "script": [
                                     step("write_file", path=path, content="echo pwned\n")]}])
    (tmp_path / "rules.md").write_text("be nice\n")
    engine, w, store = await start(team, tmp_path)
    ask = await w.wait_for("interrupt", "a", kind="command_approval")
    assert ask.data["path"] == path and "writes a" in ask.data["reason"]
    assert ask.data["files"] == [{"path": path, "content": "echo pwned\n"}]
    await engine.reject(ask.data["id"], "not there")
    await engine.wait()
    (res,) = w.results("a")
    assert res["result"]["error"] == "the person rejected this write: not there"
    assert not any(p.is_file() for p in (tmp_path / "ws").rglob("*"))
    await store.close()


async def test_ordinary_writes_do_not_ask_under_risky_and_always_asks_every_write(tmp_path):
    team = make_team(tmp_path, [
        {"id": "r", "approval": "risky", "sandbox_path": "r", "script": [
            step("write_file", path="src/app.py", content="x = 1\n"),
            step("write_file", path="Makefile", content="all:\n"),
            step("write_file", path="gitignore.txt", content="x\n")]},
        {"id": "a", "approval": "always", "sandbox_path": "a", "script": [
            step("write_file", path="notes.txt", content="x\n")]},
        {"id": "n", "sandbox_path": "n", "script": [
            step("write_file", path=".git/hooks/pre-commit", content="x\n")]},
    ])
    engine, w, store = await start(team, tmp_path)
    ask = await w.wait_for("interrupt", "a", kind="command_approval")
    assert ask.data["reason"] == "approval: always"
    await engine.approve(ask.data["id"])
    await engine.wait()
    assert [i.agent for i in w.find("interrupt")] == ["a"]
    assert (tmp_path / "a" / "notes.txt").read_text() == "x\n"
    assert (tmp_path / "r" / "Makefile").is_file()
    await store.close()


async def test_the_agents_timeout_cannot_exceed_the_teams_command_timeout(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("run_command", command="sleep 30", timeout=600),
        step("run_command", command="echo quick", timeout=0.5),
    ]}], sandbox={"backend": "local", "resources": {"command_timeout": 0.5}})
    engine, w, store = await run_to_end(team, tmp_path)
    slow, quick = w.results("a")
    assert slow["result"]["timed_out"] is True and slow["result"]["exit_code"] == 124
    assert quick["result"]["output"] == "quick\n"
    await store.close()


# -- the policy itself (fast, no engine) ------------------------------------------------

@pytest.mark.parametrize(("command", "reason"), [
    ("find / -delete", "`find -delete` changes files or runs commands"),
    ("tee /etc/passwd", "`tee` is not on the safe list"),
    ("cp x /usr/bin/", "`cp` is not on the safe list"),
    ("X=r; ${X}m f", "variable expansion in command position"),
    ("r''m -rf f", "quoting or escapes in command position: r''m"),
    ("\"$(printf rm)\" f", "command substitution in command position"),
    ("sh cleanup.sh", "`sh` runs a script: cleanup.sh"),
    ("source ./env.sh", "`source` runs a file in the shell: ./env.sh"),
    (". ./env.sh", "`.` runs a file in the shell: ./env.sh"),
    ("bash -ec 'rm x'", "`bash -ec` runs code given as text"),
    ("node -e 1", "`node -e` runs code given as text"),
    ("python3 -m http.server", "`python3 -m` runs a module"),
    ("cat x | bash", "`bash` runs commands from its input"),
    ("find . -name $X", "an unquoted pattern or variable could expand to an option of `find`"),
    ("find . *", "an unquoted pattern or variable could expand to an option of `find`"),
    ("find . {-delete,}", "an unquoted pattern or variable could expand to an option of `find`"),
    ("sort --out=x y", "`sort -o` writes a file"),
    ("sort -ro x y", "`sort -o` writes a file"),
    ("uniq in out", "`uniq` with two operands writes the second"),
    ("file -C -m x", "`file -C` writes a compiled magic file"),
    ("date -s 2020-01-01", "`date -s` sets the clock"),
    ("ls >& out", "writes to a file: >& out"),
    ("ls <> x", "writes to a file: <> x"),
    ("ls >& -x", "a redirection the shells read differently: >& -"),
    ("uniq>& -de''lete", "a redirection the shells read differently: >& -"),
    ("ls >&-x", "a redirection the shells read differently: >&-"),
    ("cat < /dev/tcp/example.com/80", "opens a network connection: /dev/tcp/example.com/80"),
    ("echo ${X:-$HOME}", "a parameter expansion the policy cannot see through: ${X:-$HOME}"),
    ("echo $'\\x72m'", "a parameter expansion the policy cannot see through: $"),
    ("export PATH=.", "`export` changes the shell's state"),
    ("set -o posix; ls", "`set` changes the shell's state beyond -e, -u, -x and -o pipefail"),
    ("set -- -delete", "`set` changes the shell's state beyond -e, -u, -x and -o pipefail"),
    ("for f in *; do test -v \"$f\"; done", "`test -v` can run code hidden in a variable's name"),
    ("for f in *; do [ $f a ]; done", "an unquoted pattern or variable could expand to an option of `[`"),
    ("printf -v PATH .; ls", "`printf -v` sets a variable"),
    ("printf $X y", "an unquoted pattern or variable could expand to an option of `printf`"),
    ("[[ -f x ]]", "the shell parser cannot read it (unexpected token '-f' (position 3))"),
    ("ls\x00rm", "the command contains a NUL byte"),
    ("ls ))", "the shell parser cannot read it (unexpected token ')' (position 3))"),
    ("echo " + "a " * 8000, "the command is too long to check (16005 characters)"),
    ("{ " * 2000 + "ls; " + "}; " * 2000, "the shell parser cannot read it (maximum recursion depth exceeded)"),
    ("ls\rrm x", "a control character in command position: ls\rrm"),
])
def test_the_rule_that_triggered_is_the_reason(command, reason):
    assert reason in assess(command).reasons


def test_a_script_is_named_relative_to_the_workspace():
    verdict = assess("cd /workspace/tools && sh ../bin/x.sh; ./y", written={"bin/x.sh"})
    assert verdict.reasons == ("runs a script the agent wrote: bin/x.sh", "runs a file by path: ./y")
    assert verdict.scripts == ("bin/x.sh", "tools/y")


@pytest.mark.parametrize(("patterns", "command", "safe"), [
    (["pytest *"], "pytest", True),
    (["pytest *"], "pytest -q tests/test_x.py", True),
    (["pytest *"], "pytest -q > log.txt", False),
    (["pytest *"], "pytest; rm x", False),
    (["pytest *"], "PYTHONPATH=. pytest", False),
    (["pytest *"], "py''test", False),
    (["make test"], "make test", True),
    (["make test"], "make test install", False),
    (["make test"], "make", False),
    (["npm run *"], "npm run lint && npm run test", True),
    (["npm run *"], "npm install", False),
    (["cargo test -p *"], "cargo test -p core", True),
])
def test_safe_commands_patterns(patterns, command, safe):
    assert assess(command, patterns).safe is safe


def test_a_bad_safe_commands_entry_is_one_sentence_with_file_and_line(tmp_path):
    from engine.loader import ConfigError, load_team

    path = tmp_path / "agents.yaml"
    path.write_text("safe_commands:\n  - 'rm *'\n  - '* --version'\nagents:\n  - id: a\n")
    with pytest.raises(ConfigError) as err:
        load_team(path)
    message = str(err.value)
    assert "agents.yaml:3" in message and "the first word must be a plain program name" in message
    assert "Traceback" not in message


@pytest.mark.parametrize(("path", "protected"), [
    (".git/hooks/post-checkout", True), ("a/.git/config", True), (".git", True),
    ("/workspace/.github/workflows/x.yml", True), (".GitLab-CI.yml", True),
    ("Jenkinsfile", True), (".vscode/tasks.json", True), ("src/git.py", False),
    ("Makefile", False), ("docs/github.md", False), (".gitignore", False),
])
def test_protected_paths(path, protected):
    assert (protected_reason(path) is not None) is protected


def test_unquoted_sees_what_the_shell_expands():
    assert unquoted("'*.py'") == "" and unquoted('"$X"') == "$" and unquoted("a\\*b") == "ab"
    assert unquoted("x'y'\"z\"*") == "x*"


def test_the_dialog_text_makes_breaks_and_control_characters_visible():
    from tui.screens.command import multiline_warning, numbered_lines

    shown = numbered_lines("echo [/] [@click=app.quit]x[/]\n\x1b]0;pwned\x07rm -rf ~\ttab")
    assert shown.plain == "1 │ echo [/] [@click=app.quit]x[/]⏎\n2 │ ␛]0;pwned␇rm -rf ~␉tab"
    assert not shown.spans or all(not str(s.style).startswith("link") for s in shown.spans)
    assert multiline_warning("ls") is None
    assert "spans 61 lines" in multiline_warning("echo building" + "\n" * 60 + "rm -rf x").plain


RESUMED_TEAM = """\
name: resumed
sandbox: {backend: local}
agents:
  - id: a
    model: scripted
    approval: risky
    script:
      - {tool: write_file, args: {path: cleanup.sh, content: "rm -rf keep\\n"}}
      - {tool: ask_user, args: {question: "go?"}}
      - {tool: run_command, args: {command: "sh ./cleanup.sh"}}
"""


def test_a_resumed_run_still_knows_which_scripts_the_agent_wrote(tmp_path):
    from crash_support import HeadlessRun, resume

    (tmp_path / "team.yaml").write_text(RESUMED_TEAM)
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    run.until(lambda e: e["type"] == "interrupt" and e["kind"] == "user_input", answer=False)
    run.kill9()
    again = resume(tmp_path)
    try:
        ask = again.until(lambda e: e["type"] == "interrupt" and e["kind"] == "command_approval")
        assert ask["reason"] == "runs a script the agent wrote: cleanup.sh"
        assert ask["files"] == [{"path": "cleanup.sh", "content": "rm -rf keep\n"}]
        again.send({"type": "reject", "interrupt": ask["id"], "text": "no"})
        assert again.finish() == 0
    finally:
        if again.proc.poll() is None:
            again.kill9()


@pytest.mark.docker
async def test_in_a_container_the_script_shown_is_the_one_that_runs(tmp_path):
    from docker_support import require_docker

    from sandboxes.docker import TEST_IMAGE

    require_docker()
    team = make_team(tmp_path, [{"id": "a", "approval": "risky", "script": [
        step("write_file", path="tools/cleanup.sh", content="echo cleaned\n"),
        step("run_command", command="cd /workspace/tools && sh cleanup.sh"),
        step("run_command", command="ls /workspace/tools"),
    ]}], sandbox={"backend": "docker", "image": TEST_IMAGE})
    engine, w, store = await start(team, tmp_path)
    ask = await w.wait_for("interrupt", "a", kind="command_approval", timeout=60)
    assert ask.data["reason"] == "runs a script the agent wrote: tools/cleanup.sh"
    assert ask.data["files"] == [{"path": "tools/cleanup.sh", "content": "echo cleaned\n"}]
    await engine.approve(ask.data["id"])
    await asyncio.wait_for(engine.wait(), 60)
    ran, listed = w.results("a")[1:]
    assert ran["result"]["output"] == "cleaned\n" and listed["result"]["output"] == "cleanup.sh\n"
    assert len(w.find("interrupt")) == 1  # `ls` did not ask
    await store.close()


async def test_in_the_tui_a_write_is_approved_in_its_dialog_and_a_long_command_can_be_read(
        tmp_path, monkeypatch):
    from conftest_tui import app_for, pending, wait_until, write_team
    from textual.containers import VerticalScroll

    from tui.widgets.interrupts_panel import InterruptsPanel

    monkeypatch.chdir(tmp_path)
    long_command = "echo building" + "\n" * 60 + "rm -rf ~/project"
    team = {"name": "t", "agents": [{"id": "a", "approval": "risky", "sandbox_path": "ws", "script": [
        {"tool": "write_file", "args": {"path": ".git/hooks/pre-commit", "content": "exit 0\n"}},
        {"tool": "run_command", "args": {"command": long_command}}]}]}
    app = app_for(write_team(tmp_path, team), tmp_path)
    async with app.run_test(size=(110, 32)) as pilot:
        await wait_until(pilot, pending("command_approval"))
        app.query_one(InterruptsPanel).focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("a")
        await wait_until(pilot, lambda s: any(i.command for i in s.interrupts.values()))
        assert (tmp_path / "ws" / ".git" / "hooks" / "pre-commit").read_text() == "exit 0\n"
        app.query_one(InterruptsPanel).focus()
        await pilot.press("enter")
        await pilot.pause()
        box = app.screen.query_one("#command-box", VerticalScroll)
        assert box.has_focus and box.max_scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        assert box.scroll_y == box.max_scroll_y
        await pilot.press("r", *"no", "enter")
        await wait_until(pilot, lambda s: not s.interrupts)


async def _symlinked_writes(tmp_path, sandbox):
    ws = tmp_path / "ws"
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / "src").mkdir()
    os.symlink(".git", ws / "g")
    os.symlink("../.git/hooks", ws / "src" / "h")
    for path in [tmp_path, *ws.rglob("*")]:
        os.lchown(path, 1000, 1000)  # the container's user owns its workspace
    team = make_team(tmp_path, [{"id": "a", "approval": "risky", "sandbox_path": "ws", "script": [
        step("write_file", path="g/hooks/post-checkout", content="x\n"),
        step("write_file", path="src/h/pre-commit", content="x\n"),
        step("write_file", path="src/a b*[x].txt", content="plain\n"),
    ]}], sandbox=sandbox)
    engine, w, store = await start(team, tmp_path)
    for n, link in ((1, "g"), (2, "src/h")):
        ask = await w.wait_for("interrupt", "a", kind="command_approval", id=f"i{n}", timeout=60)
        assert ask.data["reason"] == \
            f"writes through a symlink, which may lead to a protected path: {link}"
        await engine.reject(ask.data["id"], "no")
    await asyncio.wait_for(engine.wait(), 60)
    assert os.listdir(ws / ".git" / "hooks") == []
    assert (ws / "src" / "a b*[x].txt").read_text() == "plain\n" and len(w.find("interrupt")) == 2
    await store.close()


async def test_a_write_through_a_symlink_asks_under_risky(tmp_path):
    await _symlinked_writes(tmp_path, {"backend": "local"})


@pytest.mark.docker
async def test_in_a_container_a_write_through_a_symlink_asks_under_risky(tmp_path):
    from docker_support import require_docker

    from sandboxes.docker import TEST_IMAGE

    require_docker()
    await _symlinked_writes(tmp_path, {"backend": "docker", "image": TEST_IMAGE})


async def test_a_command_the_list_cannot_show_whole_is_not_approved_from_the_list(tmp_path, monkeypatch):
    from conftest_tui import app_for, pending, wait_until, write_team

    from tui.screens.command import CommandScreen
    from tui.widgets.interrupts_panel import InterruptsPanel

    monkeypatch.chdir(tmp_path)
    team = {"name": "t", "agents": [{"id": "a", "approval": "risky", "sandbox_path": "ws", "script": [
        {"tool": "run_command", "args": {"command": "echo building" + "\n" * 60 + "touch gone"}}]}]}
    app = app_for(write_team(tmp_path, team), tmp_path)
    async with app.run_test(size=(110, 32)) as pilot:
        await wait_until(pilot, pending("command_approval"))
        app.query_one(InterruptsPanel).focus()
        await pilot.press("a")  # from the list: opens the dialog, approves nothing
        await pilot.pause()
        assert isinstance(app.screen, CommandScreen) and app.state.interrupts
        await pilot.press("a")  # in the dialog, with the whole command on screen
        await wait_until(pilot, lambda s: s.finished)
        assert (tmp_path / "ws" / "gone").exists()
