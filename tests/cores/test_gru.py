"""The GRU core: PyTorch's GRU behind the common interface, and its declaration."""

import torch

from fw_rl.cores import GRUCore, core_declaration, make_core
from fw_rl.cores.identity import resolve_core


def test_gru_core_computes_torch_gru_on_the_same_weights():
    torch.manual_seed(0)
    core = make_core("gru", 3, 5).double()
    x = torch.randn(7, 2, 3, dtype=torch.double)
    out, (h,) = core(x)
    reference, h_ref = core.rnn(x)
    torch.testing.assert_close(out, reference)
    torch.testing.assert_close(h, h_ref[0])


def test_gru_core_one_step_is_the_papers_gru_equations():
    """h_t = (1 - z) n + z h_{t-1}, PyTorch's gate order r, z, n (Cho et al. 2014)."""
    torch.manual_seed(1)
    core = GRUCore(3, 4).double()
    x = torch.randn(1, 2, 3, dtype=torch.double)
    h0 = torch.randn(2, 4, dtype=torch.double)
    out, (h1,) = core(x, (h0,))
    w_ih, w_hh = core.rnn.weight_ih_l0, core.rnn.weight_hh_l0
    b_ih, b_hh = core.rnn.bias_ih_l0, core.rnn.bias_hh_l0
    gi, gh = x[0] @ w_ih.T + b_ih, h0 @ w_hh.T + b_hh
    r = torch.sigmoid(gi[:, :4] + gh[:, :4])
    z = torch.sigmoid(gi[:, 4:8] + gh[:, 4:8])
    n = torch.tanh(gi[:, 8:] + r * gh[:, 8:])
    torch.testing.assert_close(h1, (1 - z) * n + z * h0)
    torch.testing.assert_close(out[0], h1)


def test_a_reset_zeroes_the_gru_state_before_its_step():
    torch.manual_seed(2)
    core = make_core("gru", 3, 4).double()
    x = torch.randn(6, 2, 3, dtype=torch.double)
    reset = torch.zeros(6, 2, dtype=torch.bool)
    reset[3, 1] = True
    out, _ = core(x, reset=reset)
    fresh, _ = core(x[3:, 1:2])
    torch.testing.assert_close(out[3:, 1:2], fresh)


def test_gru_is_declared_with_one_version_and_no_attention():
    declaration = core_declaration("gru")
    assert declaration.cls is GRUCore and declaration.current_version == 1
    assert not declaration.has_attention and declaration.warm_up is None
    identity = resolve_core("gru", {})
    assert (identity.name, identity.version, identity.options) == ("gru", 1, {})
