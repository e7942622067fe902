"""The commands `approval: risky` runs without asking.

Two sources: the read-only commands below, which change nothing whatever the workspace
holds (their options that write or run something are refused one by one), and the
team's own ``safe_commands:`` patterns, which trust whole programs (``pytest *`` trusts
pytest *and* the conftest.py the agent writes).  Everything else asks.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase

#: read-only whatever the workspace holds; NOT git (runs hooks, fsmonitor, pagers from
#: .git/config), sed/awk (write files, run commands), tee, xargs, env, interpreters
READ_ONLY = frozenset({
    "ls", "cat", "head", "tail", "wc", "grep", "egrep", "fgrep", "find", "echo", "printf",
    "pwd", "true", "false", ":", "test", "[", "diff", "cmp", "comm", "stat", "file", "du",
    "df", "basename", "dirname", "realpath", "readlink", "whoami", "id", "uname", "nproc",
    "cut", "tr", "nl", "rev", "tac", "od", "hexdump", "strings", "fold", "sleep", "cd",
    "which", "md5sum", "sha1sum", "sha256sum", "sha512sum", "cksum", "date", "sort", "uniq",
    "exit", "set",
})
#: `set` options that only change how errors and tracing behave
SET_OPTIONS = re.compile(r"[-+][euxv]+|[-+]o|pipefail|errexit|nounset|xtrace|verbose")

#: find's actions that delete, write files or run commands
FIND_ACTIONS = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint",
                          "-fprint0", "-fprintf", "-fls"})


def _short_flags(args: Sequence[str]) -> str:
    """The letters of every short-option cluster (``-bC`` gives ``bC``)."""
    return "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))


def _long(args: Sequence[str], *prefixes: str) -> str | None:
    """The first long option that is an abbreviation of, or equal to, one of ``prefixes``
    (GNU getopt accepts any unambiguous prefix: ``--out`` is ``--output``)."""
    for a in args:
        name = a.split("=", 1)[0]
        if name.startswith("--") and len(name) > 2 and any(p.startswith(name) for p in prefixes):
            return a
    return None


def _find(args: Sequence[str]) -> str | None:
    for a in args:
        if a in FIND_ACTIONS:
            return f"`find {a}` changes files or runs commands"
    return None


def _file(args: Sequence[str]) -> str | None:
    if "C" in _short_flags(args) or _long(args, "--compile"):
        return "`file -C` writes a compiled magic file"
    return None


def _sort(args: Sequence[str]) -> str | None:
    if "o" in _short_flags(args) or _long(args, "--output"):
        return "`sort -o` writes a file"
    if _long(args, "--compress-program"):
        return "`sort --compress-program` runs a program"
    return None


def _uniq(args: Sequence[str]) -> str | None:
    operands = [a for a in args if not a.startswith("-")]
    return "`uniq` with two operands writes the second" if len(operands) > 1 else None


def _date(args: Sequence[str]) -> str | None:
    if "s" in _short_flags(args) or _long(args, "--set"):
        return "`date -s` sets the clock"
    return None


def _test(args: Sequence[str]) -> str | None:
    if {"-v", "-R"} & set(args):  # bash evaluates the name's array subscript: a[$(cmd)]
        return "`test -v` can run code hidden in a variable's name"
    return None


def _printf(args: Sequence[str]) -> str | None:
    return "`printf -v` sets a variable" if any(a.startswith("-v") for a in args) else None


def _set(args: Sequence[str]) -> str | None:
    if all(SET_OPTIONS.fullmatch(a) for a in args):
        return None
    return "`set` changes the shell's state beyond -e, -u, -x and -o pipefail"


#: per-command checks of the options that write or run something; arguments of these
#: commands may not carry an unquoted glob or variable (it could expand to such an option)
OPTION_CHECKS: dict[str, Callable[[Sequence[str]], str | None]] = {
    "find": _find, "file": _file, "sort": _sort, "uniq": _uniq, "date": _date,
    "test": _test, "[": _test, "printf": _printf, "set": _set,
}


def read_only_problem(name: str, args: Sequence[str]) -> str | None:
    """Why ``name args`` is not a read-only command, or None when it is."""
    if name not in READ_ONLY:
        return f"`{name}` is not on the safe list"
    check = OPTION_CHECKS.get(name)
    return check(args) if check else None


class SafeCommands:
    """The team's ``safe_commands:`` patterns: words matched one by one (shell-style
    ``*``, ``?``, ``[...]`` inside a word); a last word ``*`` takes any further arguments.
    ``pytest *`` matches ``pytest`` and ``pytest -q tests``; ``make test`` only itself."""

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        self.patterns = [shlex.split(p) for p in patterns]

    def match(self, words: Sequence[str]) -> bool:
        return any(_matches(p, words) for p in self.patterns)


def _matches(pattern: Sequence[str], words: Sequence[str]) -> bool:
    if pattern and pattern[-1] == "*":
        head = pattern[:-1]
        return len(words) >= len(head) and all(map(fnmatchcase, words[:len(head)], head))
    return len(words) == len(pattern) and all(map(fnmatchcase, words, pattern))


def pattern_problem(pattern: str) -> str | None:
    """Why a ``safe_commands:`` entry is unusable, or None."""
    try:
        words = shlex.split(pattern)
    except ValueError as exc:
        return f"{pattern!r} is not a command pattern ({exc})"
    if not words:
        return "an empty pattern would trust nothing; remove it"
    if any(c in words[0] for c in "*?[/"):
        return f"{pattern!r}: the first word must be a plain program name (no pattern, no path)"
    return None
