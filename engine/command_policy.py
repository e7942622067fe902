"""Which commands run without asking under `approval: risky`: a fail-closed policy.

The command is parsed with bashlex into simple commands.  It runs unasked only if every
simple command is on the safe list (engine/safe_list.py) and nothing in it hides a
command from the parser: no command substitution, no variable or quoting in command
position, no redirection that writes a file, no eval/source/``sh -c``/interpreter, no
function or alias, no script run by path.  Whatever the parser cannot read asks.
Each problem found is a reason shown to the person, e.g. "`rm` is not on the safe list".
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import bashlex

from engine.safe_list import OPTION_CHECKS, SafeCommands, read_only_problem

WORKSPACE = "/workspace"
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash", "ksh", "mksh", "fish", "busybox"})
INTERPRETERS = SHELLS | frozenset({
    "python", "python2", "python3", "perl", "ruby", "node", "nodejs", "php", "lua", "Rscript",
    "deno", "bun", "tclsh", "osascript", "pwsh"})
#: flags that make an interpreter run its next argument as code
CODE_FLAGS = frozenset({"-c", "-e", "-E", "--eval", "-r", "--command"})
#: programs that run another command given as their arguments
WRAPPERS = frozenset({
    "xargs", "env", "exec", "command", "builtin", "nohup", "timeout", "nice", "ionice",
    "setsid", "sudo", "doas", "su", "runuser", "watch", "time", "strace", "ltrace", "chroot",
    "flock", "stdbuf", "unbuffer", "parallel", "script", "nsenter", "unshare", "taskset"})
SHELL_STATE = frozenset({"export", "unset", "readonly", "declare", "typeset", "local",
                         "shopt", "enable", "hash", "ulimit", "umask", "trap"})
#: longer commands ask without being parsed (bashlex takes ~0.1 ms per word)
MAX_CHECKED = 16_000
HARMLESS_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})
_LITERAL_NAME = re.compile(r"[A-Za-z0-9_./+-]+|\[|:")
_PLAIN_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*|[0-9?#@*$!-])|\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_FD_REDIRECT = re.compile(r"\d*[<>]&(\d+|-)")
_WORD_END = ("", " ", "\t", "\n", ";", "|", "&", ")", "<", ">")
_SKIPPABLE = re.compile(r"(?:\s|\\\n|#[^\n]*)*")
_HIDDEN = (("`", "command substitution (backquotes) runs a command inside the text"),
           ("$(", "command substitution runs a command inside the text"),
           ("<(", "process substitution runs a hidden command"),
           (">(", "process substitution runs a hidden command"))


@dataclass(frozen=True)
class Verdict:
    """What the policy found: no reasons means the command runs without asking."""

    reasons: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()
    """Workspace files the command runs (scripts, sourced files), workspace-relative."""

    @property
    def safe(self) -> bool:
        return not self.reasons


def assess(command: str, safe_commands: Sequence[str] = (),
           written: Collection[str] = ()) -> Verdict:
    """Judge ``command``; ``written`` are the workspace paths the agent wrote this run."""
    walk = _Walk(command, SafeCommands(safe_commands), frozenset(written))
    walk.run()
    return Verdict(tuple(dict.fromkeys(walk.reasons)), tuple(dict.fromkeys(walk.scripts)))


def workspace_path(path: str, cwd: str = "") -> str:
    """``path`` relative to the workspace root (``/workspace/a/../b`` gives ``b``)."""
    if path == WORKSPACE or path.startswith(WORKSPACE + "/"):
        path = path[len(WORKSPACE):].lstrip("/")
    joined = path if path.startswith("/") else posixpath.join(cwd, path)
    return posixpath.normpath(joined or ".")


def unquoted(raw: str) -> str:
    """The characters of ``raw`` the shell sees unquoted, plus every ``$`` that expands
    (inside double quotes too): the places a glob or a variable can widen a word."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(raw):
        c = raw[i]
        if quote == "'":
            quote = "" if c == "'" else quote
        elif quote == '"':
            if c == '"':
                quote = ""
            elif c == "\\":
                i += 1
            elif c == "$":
                out.append(c)
        elif c in "'\"":
            quote = c
        elif c == "\\":
            i += 1
        else:
            out.append(c)
        i += 1
    return "".join(out)


