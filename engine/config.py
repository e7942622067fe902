"""agents.yaml: the team, as pydantic v2 models.

The JSON Schema of agents.yaml (``agentorch-tui schema``) is generated from these
models, so the field docstrings are the reference documentation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from engine.budget_period import BudgetPeriod
from engine.safe_list import pattern_problem
from engine.schedules.spec import Schedule
from engine.workflow.settings import WorkflowConfig
from sandboxes.network.policy import pattern_problem as host_pattern_problem

ALL = "all"
ApprovalMode = Literal["never", "plan", "risky", "always"]
BackendName = Literal["auto", "docker", "local"]
#: a size such as `2g`, `512m`, `1.5G` or `4096` (bytes): sandboxes.workspace_disk.parse_size
SIZE_PATTERN = r"^\s*\d+(\.\d+)?\s*[kKmMgGtT]?[iI]?[bB]?\s*$"

TOOL_NAMES = (
    "run_command",
    "read_file",
    "write_file",
    "send_message",
    "wait_for_message",
    "reply",
    "ask_user",
    "request_debug",
    "report_progress",
    "propose_plan",
    "update_memory",
    "update_shared_context",
    "get_shared_context",
    "claim",
    "finish",
    # the team workflow (`workflow:`): given to its roles (engine.workflow.agents.grant_tools)
    "create_tasks",
    "validate_plan",
    "create_agent",
    "submit_task",
    "review_task",
)

#: tools of the workflow's roles: not in an agent's default tools
WORKFLOW_TOOL_NAMES = frozenset({"create_tasks", "validate_plan", "create_agent", "submit_task",
                                 "review_task"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Resources(Strict):
    """Limits of one sandbox."""

    memory: str | None = None
    """Memory limit, Docker syntax (e.g. `512m`, `2g`)."""
    cpus: float | None = Field(default=None, gt=0)
    """CPU limit in cores (e.g. 1.5)."""
    pids: int | None = Field(default=None, gt=0)
    """Maximum number of processes in the sandbox."""
    max_output: int | None = Field(default=None, gt=0)
    """Bytes of output kept per command; the rest is dropped with a visible marker."""
    command_timeout: float | None = Field(default=None, gt=0)
    """Default timeout of run_command in seconds."""
    disk: str | None = Field(default=None, pattern=SIZE_PATTERN)
    """Workspace size limit (e.g. `2g`): as root with Docker the workspace becomes its own
    file system of that size; otherwise its size is measured after each command. At the
    limit the agent pauses with a `disk` interrupt. Default: no limit."""


def _host_pattern(pattern: str) -> str:
    problem = host_pattern_problem(pattern)
    if problem:
        raise ValueError(problem)
    return pattern


HostPatternText = Annotated[str, AfterValidator(_host_pattern)]


class NetworkRules(Strict):
    """Egress through the run's proxy: the container still has no network of its own."""

    allow: list[HostPatternText] = Field(default_factory=list)
    """Hosts the agent may reach: `pypi.org`, `*.pythonhosted.org` (subdomains),
    `github.com:443` (that port only), an IP address (`10.0.0.5:8080`). A name never
    leads to a private, loopback or link-local address; only the address itself listed does."""
    deny: list[HostPatternText] = Field(default_factory=list)
    """Hosts the agent may never reach, even if `allow` or an answer lists them (deny wins)."""
    ask: bool = True
    """A request to a host listed nowhere waits for you as a `network` interrupt (allow
    once, for this run, always, or deny); `false` refuses it at once."""
    hold_timeout: float = Field(default=300.0, gt=0, le=86_400)
    """Seconds a held request waits for your answer before it is denied."""


def _network_setting(value: Any) -> Any:
    if value == "bridge":
        raise ValueError("`bridge` is gone: write `unrestricted` for an unfiltered network "
                         "(shown as a warning), or `{allow: [pypi.org, ...]}` to go through "
                         "the run's filtering proxy")
    if isinstance(value, str) and value not in ("none", "unrestricted"):
        raise ValueError(f"unknown network {value!r}; write none, unrestricted, "
                         "or {allow: [...], deny: [...]}")
    return value


