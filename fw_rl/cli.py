"""Build an ``argparse`` parser from a settings dataclass: each field a flag, its help text
from the field's metadata, its checks from the dataclass's ``__post_init__``."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing


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


def parse_config(cls, description: str, argv=None):
    """Parse ``argv`` into ``cls``; a value the dataclass rejects is a usage error."""
    parser = parser_for(cls, description)
    args = parser.parse_args(argv)
    try:
        return cls(**vars(args))
    except ValueError as e:
        parser.error(str(e))
