"""fw_rl.cli: a dataclass becomes a parser; roles decide what a resume restores."""

from dataclasses import dataclass

import pytest

from fw_rl.cli import Parser, check_finite, fields_with_role, option, parse_config


@dataclass
class Settings:
    width: int = option(4, "the model's width", role="identity")
    lr: float = option(0.1, "a run setting")
    verbose: bool = option(False, "an invocation's own", role="invocation")
    name: str = option("a", "one of a, b", choices=["a", "b"])

    def __post_init__(self):
        check_finite(self)
        if self.width < 1:
            raise ValueError(f"--width must be >= 1, got {self.width}")


def test_fields_declare_their_roles():
    assert fields_with_role(Settings, "identity") == ("width",)
    assert fields_with_role(Settings, "run") == ("lr", "name")
    assert fields_with_role(Settings, "invocation") == ("verbose",)
    with pytest.raises(ValueError, match="role"):
        option(1, "x", role="model")


def test_saved_settings_fill_only_the_flags_not_given():
    saved = {"width": 8, "lr": 0.5, "verbose": True, "name": "b", "unknown": 1}
    config = parse_config(Settings, "", ["--lr", "0.2"], saved=lambda args: saved)
    assert config == Settings(width=8, lr=0.2, verbose=False, name="b")
    config = parse_config(Settings, "", ["--lr=0.3", "--width", "2"], saved=lambda args: saved)
    assert (config.width, config.lr, config.name) == (2, 0.3, "b")
    assert parse_config(Settings, "", [], saved=lambda args: None) == Settings()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--wid", "3"], "arguments: --wid 3; --wid: did you mean --width? (flags are not ab"),
        (["--widht", "3"], "--widht: did you mean --width?"),  # a near spelling
        (["--learning-rate", "3"], "--learning-rate: did you mean --lr?"),  # SB3's name
        (["--colour", "3"], "unrecognized arguments: --colour 3 (see"),  # nothing near
        (["--width", "0"], "--width must be >= 1"),
        (["--lr", "inf"], "--lr must be a finite number"),
        (["--lr", "nan"], "--lr must be a finite number"),
        (["--name", "c"], "invalid choice: 'c'"),
        (["--width", "2.5"], "invalid int value: '2.5'"),
        (["--width", "inf"], "invalid int value: 'inf'"),
    ],
)
def test_bad_flags_are_usage_errors(argv, message, capsys):
    """One line, ``<command>: error: <what> (see <command> --help)``, exit 2: no usage block."""
    with pytest.raises(SystemExit) as stop:
        parse_config(Settings, "", argv)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and message in line
    assert ": error: " in line and line.endswith("--help)") and "usage:" not in line


@pytest.mark.parametrize(
    "text, value", [("-1e-3", -1e-3), ("-2.5E+2", -250.0), ("-.5", -0.5), ("-3", -3.0)]
)
def test_negative_numbers_are_values_not_flags(text, value):
    """``-1e-3`` is a number (argparse before 3.13 took it for an unknown flag), in a
    single value and in a list."""
    parser = Parser()
    parser.add_argument("--rate", type=float)
    parser.add_argument("--rates", type=float, nargs="+")
    args = parser.parse_args(["--rate", text, "--rates", "1", text])
    assert args.rate == value and args.rates == [1.0, value]


def test_a_flag_is_still_a_flag_after_a_list(capsys):
    """A list of numbers ends at the next flag, and a word after a dash is not a number."""
    parser = Parser()
    parser.add_argument("--rates", type=float, nargs="+")
    parser.add_argument("-e", type=int)
    assert parser.parse_args(["--rates", "-1e-3", "-e", "2"]).e == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["--rates", "-e3x"])


@pytest.mark.parametrize("text", ["3000", "3_000", "3e3", "3.0e3"])
def test_an_int_flag_takes_a_whole_number_however_written(text):
    assert parse_config(Settings, "", ["--width", text]).width == 3000


def test_help_comes_from_the_fields(capsys):
    with pytest.raises(SystemExit):
        parse_config(Settings, "my program", ["--help"])
    out = capsys.readouterr().out
    assert "my program" in out and "the model's width" in out and "--no-verbose" in out