NetworkSetting = Annotated[
    Literal["none", "unrestricted"] | NetworkRules, BeforeValidator(_network_setting)]


class SecretHeader(Strict):
    """A credential the proxy adds to requests for one host; it never enters the sandbox."""

    host: HostPatternText
    """The host whose requests get the header (e.g. `api.example.com`)."""
    header: str = Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
    """The request header to set (e.g. `authorization`, `x-api-key`)."""
    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Host environment variable holding the value."""
    file: str | None = None
    """Host file holding the value (relative to agents.yaml; its first line is used)."""
    prefix: str = ""
    """Put before the value, e.g. `"Bearer "`."""
    upstream: str | None = Field(default=None, pattern=r"^https?://[^/\s]+/?$")
    """Where the proxy sends these requests (default `https://HOST`): the sandbox talks
    plain HTTP to `http://HOST` through the proxy, which adds the header and uses TLS."""
    meter: bool = False
    """The host is a model API speaking the Anthropic Messages format: the usage in its
    responses is charged to the agent's budget (at 100 % its next request waits)."""

    @model_validator(mode="after")
    def _one_source(self) -> SecretHeader:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret needs exactly one of env: (a variable) or file: (a path)")
        return self


class SandboxConfig(Strict):
    """Where the team's commands run."""

    backend: BackendName = "auto"
    """`docker` (hardened container per agent), `local` (UNSANDBOXED subprocess) or
    `auto` (docker when a Docker daemon answers, a missing image then being an error;
    local only when no daemon answers)."""
    image: str | None = None
    """Container image for every agent (default `agentorch/sandbox:latest`)."""
    pull: bool = False
    """Pull a missing image from its registry (default: never pull; build it instead)."""
    remote: bool | Literal["auto"] = "auto"
    """The Docker daemon is on another machine (`true`): each agent's workspace is a
    volume on it, filled with the agent's clone of `repo:` as data, and nothing from this
    machine is bind-mounted. `auto` (the default): remote when DOCKER_HOST is `tcp://`,
    `ssh://` or `https://`; `false`: the daemon shares this machine's files."""
    network: NetworkSetting = "none"
    """`none` (no network, the default); `{allow: [...], deny: [...]}` (only through the
    run's filtering proxy; see NetworkRules); or `unrestricted` (Docker's bridge network,
    no filter at all: shown as a warning)."""
    resources: Resources = Field(default_factory=Resources)
    build: str | None = None
    """A Dockerfile (relative to this file; its folder is the build context), or a
    devcontainer.json (its `build.dockerfile` and `context`, or its `image`), built once
    per content into the team's image `agentorch/team-<name>:<hash>`, used by every
    docker agent without an `image:` of its own (offline: `FROM` a local image)."""
    setup: list[str] = Field(default_factory=list)
    """Commands run in every agent's sandbox before the agent starts (then the agent's
    own `setup:`), output in its console; one failing stops the start."""


