"""A core of one's own that breaks the interface is named at its first call, with the rule
it broke (shapes only, never a tensor's values), not by torch deep inside a trainer."""

import sys

import pytest
import torch

from fw_rl.cores import CORES, CoreContractError, make_core
from fw_rl.cores.registry import DECLARATIONS

# one module registering cores that each break one rule of _forward's contract
BROKEN = """
import torch
from fw_rl import CoreDeclaration, RecurrentCore, register_core


class Base(RecurrentCore):
    def __init__(self, input_size, hidden_size, batch_first=False):
        super().__init__(input_size, hidden_size, batch_first)
        self.cell = torch.nn.GRUCell(input_size, hidden_size)

    def state_shapes(self, batch_size):
        return ((batch_size, self.hidden_size),)

    def run(self, x, state):
        (h,) = self._zeros_if_none(state, x)
        outs = []
        for step in x:
            h = self.cell(step, h)
            outs.append(h)
        return torch.stack(outs), h


class WrongOut(Base):
    def _forward(self, x, state, reset):
        out, h = self.run(x, state)
        return out[..., :4], (h,)


class NoTime(Base):
    def _forward(self, x, state, reset):
        out, h = self.run(x, state)
        return out[-1], (h,)


class BareState(Base):
    def _forward(self, x, state, reset):
        out, h = self.run(x, state)
        return out, h


class TwoStates(Base):
    def _forward(self, x, state, reset):
        out, h = self.run(x, state)
        return out, (h, h)


class OutOnly(Base):
    def _forward(self, x, state, reset):
        return self.run(x, state)[0]


class WithNone(Base):
    def _forward(self, x, state, reset):
        out, h = self.run(x, state)
        return out, (h, None)


for name, cls in [("wrongout", WrongOut), ("notime", NoTime), ("barestate", BareState),
                  ("twostates", TwoStates), ("outonly", OutOnly), ("withnone", WithNone)]:
    register_core(CoreDeclaration(name=name, cls=cls))
"""

NAMES = ("wrongout", "notime", "barestate", "twostates", "outonly", "withnone")


@pytest.fixture
def broken_cores(tmp_path, monkeypatch):
    (tmp_path / "broken_cores.py").write_text(BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in NAMES:
        DECLARATIONS.pop(name, None)
        CORES.pop(name, None)
    sys.modules.pop("broken_cores", None)


@pytest.mark.parametrize(
    "name, message",
    [
        ("wrongout", r"returned out of shape \(5, 2, 4\); a core's _forward must return out "
                     r"of shape \(T, B, hidden_size\) = \(5, 2, 8\)$"),
        ("notime", r"returned out of shape \(2, 8\); .* = \(5, 2, 8\)$"),
        ("barestate", r"returned its state as Tensor; a core's _forward must return the state "
                      r"as a tuple of tensors of shapes \(\(2, 8\),\), as initial_state\(2\)"),
        ("twostates", r"returned a state of shapes \(\(2, 8\), \(2, 8\)\); .* of shapes "
                      r"\(\(2, 8\),\)"),
        ("outonly", r"_forward returned Tensor; a core's _forward must return the pair "
                    r"\(out, state\)$"),
        ("withnone", r"returned a state of shapes \(\(2, 8\), 'NoneType'\); .* of shapes "
                     r"\(\(2, 8\),\)"),
    ],
)  # fmt: skip
def test_a_core_breaking_the_interface_is_named_with_the_rule(broken_cores, name, message):
    core = make_core(f"broken_cores:{name}", input_size=4, hidden_size=8)
    with pytest.raises(CoreContractError, match=f"^core 'broken_cores:{name}'.*{message}") as e:
        core(torch.randn(5, 2, 4))
    assert "tensor(" not in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)


def test_a_core_made_without_the_registry_is_named_by_its_class(broken_cores):
    import broken_cores as module

    with pytest.raises(CoreContractError, match="^core 'WrongOut' returned out of shape"):
        module.WrongOut(4, 8)(torch.randn(5, 2, 4))


def test_a_state_that_is_not_a_tuple_is_refused_by_its_type_not_printed():
    core = make_core("gru", 3, 8)
    with pytest.raises(ValueError, match=r"^state must be a tuple of tensors of shapes "
                                         r"\(\(2, 8\),\) .*got Tensor$"):  # fmt: skip
        core(torch.randn(5, 2, 3), state=torch.zeros(2, 8))


@pytest.mark.parametrize("name", sorted(n for n in CORES if n not in NAMES))
def test_the_packages_cores_keep_the_contract_one_step_and_a_sequence(name):
    core = make_core(name, 3, 8)
    for steps in (1, 6):
        out, state = core(torch.randn(steps, 2, 3))
        assert out.shape == (steps, 2, 8) and isinstance(state, tuple)
        assert tuple(s.shape for s in state) == core.state_shapes(2)


def test_only_cores_from_outside_the_package_pay_for_the_check(broken_cores):
    import broken_cores as module

    assert not make_core("gru", 3, 8).checks_returns  # tested above instead
    assert module.WrongOut(4, 8).checks_returns
