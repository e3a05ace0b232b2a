"""Build an ``argparse`` parser from a settings dataclass: each field a flag, its help text
from the field's metadata, its checks from the dataclass's ``__post_init__``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing


def option(default, help: str, **kwargs):
    """A dataclass field whose ``help`` (and optional ``choices``) becomes its flag's."""
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


def _base_type(annotation):
    if isinstance(annotation, str):
        annotation = eval(
            annotation, {"float": float, "int": int, "str": str, "bool": bool, "None": None}
        )
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in args if a is not type(None))
    return annotation


def parser_for(cls, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
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
                type=kind,
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

    ``saved(args)`` may return settings of an earlier run (a dict) to use for every flag
    that ``argv`` does not set, as when resuming.
    """
    parser = parser_for(cls, description)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = vars(parser.parse_args(argv))
    previous = saved(args) if saved else None
    if previous:
        given = given_flags(parser, argv)
        args.update({k: v for k, v in previous.items() if k in args and k not in given})
    try:
        return cls(**args)
    except ValueError as e:
        parser.error(str(e))