class Budget(Strict):
    """Spending limits; warnings at 50/75/90 %, a `budget` interrupt at 100 %."""

    tokens: int | None = Field(default=None, gt=0)
    """Total tokens (input + output + cache) allowed."""
    dollars: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Total cost allowed, in US dollars."""
    period: BudgetPeriod | None = None
    """Besides the run's total: a budget per hour, day or week that starts over at
    `reset_at` in `tz`, e.g. `{every: day, tokens: 100000, dollars: 5, reset_at: "00:00",
    tz: Europe/Paris}`. Spent, the agent pauses until the reset (or your answer)."""


class Limits(Strict):
    """Bounds that keep a flood of messages or reports from a runaway agent in check."""

    message_bytes: int = Field(default=65_536, gt=0, le=16 * 1024 * 1024)
    """Largest message, in bytes of UTF-8 (send_message, reply, the person's messages)."""
    inbox_messages: int = Field(default=100, gt=0, le=100_000)
    """Messages that may wait unread in one agent's inbox; past it send_message fails
    with an error the sender sees."""
    pending_interrupts: int = Field(default=20, gt=0, le=10_000)
    """Progress reports of one agent that may wait for the person; past it the newest
    ones fold into one (a question parks its agent, so there is one at a time)."""
    inbox_per_turn: int = Field(default=20, gt=0, le=10_000)
    """Inbox messages a Claude agent reads per turn (the rest stay queued, and it is told
    how many wait)."""
    inbox_bytes_per_turn: int = Field(default=262_144, gt=0, le=64 * 1024 * 1024)
    """Bytes of inbox messages a Claude agent reads per turn (at least one message)."""


class ModelPrice(Strict):
    """Prices in dollars per million tokens."""

    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(ge=0, allow_inf_nan=False)
    cache_read: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    cache_write: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class ScriptStep(Strict):
    """One step of a scripted agent: a tool call."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    revise_on_reject: bool = False
    """For `propose_plan`: when the person rejects the plan, propose it again with their
    feedback added (until one is approved) instead of going on with the next steps,
    which the engine would refuse. Off by default: a script plays exactly its steps."""

    @field_validator("tool")
    @classmethod
    def _known_tool(cls, v: str) -> str:
        if v not in TOOL_NAMES:
            raise ValueError(f"unknown tool {v!r}; tools are: {', '.join(TOOL_NAMES)}")
        return v


CLI_BRAINS = ("claude-code", "codex", "command")
BrainName = Literal["claude", "claude-code", "codex", "command"]
#: flags of the CLI that agentorch sets itself (its configuration is ours, not the agent's)
RESERVED_CLI_FLAGS = ("--settings", "--setting-sources", "--mcp-config", "--strict-mcp-config",
                      "--permission-prompt-tool", "--permission-mode", "--resume", "--continue",
                      "--dangerously-skip-permissions", "--allow-dangerously-skip-permissions",
                      "--output-format", "--input-format", "--add-dir", "--plugin-dir",
                      "--dangerously-bypass-approvals-and-sandbox", "--profile",
                      "--cd", "--sandbox", "--ask-for-approval")


class CliOptions(Strict):
    """Options of a CLI agent (`brain: claude-code`, `codex` or `command`)."""

    command: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, min_length=1)
    """`brain: command` only: the program and its arguments, run in the sandbox (never
    through a shell); each turn it gets the prompt as its last argument and prints JSON
    lines (see the README, "Claude Code / Codex agents")."""
    allowed_tools: list[str] | None = None
    """Tools of the CLI allowed without asking (Claude Code: e.g. `Read`, `Bash(git *)`)."""
    disallowed_tools: list[str] | None = None
    """Tools of the CLI it may never use."""
    max_turns: int | None = Field(default=None, gt=0, le=10_000)
    """Most model requests per turn (Claude Code: `--max-turns`)."""
    extra_args: list[str] = Field(default_factory=list)
    """More arguments for the CLI (not the ones agentorch sets itself)."""
    turn_timeout: float = Field(default=3600, gt=0, le=7 * 24 * 3600, allow_inf_nan=False)
    """Seconds one turn of the CLI may run before it is stopped."""
    idle_timeout: float = Field(default=900, gt=0, le=7 * 24 * 3600, allow_inf_nan=False)
    """Seconds the CLI may print nothing before it is taken as hung and stopped."""

    @field_validator("extra_args")
    @classmethod
    def _not_ours(cls, v: list[str]) -> list[str]:
        for arg in v:
            flag = arg.split("=", 1)[0]
            if flag in RESERVED_CLI_FLAGS:
                raise ValueError(f"{flag} is set by agentorch (the CLI's configuration is "
                                 "the engine's); remove it from extra_args")
        return v


class AgentFields(Strict):
    """Fields an agent may set; `defaults` uses the same ones."""

    type: str | None = None
    """Role of the agent (planner, coder, reviewer, ...)."""
    description: str | None = None
    responsibilities: list[str] | None = None
    rules_file: str | None = None
    """Markdown file with the agent's rules (must exist), relative to agents.yaml."""
    memory_file: str | None = None
    """Markdown file the agent reads at start and appends to with update_memory."""
    sandbox_path: str | None = None
    """Host directory bound as the agent's workspace (default `.agentorch/workspaces/<id>`)."""
    direct_communication: list[str] | Literal["all"] | None = None
    """Agent ids this agent may message, or `all`. A request (wait_reply) can always be
    answered, once; other messages only if this list allows a message back."""
    initial_instructions: str | None = None
    model: str | None = None
    """`scripted` or a Claude model name (e.g. `claude-sonnet-4-5`); for a CLI agent the
    model the CLI uses."""
    brain: BrainName | None = None
    """What decides the agent's actions: `claude` (agentorch's own loop; the default) or a
    coding CLI run inside the sandbox: `claude-code`, `codex`, or `command` (your own
    program speaking JSON lines)."""
    cli: CliOptions | None = None
    """Options of a CLI agent (`brain: claude-code | codex | command`)."""
    script: list[ScriptStep] | None = None
    """For scripted agents: the tool calls to play, in order."""
    tools: list[str] | None = None
    """Allow-list of tools; default all."""
    approval: ApprovalMode | list[ApprovalMode] | None = None
    """`never`, `plan` (propose_plan must be approved first), `risky` (a command asks
    unless every part of it is on the safe list; writes to protected paths ask) or
    `always` (every command and every write asks); a list combines them, e.g. `[plan, risky]`."""
    budget: Budget | None = None
    image: str | None = None
    network: NetworkSetting | None = None
    """Override of the team's `sandbox.network` for this agent."""
    secrets: list[SecretHeader] | None = None
    """Credentials the proxy adds to this agent's requests (needs `network: {allow: ...}`)."""
    resources: Resources | None = None
    backend: BackendName | None = None
    """Override of the team's sandbox backend for this agent."""
    setup: list[str] | None = None
    """Commands run in this agent's sandbox before it starts, after `sandbox.setup`."""
    pass_env: list[str] | None = None
    """Host environment variables the agent's commands may see (by name). Commands get
    only PATH, HOME, LANG and AGENTORCH_AGENT otherwise: never the engine's API keys."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Claude: max tokens per response."""
    max_retries: int | None = Field(default=None, ge=0)
    """Claude: SDK retries for 408/409/429/5xx/529 (default 4)."""
    context_window: int | None = Field(default=None, gt=0)
    """Claude: the model's context size in tokens (default 200000); near it, old tool results are shortened."""
    reply_timeout: float | None = Field(default=None, gt=0)
    """Seconds send_message(wait_reply=true) waits for the reply."""
    schedule: Schedule | None = None
    """Wake the agent on a schedule (a cron expression, or `{cron, timezone, overlap,
    missed, offline_after}`): it sleeps (`idle`) between firings, and the run lives on
    until you stop it."""
    instructions_on_schedule: str | None = None
    """What the agent is told at each firing of its `schedule` (default: its
    initial_instructions)."""

    @field_validator("pass_env")
    @classmethod
    def _variable_names(cls, v: list[str] | None) -> list[str] | None:
        for name in v or []:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return v

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, v: list[str] | None) -> list[str] | None:
        for name in v or []:
            if name not in TOOL_NAMES:
                raise ValueError(f"unknown tool {name!r}; tools are: {', '.join(TOOL_NAMES)}")
        return v


