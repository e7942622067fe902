"""The policy against the real shells: random command lines built from tricky pieces
(quotes, escapes, braces, globs, variables, comments, line continuations, CRs, risky
names); every one the policy calls safe is run by dash, bash, bash --posix (macOS's
/bin/sh) and busybox sh with a PATH of logging shims.  None may start a program that is
not read-only (with its arguments) nor create or change a file."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.command_policy import assess
from engine.safe_list import READ_ONLY, read_only_problem

PIECES = [
    "ls", "cat", "rm", "evil", "r''m", "'rm'", "\\rm", "r\\m", ";", "&&", "||", "|", "&", "\n",
    "#", " ", "$X", "${X}", "X=rm", "'", '"', "\\", "{", "}", "(", ")", "`", "$(", "<", ">",
    ">/dev/null", "2>&1", "*", "?", "-exec", "find", ".", "-delete", "echo", "\r", "\t", "eval",
    "sh", "-c", "for", "in", "do", "done", "if", "then", "fi", "!", "~", "=", ",", "{rm,x}",
    "$'\\x72m'", "<<", "EOF", "a.txt", "sort", "-o", "out", "uniq", "'-delete'", "-de''lete",
    "\\\n", "$@", "$1", "[", "]", "grep", "wc", "head", "$", ":", "cd", "..", "/",
    "printf", "-v", "PATH", "test", "for f in *;do", "$f", "\"$f\"",
]
#: more shell syntax for the long sweep
MORE_PIECES = ["<<'E'", "E", "$'", "\\'", "#!", "case", "esac", ";;", "function", "select", "((",
               "))", "$((", "[[", "]]", "time", "-p", "coproc", "exec", "3>", "&>", ">&", "<>",
               "|&", "!(", "@(", "{a,b}", "~+", "$-", "$#", "${#}", "${X-}", "set", "-e", "exit",
               "x=1", "done", "while", "until", "then", "else", "elif"]
#: pieces of commands that pass, so that many generated lines are judged safe
SAFE_PIECES = ["ls", "cat", "echo", "find", ".", "a.txt", " ", ";", "\n", "|", "#", "\\", "'",
               '"', "$X", "*", "{", "}", "-delete", "-exec", ">/dev/null", "\\\n", "\r", "sort",
               "-o", "uniq", "out"]
#: lines aimed at bash's evaluation of names and at PATH: they must ask or be harmless
HANDPICKED = [
    'for f in *; do test -v "$f"; done', 'for f in *; do [ -v "$f" ]; done',
    'for a in *; do for b in *; do test $a "$b"; done; done', "printf -v PATH .; ls",
    "for f in *; do echo $[f]; done", 'for f in *; do cat "$f"; done', "cd . && ls",
    "find . -name '*' -type f", 'for f in *; do printf "%d" "$f"; done',
]
SHELLS = [["/usr/bin/dash"], ["/usr/bin/bash"], ["/usr/bin/bash", "--posix"],
          ["/usr/bin/busybox", "sh"]]
BUILTINS = {"echo", "printf", "pwd", "true", "false", ":", "test", "[", "cd"}


def commands(seed: int, count: int, more: bool = False) -> list[str]:
    rng = random.Random(seed)
    pieces = PIECES + SAFE_PIECES * 3 + (MORE_PIECES if more else [])
    return HANDPICKED + ["".join(rng.choice(pieces) + rng.choice(["", " ", " "])
                    for _ in range(rng.randint(1, 7))) for _ in range(count)]


def make_shims(where: Path, log: Path) -> None:
    """A logging stand-in for every program a generated line can name."""
    for name in (READ_ONLY - BUILTINS) | {"rm", "evil", "x", "X", "sh", "eval"}:
        shim = where / name
        shim.write_text(f'#!/bin/sh\nprintf "%s\\0" "{name}" "$@" >> {log}\nprintf "\\n" >> {log}\n')
        shim.chmod(0o755)


def plant(work: Path, log: Path) -> None:
    """The workspace: a file to read, and programs named like safe ones that must never run
    (a PATH change or a hidden ./ls would reach them)."""
    (work / "a.txt").write_text("hello\n")
    (work / "a[$(rm a.txt)]").write_text("")  # bash runs this subscript in test -v, $[...]
    for name in ("ls", "cat", "find", "sort", "wc"):
        (work / name).write_text(f'#!/bin/sh\nprintf "%s\\0" "planted-{name}" >> {log}\n'
                                 f'printf "\\n" >> {log}\n')
        (work / name).chmod(0o755)


def programs_started(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    lines = log.read_bytes().split(b"\n")
    return [[a.decode(errors="replace") for a in line.split(b"\0")[:-1]] for line in lines if line]


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_what_the_policy_calls_safe_runs_only_read_only_programs(tmp_path, shell):
    safe = [c for c in commands(seed=7, count=1000) if assess(c).safe]
    assert len(safe) > 60  # the generator reaches the safe side often enough
    assert bypasses_in(tmp_path, shell, safe) == []


@pytest.mark.slow
@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
def test_the_long_sweep(tmp_path, shell):
    safe = [c for seed in range(100, 106) for c in commands(seed, 4000, more=True) if assess(c).safe]
    assert bypasses_in(tmp_path, shell, safe) == []


def bypasses_in(tmp_path: Path, shell: list[str], safe: list[str]) -> list[tuple]:
    """Run each command in ``shell``; what it started off the safe list or changed."""
    if not Path(shell[0]).exists():
        pytest.skip(f"{shell[0]} is not installed")
    shims, log = tmp_path / "shims", tmp_path / "log"
    shims.mkdir()
    make_shims(shims, log)
    bypasses: list[tuple] = []
    for command in safe:
        work = tmp_path / "work"
        work.mkdir()
        plant(work, log)
        before = sorted(os.listdir(work))
        log.unlink(missing_ok=True)
        try:
            subprocess.run([*shell, "-c", command], cwd=work, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10,
                           env={"PATH": str(shims), "X": "rm", "HOME": str(work)})
        except subprocess.TimeoutExpired:
            pass
        bypasses += [(command, argv) for argv in programs_started(log)
                     if read_only_problem(argv[0], argv[1:])]
        if sorted(os.listdir(work)) != before or (work / "a.txt").read_text() != "hello\n":
            bypasses.append((command, sorted(os.listdir(work))))
        shutil.rmtree(work)
    return bypasses
