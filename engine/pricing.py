"""Prices of Claude models, in dollars per million tokens, and the cost of a response.

The defaults are Anthropic's list prices (checked November 2026) for the current and the
4.x models.  Cache writes are the 5-minute cache (1.25x input); cache reads are 0.1x
input unless the model's price says otherwise (Opus/Sonnet 5.5: 0.05x).  A team overrides or extends the
table with `pricing:` in agents.yaml, keyed by model name.

A Claude agent's model must have a price (here or in `pricing:`): an unknown one is a
configuration error at load (:func:`price_problems`), never a silent $0 or a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.brains.base import Usage
from engine.config import ModelPrice, TeamConfig

MILLION = 1_000_000
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens of each kind."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    #: (threshold, price): a request whose prompt (input + cache reads + cache writes) is
    #: longer than threshold pays that price on all its tokens (e.g. Haiku 5.5)
    long_prompt: tuple[int, Price] | None = None

    @classmethod
    def of(cls, input: float, output: float, cache_read: float | None = None,
           cache_write: float | None = None,
           long_prompt: tuple[int, Price] | None = None) -> Price:
        return cls(input, output,
                   cache_read if cache_read is not None else input * CACHE_READ_FACTOR,
                   cache_write if cache_write is not None else input * CACHE_WRITE_FACTOR,
                   long_prompt)

    @classmethod
    def from_config(cls, p: ModelPrice) -> Price:
        return cls.of(p.input, p.output, p.cache_read, p.cache_write)

    def cost(self, usage: Usage) -> float:
        if self.long_prompt is not None:
            threshold, long = self.long_prompt
            prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
            if prompt > threshold:
                return long.cost(usage)
        return (usage.input_tokens * self.input + usage.output_tokens * self.output
                + usage.cache_read_tokens * self.cache_read
                + usage.cache_write_tokens * self.cache_write) / MILLION


DEFAULT_PRICES: dict[str, Price] = {
    # current generation
    "claude-fable-5-1": Price.of(10, 50, cache_read=0.25),
    "claude-mythos-5-1": Price.of(10, 50, cache_read=0.25),
    "claude-fable-5": Price.of(10, 50),
    "claude-mythos-5": Price.of(10, 50),
    "claude-opus-5-5": Price.of(4, 20, cache_read=0.20),
    "claude-opus-5": Price.of(5, 25),
    "claude-sonnet-5-5": Price.of(2, 10, cache_read=0.10),
    "claude-sonnet-5": Price.of(2, 10),
    "claude-haiku-5-5": Price.of(0.10, 0.50, long_prompt=(100_000, Price.of(0.50, 2.50))),
    # 4.x
    "claude-opus-4-8": Price.of(5, 25),
    "claude-opus-4-7": Price.of(5, 25),
    "claude-opus-4-6": Price.of(5, 25),
    "claude-opus-4-5": Price.of(5, 25),
    "claude-opus-4-1": Price.of(15, 75),
    "claude-opus-4": Price.of(15, 75),
    "claude-sonnet-4-6": Price.of(3, 15),
    "claude-sonnet-4-5": Price.of(3, 15),
    "claude-sonnet-4": Price.of(3, 15),
    "claude-haiku-4-5": Price.of(1, 5),
    # older
    "claude-3-7-sonnet": Price.of(3, 15),
    "claude-3-5-haiku": Price.of(0.8, 4),
    "claude-3-haiku": Price.of(0.25, 1.25),
}
#: the newest model of each family: its price is suggested for an unknown model of it
FAMILY_NEWEST = {"fable": "claude-fable-5-1", "mythos": "claude-mythos-5-1",
                   "opus": "claude-opus-5-5", "sonnet": "claude-sonnet-5-5",
                   "haiku": "claude-haiku-5-5"}

_SUFFIXES = re.compile(r"(@.*|-\d{8}|-latest|-v\d+(:\d+)?)$")


def canonical_model(model: str) -> str:
    """`claude-sonnet-4-5-20250929` -> `claude-sonnet-4-5`; `claude-opus-4-0` -> `claude-opus-4`."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    name = re.sub(r"^([a-z]{2}\.)?anthropic\.", "", name)  # Bedrock ids
    while True:
        shorter = _SUFFIXES.sub("", name)
        if shorter == name:
            break
        name = shorter
    return name.removesuffix("-0")


class PriceTable:
    """The default prices merged with a team's `pricing:` overrides."""

    def __init__(self, overrides: dict[str, ModelPrice] | None = None) -> None:
        self.prices = dict(DEFAULT_PRICES)
        self.overrides = {canonical_model(k): Price.from_config(v)
                          for k, v in (overrides or {}).items()}
        self._exact = {k: v for k, v in (overrides or {}).items()}

    def lookup(self, model: str) -> Price | None:
        if model in self._exact:
            return Price.from_config(self._exact[model])
        name = canonical_model(model)
        return self.overrides.get(name) or self.prices.get(name)

    def cost(self, usage: Usage) -> float:
        """The cost of ``usage`` at the price of ``usage.model`` (ValueError if unknown)."""
        price = self.lookup(usage.model)
        if price is None:
            raise ValueError(f"no price for model {usage.model!r}")
        return price.cost(usage)


def price_problems(team: TeamConfig) -> list[tuple[int, str]]:
    """(agent index, message) for every Claude agent whose model has no price."""
    table = PriceTable(team.pricing)
    out = []
    for i, agent in enumerate(team.agents):
        if not agent.uses_anthropic_api or table.lookup(agent.model or "") is not None:
            continue
        model = agent.model or ""
        name = canonical_model(model)
        like = next((newest for family, newest in FAMILY_NEWEST.items() if family in name), None)
        hint = ""
        if like is not None:
            p = DEFAULT_PRICES[like]
            hint = f" ({like} costs input: {p.input:g}, output: {p.output:g})"
        out.append((i, f"no price is known for model {model!r}; add it under `pricing:` "
                       f"in dollars per million tokens, e.g. `pricing: {{{model}: {{input: 3, "
                       f"output: 15}}}}`{hint}"))
    return out