class AgentConfig(AgentFields):
    """One agent of the team."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
    """Unique id (letters, digits, `_`, `-`); `user` and `all` are reserved."""

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in ("user", ALL, "engine"):
            raise ValueError(f"agent id {v!r} is reserved")
        return v

    # resolved helpers -------------------------------------------------
    @property
    def is_scripted(self) -> bool:
        return not self.is_cli and (self.model or "scripted") == "scripted"

    @property
    def is_cli(self) -> bool:
        """A coding CLI run inside the sandbox (`brain: claude-code | codex | command`)."""
        return self.brain in CLI_BRAINS

    @property
    def uses_anthropic_api(self) -> bool:
        """Needs the engine's Anthropic key: a Claude agent or a Claude Code agent."""
        return self.brain == "claude-code" or (not self.is_cli and not self.is_scripted)

    @property
    def cli_options(self) -> CliOptions:
        return self.cli or CliOptions()

    @property
    def approval_modes(self) -> frozenset[str]:
        a = self.approval
        return frozenset([a] if isinstance(a, str) else a or ["never"])

    @property
    def needs_plan(self) -> bool:
        return "plan" in self.approval_modes

    @property
    def command_approval(self) -> str:
        """`always`, `risky` or `never`: which commands need the person's approval."""
        modes = self.approval_modes
        return "always" if "always" in modes else "risky" if "risky" in modes else "never"

    @property
    def approval_text(self) -> str:
        a = self.approval
        return a if isinstance(a, str) else "+".join(a) if a else "never"

    def allowed_tools(self) -> list[str]:
        """The `tools` list, or by default every tool but the workflow's (which a team
        with `workflow:` gives to the roles that use them)."""
        return list(self.tools) if self.tools is not None else [
            t for t in TOOL_NAMES if t not in WORKFLOW_TOOL_NAMES]