@dataclass
class _Walk:
    command: str
    trusted: SafeCommands
    written: frozenset[str]
    reasons: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    cwd: str = ""

    def ask(self, reason: str) -> None:
        self.reasons.append(reason)

    def raw(self, node: Any) -> str:
        start, end = node.pos
        return self.command[start:end]

    def run(self) -> None:
        if "\x00" in self.command:
            self.ask("the command contains a NUL byte")
            return
        if len(self.command) > MAX_CHECKED:
            self.ask(f"the command is too long to check ({len(self.command)} characters)")
            return
        for needle, reason in _HIDDEN:
            if needle in self.command:
                self.ask(reason)
        try:
            trees = bashlex.parse(self.command)
        except Exception as exc:  # noqa: BLE001 - any parser failure asks (fail closed)
            self.ask(f"the shell parser cannot read it ({_short(str(exc) or type(exc).__name__)})")
            return
        self._check_coverage(trees)
        try:
            for tree in trees:
                self.node(tree)
        except RecursionError:
            self.ask("the command is nested too deeply to check")

    def _check_coverage(self, trees: list[Any]) -> None:
        """Every character is in a word, an operator or a redirection the walk sees, or
        is a blank, a line continuation or a comment: nothing the parser skipped runs."""
        end = 0
        for start, stop in sorted(span for tree in trees for span in _leaf_spans(tree)):
            if start > end and not _SKIPPABLE.fullmatch(self.command[end:start]):
                self.ask("part of the command is outside what the parser read")
                return
            end = max(end, stop)
        if not _SKIPPABLE.fullmatch(self.command[end:]):
            self.ask("part of the command is outside what the parser read")

    def node(self, n: Any) -> None:
        kind = n.kind
        if kind == "command":
            self.simple(n)
        elif kind == "pipeline":
            self.pipeline(n)
        elif kind in ("list", "for", "if", "while", "until"):
            for part in n.parts:
                self.node(part)
        elif kind == "compound":
            for part in n.list:
                self.node(part)
            for r in getattr(n, "redirects", []):
                self.redirect(r)
        elif kind == "word":
            self.word(n)
        elif kind == "redirect":
            self.redirect(n)
        elif kind == "function":
            self.ask("defines a shell function")
        elif kind not in ("reservedword", "operator", "pipe"):
            self.ask(f"a shell construct the policy does not check ({kind})")

    def pipeline(self, n: Any) -> None:
        commands = [p for p in n.parts if p.kind == "command"]
        for c in commands[:-1]:
            words = [p.word for p in c.parts if p.kind == "word"]
            if words[:1] == ["base64"] and {"-d", "--decode", "-D"} & set(words[1:]):
                self.ask("decodes hidden text into a pipe (`base64 -d |`)")
        for part in n.parts:
            self.node(part)

    def word(self, w: Any) -> None:
        for part in getattr(w, "parts", []):
            if part.kind == "commandsubstitution":
                self.ask("command substitution runs a command inside the text")
            elif part.kind == "processsubstitution":
                self.ask("process substitution runs a hidden command")
            elif part.kind == "parameter" and not _PLAIN_PARAMETER.fullmatch(self.raw(part)):
                self.ask(f"a parameter expansion the policy cannot see through: {_short(self.raw(part))}")

    def redirect(self, r: Any) -> None:
        target = r.output
        if r.type in ("<<", "<<-"):
            self.ask("a here-document (its text is not checked)")
            return
        if not hasattr(target, "kind"):  # a file descriptor: 2>&1, >&2, >&- (close)
            after = self.command[r.pos[1]:r.pos[1] + 1]
            if not _FD_REDIRECT.fullmatch(self.raw(r)) or after not in _WORD_END:
                # busybox reads `>& -x` and `>&-x` as a file named -x
                self.ask(f"a redirection the shells read differently: {_short(self.raw(r))}")
            return
        self.word(target)
        path = target.word
        if r.type in (">&", "<&") and re.fullmatch(r"\d+-?|-", path) and self.raw(target) == path:
            return
        if r.type in ("<", "<<<") and not path.startswith(("/dev/tcp/", "/dev/udp/")):
            return
        if r.type in ("<", "<<<"):
            self.ask(f"opens a network connection: {_short(path)}")
        elif path not in HARMLESS_TARGETS:
            self.ask(f"writes to a file: {r.type} {_short(path)}")

    def simple(self, n: Any) -> None:
        words = []
        for part in n.parts:
            if part.kind == "assignment":
                self.ask(f"sets a variable: {_short(part.word.split('=', 1)[0])}")
                self.word(part)
            elif part.kind == "redirect":
                self.redirect(part)
            elif part.kind == "word":
                self.word(part)
                words.append(part)
        if not words:
            return
        raw_name = self.raw(words[0])
        if not _LITERAL_NAME.fullmatch(raw_name):
            self.ask(_hidden_name(words[0], raw_name))
            return
        name, args = words[0].word, [w.word for w in words[1:]]
        if self.trusted.match([name, *args]):
            return
        self.judge(name, args, [self.raw(w) for w in words[1:]])

    def judge(self, name: str, args: list[str], raw_args: list[str]) -> None:
        if "/" in name:
            self.runs_file(name, f"runs a file by path: {_short(name)}")
        elif name == "eval":
            self.ask("`eval` runs text as a command")
        elif name in ("source", "."):
            target = args[0] if args else ""
            self.runs_file(target, f"`{name}` runs a file in the shell: {_short(target)}")
        elif name == "alias":
            self.ask("defines an alias")
        elif name in INTERPRETERS:
            self.interpreter(name, args)
        elif name in WRAPPERS:
            self.ask(f"`{name}` runs another command")
        elif name in SHELL_STATE:
            self.ask(f"`{name}` changes the shell's state")
        else:
            problem = read_only_problem(name, args)
            if problem is None and name in OPTION_CHECKS and \
                    any(set(unquoted(a)) & set("*?[{$") for a in raw_args):
                problem = f"an unquoted pattern or variable could expand to an option of `{name}`"
            if problem:
                self.ask(problem)
            elif name == "cd":
                self.cwd = workspace_path(args[0], self.cwd) if args else ""

    def interpreter(self, name: str, args: list[str]) -> None:
        flags = [a for a in args if a.startswith("-")]
        code = next((a for a in flags if a in CODE_FLAGS or (a[1:2] != "-" and "c" in a[1:]
                                                             and name in SHELLS)), None)
        if code:
            self.ask(f"`{name} {code}` runs code given as text")
            return
        if "-m" in args:
            self.ask(f"`{name} -m` runs a module")
            return
        script = next((a for a in args if not a.startswith("-")), None)
        if script is None:
            self.ask(f"`{name}` runs commands from its input")
        else:
            self.runs_file(script, f"`{name}` runs a script: {_short(script)}")

    def runs_file(self, path: str, reason: str) -> None:
        rel = workspace_path(path, self.cwd) if path else ""
        if rel and not rel.startswith(("/", "..")):
            self.scripts.append(rel)
        self.ask(f"runs a script the agent wrote: {_short(rel)}" if rel in self.written else reason)


_LEAVES = frozenset({"word", "assignment", "operator", "pipe", "reservedword", "redirect"})


def _leaf_spans(node: Any) -> list[tuple[int, int]]:
    """The text spans of the leaves under ``node`` (a redirection covers its target and
    a here-document's body; a word its substitutions)."""
    if node.kind in _LEAVES:
        spans = [node.pos]
        heredoc = getattr(node, "heredoc", None)
        return spans + [heredoc.pos] if hasattr(heredoc, "pos") else spans
    spans = []
    for name in ("parts", "list", "redirects"):
        for child in getattr(node, name, None) or []:
            spans += _leaf_spans(child)
    return spans


def _hidden_name(word: Any, raw: str) -> str:
    kinds = {p.kind for p in getattr(word, "parts", [])}
    if kinds & {"commandsubstitution", "processsubstitution"}:
        return "command substitution in command position"
    if "parameter" in kinds:
        return "variable expansion in command position"
    if set(raw) & set("'\"\\"):
        return f"quoting or escapes in command position: {_short(raw)}"
    if not raw.isprintable():
        return f"a control character in command position: {_short(raw)}"
    return f"a pattern or expansion in command position: {_short(raw)}"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
