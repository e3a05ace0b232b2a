"""Build an ``argparse`` parser from a settings dataclass: each field a flag, its help text
from the field's metadata, its checks from the dataclass's ``__post_init__``.

Each field also declares its role when a run is resumed (``role=`` of :func:`option`):

* ``"identity"``: part of the model's identity; a resumed run must ask for the same value
  (checked by :func:`fw_rl.checkpoint.check_same_run`).
* ``"run"`` (the default): a setting of the run; a resume keeps the saved value unless the
  flag is given again.
* ``"invocation"``: belongs to this command only (``--resume``, ``--progress``); never
  taken from the saved run.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import sys
import types
import typing

ROLES = ("identity", "run", "invocation")


def option(default, help: str, *, role: str = "run", **kwargs):
    """A dataclass field whose ``help`` (and optional ``choices``) becomes its flag's;
    ``role`` says what a resume does with it (see the module docstring); ``follows=NAME``
    says the field belongs to field ``NAME``: a resume that asks for another ``NAME`` does
    not keep this field's saved value."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    return dataclasses.field(default=default, metadata={"help": help, "role": role, **kwargs})


def fields_with_role(cls, role: str) -> tuple[str, ...]:
    """Names of ``cls``'s fields declared with ``role``."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("role", "run") == role)


def check_finite(config) -> None:
    """Raise ``ValueError`` for a float field that is NaN or infinite (``--lr inf``)."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"--{f.name.replace('_', '-')} must be a finite number, got {value}")


def _base_type(annotation):
    if isinstance(annotation, str):
        annotation = eval(
            annotation, {"float": float, "int": int, "str": str, "bool": bool, "None": None}
        )
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in args if a is not type(None))
    return annotation


def whole_number(text: str) -> int:
    """An int flag's value: ``2000000``, ``2_000_000`` or ``2e6`` (a whole number however
    written, as the Python API takes ``total_frames=2e6``); ``2.5`` is refused."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ValueError(text) from None
    if not value.is_integer():
        raise ValueError(text)
    return int(value)


whole_number.__name__ = "int"  # argparse's message: "invalid int value: '2.5'"


def command() -> str:
    """The name of the command being run (``a3c.py``, ``fw-rl-train``), for error lines."""
    return os.path.basename(sys.argv[0]) or "fw_rl"


# Stable-Baselines3's names for what our settings call otherwise (flags and API keywords)
SB3_NAMES = {
    "learning_rate": "lr",
    "n_steps": "rollout_steps",
    "n_envs": "num_envs",
    "n_epochs": "epochs",
    "ent_coef": "entropy_cost",
    "vf_coef": "value_cost",
    "clip_range": "clip",
    "total_timesteps": "total_frames",
}


# a negative number, e-notation included (``-1e-3``); argparse before Python 3.13 takes
# that for an unknown flag
NEGATIVE_NUMBER = re.compile(r"^-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


class Parser(argparse.ArgumentParser):
    """``argparse`` with one error line: ``<command>: error: <what> (see <command> --help)``
    and exit 2, instead of the usage block before it; ``-1e-3`` is a value, not a flag."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def error(self, message: str):
        if message.startswith("unrecognized arguments: "):
            tokens = message.removeprefix("unrecognized arguments: ").split()
            hints = [hint for hint in map(self._near_flag, tokens) if hint]
            message = "; ".join([message, *hints])
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def _near_flag(self, token: str) -> str | None:
        """The flag meant by an unknown one: the only flag it abbreviates, or a near
        spelling (``--learning-rat`` for ``--learning-rate``)."""
        import difflib

        flag = token.split("=")[0]
        if not flag.startswith("--"):
            return None
        known = [f for f in self._option_string_actions if f.startswith("--")]
        theirs = "--" + SB3_NAMES.get(flag[2:].replace("-", "_"), "").replace("_", "-")
        longer = [f for f in known if f.startswith(flag)]
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.75)
        if theirs in known:
            return f"{flag}: did you mean {theirs}?"
        if len(longer) == 1:
            return f"{flag}: did you mean {longer[0]}? (flags are not abbreviated)"
        return f"{flag}: did you mean {close[0]}?" if close else None


def parser_for(cls, description: str) -> argparse.ArgumentParser:
    parser = Parser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        allow_abbrev=False,  # a resume must know exactly which flags were given
    )
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        kind = _base_type(f.type)
        help_text = f.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=f.default, help=help_text
            )
        else:
            parser.add_argument(
                flag,
                type=whole_number if kind is int else kind,
                default=f.default,
                help=help_text,
                choices=f.metadata.get("choices"),
            )
    return parser


def given_flags(parser: argparse.ArgumentParser, argv) -> set[str]:
    """Destinations of the options that ``argv`` sets explicitly."""
    given = set()
    for action in parser._actions:
        for flag in action.option_strings:
            if any(a == flag or a.startswith(flag + "=") for a in argv):
                given.add(action.dest)
    return given


def parse_config(cls, description: str, argv=None, saved=None):
    """Parse ``argv`` into ``cls``; a value the dataclass rejects is a usage error.

    ``saved(args)`` may return the settings of an earlier run (a dict), as when resuming:
    each ``"run"`` field that ``argv`` does not set takes the saved value.
    """
    parser = parser_for(cls, description)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = vars(parser.parse_args(argv))
    previous = saved(args) if saved else None
    if previous:
        given = given_flags(parser, argv)
        for f in dataclasses.fields(cls):
            # a field that belongs to another (a core's options to the core): when that one
            # is given anew with another value, the saved value goes with the old one
            leader = f.metadata.get("follows")
            if leader in given and previous.get(leader) != args.get(leader):
                given.add(f.name)
        restorable = set(fields_with_role(cls, "run")) | set(fields_with_role(cls, "identity"))
        args.update(
            {k: v for k, v in previous.items() if k in restorable and k in args and k not in given}
        )
    try:
        return cls(**args)
    except ValueError as e:
        parser.error(str(e))