def cli_problems(agent: AgentConfig) -> list[tuple[str, str]]:
    """(field, sentence) for what does not fit together in a CLI agent's fields."""
    out: list[tuple[str, str]] = []
    if agent.is_cli and agent.model == "scripted":
        out.append(("model", f"`model: scripted` cannot drive `brain: {agent.brain}`; name the "
                             "CLI's model, or remove `brain:`"))
    if agent.brain == "claude-code" and not agent.model:
        out.append(("model", "a `brain: claude-code` agent needs `model:` (e.g. "
                             "claude-sonnet-4-5): it is what the budget prices its usage at"))
    if agent.brain == "command" and not agent.cli_options.command:
        out.append(("cli", "`brain: command` needs `cli: {command: [program, args...]}`"))
    if agent.brain != "command" and agent.cli is not None and agent.cli.command:
        out.append(("cli", "`cli.command` only applies to `brain: command`"))
    if agent.brain == "codex" and agent.needs_plan:
        out.append(("approval", "Codex has no plan mode agentorch can hold it in, so "
                                f"`approval: {agent.approval_text}` would not hold; write "
                                "`approval: risky` or `always` (its commands and file changes "
                                "ask you), or use `brain: claude-code` or `claude` for a plan"))
    if agent.cli is not None and not agent.is_cli:
        out.append(("cli", "`cli:` only applies to CLI agents (`brain: claude-code`, `codex` "
                           "or `command`)"))
    return out


def _command_pattern(pattern: str) -> str:
    problem = pattern_problem(pattern)
    if problem:
        raise ValueError(problem)
    return pattern


class AnthropicConfig(Strict):
    """How Claude agents reach the API. Keys never live in this file."""

    api_key_env: str = "ANTHROPIC_API_KEY"
    """Name of the environment variable holding the API key."""
    base_url_env: str = "ANTHROPIC_BASE_URL"
    """Name of the environment variable holding an alternative API base URL."""


class OpenAIConfig(Strict):
    """How Codex agents reach the OpenAI API (through their model socket). Keys never
    live in this file."""

    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key."""
    base_url_env: str = "OPENAI_BASE_URL"
    """Name of the environment variable holding an alternative base URL (with its `/v1`)."""


class NotifyCommand(Strict):
    """Run a program when an agent waits for you: `[prog, arg, ...]`, called with the
    agent and the question as two more arguments (and a JSON object on stdin); never
    through a shell."""

    command: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)


class TeamConfig(Strict):
    """agents.yaml: a team of agents."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True,
                              populate_by_name=True)  # `copy:` is the field copy_files

    name: str = "team"
    defaults: AgentFields = Field(default_factory=AgentFields)
    """Fields merged into every agent (an agent's own value wins)."""
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    budget: Budget | None = None
    """Team-wide budget."""
    pricing: dict[str, ModelPrice] = Field(default_factory=dict)
    """Overrides of the price table, by model name."""
    safe_commands: list[Annotated[str, AfterValidator(_command_pattern)]] = Field(default_factory=list)
    """Commands `approval: risky` runs without asking, besides the read-only ones, as
    word patterns: `pytest *` (pytest with any arguments), `make test` (only that).
    This trusts the program AND what it loads from the workspace (conftest.py, Makefile)."""
    anthropic: AnthropicConfig = Field(default_factory=AnthropicConfig)
    openai: OpenAIConfig = Field(default_factory=OpenAIConfig)
    limits: Limits = Field(default_factory=Limits)
    notify: Literal["bell", "desktop", "quiet"] | NotifyCommand = "bell"
    """When an agent waits for you: `bell` rings the terminal bell, `desktop` also sends
    a desktop notification (notify-send), `{command: [...]}` also runs your program,
    `quiet` does nothing.  `--notify` overrides it."""
    agents: list[AgentConfig] = Field(min_length=1)
    repo: str | None = None
    """A git repository the agents work on (relative to this file, e.g. `.`): each agent
    gets its own clone on branch `agentorch/<run>/<agent>`, checkpointed after every
    change; `diff` and `merge` bring the work back. Default: none (empty workspaces)."""
    workflow: WorkflowConfig | None = None
    """The team workflow: goal -> planner's tasks -> checker -> your approval -> tasks
    in order -> review -> QA (see the README)."""
    base: str | None = Field(default=None, pattern=r"^[^\s~^:?*\[\\]+$")
    """The branch of `repo` the agents start from and merge into (default: the branch
    checked out in `repo`)."""
    copy_files: list[str] = Field(default_factory=list, alias="copy")
    """Untracked files of `repo` (such as `.env`) copied into each agent's fresh clone;
    their contents enter the sandboxes (a warning says so)."""
    clone_limit: str | None = Field(default="2g", pattern=SIZE_PATTERN)
    """Largest clone of `repo:` per agent, on disk (files checked out plus history, e.g.
    `500m`); an agent's `resources.disk`, when smaller, is its limit instead. Over it (or
    over the free disk space) the run does not start and says the sizes. `null`: no cap."""
    merge: Literal["auto", "ff", "merge", "squash"] = "auto"
    """How an agent's work is merged by default (the diff screen's `M`, headless
    `merge`): `auto` fast-forwards when it can and makes a merge commit otherwise,
    `ff` only fast-forwards, `merge` always makes a merge commit, `squash` one commit."""

    #: directory of the YAML file (for relative paths); not part of the schema
    base_dir: Path = Field(default=Path("."), exclude=True)

    _by_id: dict[str, AgentConfig] | None = PrivateAttr(default=None)

    @field_validator("copy_files")
    @classmethod
    def _copy_paths(cls, v: list[str]) -> list[str]:
        from engine.toolchain import copy_problem

        for name in v:
            if copy_problem(name):
                raise ValueError(copy_problem(name))
        return v

    def _index(self) -> dict[str, AgentConfig]:
        if self._by_id is None or len(self._by_id) != len(self.agents):
            self._by_id = {}
            for a in self.agents:
                self._by_id.setdefault(a.id, a)
        return self._by_id

    def agent(self, agent_id: str) -> AgentConfig:
        return self._index()[agent_id]

    def has_agent(self, agent_id: str) -> bool:
        return agent_id in self._index()

    @property
    def agent_ids(self) -> list[str]:
        return [a.id for a in self.agents]

    def resolve(self, rel: str | None) -> Path | None:
        if rel is None:
            return None
        p = Path(rel).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def resource_of(self, agent: AgentConfig, name: str, default: Any) -> Any:
        """One sandbox resource: the agent's own, else the team's, else ``default``."""
        own = getattr(agent.resources, name) if agent.resources else None
        if own is not None:
            return own
        team = getattr(self.sandbox.resources, name)
        return team if team is not None else default

    def network_of(self, agent: AgentConfig) -> str | NetworkRules:
        """The agent's network: its own setting, else the team's (`none` by default)."""
        return agent.network if agent.network is not None else self.sandbox.network

    def workspace_of(self, agent: AgentConfig, run_id: str | None = None) -> Path:
        """The agent's workspace; with `repo:` each run clones into its own folder."""
        rel = agent.sandbox_path or f".agentorch/workspaces/{agent.id}"
        if self.repo and run_id and not agent.sandbox_path:
            rel = f".agentorch/workspaces/{run_id}/{agent.id}"
        path = self.resolve(rel)
        assert path is not None
        return path.resolve()

    def recipients_of(self, agent: AgentConfig) -> list[str]:
        dc = agent.direct_communication
        others = [a for a in self.agent_ids if a != agent.id]
        if dc is None:
            return []
        if dc == ALL:
            return others
        return [a for a in dc if a != agent.id]
