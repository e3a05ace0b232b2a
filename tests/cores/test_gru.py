"""The GRU core: PyTorch's GRU behind the common interface, the compiled loop that runs
its sequences on the CPU, and its declaration."""

import pytest
import torch

from fw_rl.cores import GRUCore, core_declaration, gru_kernel, make_core
from fw_rl.cores.gru import COMPILED_MAX_BATCH
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


def backward_name(out):
    return type(out.grad_fn).__name__


@pytest.mark.parametrize("dtype", [torch.double, torch.float32])
def test_the_compiled_loop_equals_torch_gru_in_outputs_state_and_every_gradient(dtype):
    """Resets in two examples and a carried state: outputs, the final state and the
    gradients of the input, the state and every weight equal torch.nn.GRU's (run by
    compiled=False on the same weights)."""
    torch.manual_seed(3)
    compiled = GRUCore(3, 5).to(dtype)
    plain = GRUCore(3, 5, compiled=False).to(dtype)
    plain.load_state_dict(compiled.state_dict())
    x = torch.randn(9, 4, 3, dtype=dtype, requires_grad=True)
    h0 = torch.randn(4, 5, dtype=dtype, requires_grad=True)
    reset = torch.zeros(9, 4, dtype=torch.bool)
    reset[2, 0] = reset[5, 0] = reset[8, 3] = reset[0, 1] = True  # step 0: h0 gets no gradient
    results = []
    for core in (compiled, plain):
        out, (h,) = core(x, (h0,), reset)
        assert (backward_name(out) == "GRUKernelBackward") == (core is compiled)
        loss = (out * torch.linspace(-1, 1, 5, dtype=dtype)).square().sum() + h.sum()
        results.append((out, h, torch.autograd.grad(loss, (x, h0, *core.parameters()))))
    tolerance = {} if dtype == torch.double else dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(results[0], results[1], **tolerance)
    grad_h0 = results[0][2][1]
    assert (grad_h0[1] == 0).all() and (grad_h0[0] != 0).all()


def test_the_compiled_loops_backward_passes_gradcheck():
    torch.manual_seed(4)
    core = GRUCore(2, 3).double()
    x = torch.randn(5, 2, 2, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=torch.double, requires_grad=True)
    reset = torch.zeros(5, 2, dtype=torch.bool)
    reset[2, 0] = reset[4, 1] = True
    names = [name for name, _ in core.named_parameters()]

    def run(x, h, *weights):  # the weights as inputs, so their gradients are checked too
        out, (last,) = torch.func.functional_call(
            core, dict(zip(names, weights)), x, dict(state=(h,), reset=reset)
        )
        return out, last

    weights = [p.detach().clone().requires_grad_() for p in core.parameters()]
    assert backward_name(run(x, h0, *weights)[0]) == "GRUKernelBackward"
    assert torch.autograd.gradcheck(run, (x, h0, *weights))


def test_the_compiled_loop_runs_sequences_on_the_cpu_and_steps_stay_pytorch(monkeypatch):
    core = GRUCore(3, 4)
    x = torch.randn(6, 2, 3)
    assert core.runs_compiled(6, 2, x)
    assert backward_name(core(x)[0]) == "GRUKernelBackward"
    assert backward_name(core(x[:1])[0]) != "GRUKernelBackward"  # one acting step
    wide = torch.randn(6, COMPILED_MAX_BATCH + 1, 3)  # PyTorch's batched products win
    assert backward_name(core(wide[:, :-1])[0]) == "GRUKernelBackward"
    assert backward_name(core(wide)[0]) != "GRUKernelBackward"
    assert not GRUCore(3, 4, compiled=False).runs_compiled(6, 2, x)
    assert not core.runs_compiled(6, 2, x.half())  # a dtype numba does not take
    monkeypatch.setattr(gru_kernel, "compile_loop", lambda function: None)  # no numba
    assert not core.runs_compiled(6, 2, x)
    assert backward_name(core(x)[0]) != "GRUKernelBackward"
    with pytest.raises(ValueError, match="compiled must be True or False, got 'yes'"):
        GRUCore(3, 4, compiled="yes")


def test_gru_is_declared_with_one_version_no_attention_and_a_warm_up():
    declaration = core_declaration("gru")
    assert declaration.cls is GRUCore and declaration.current_version == 1
    assert not declaration.has_attention
    assert declaration.warm_up() >= 0.0  # compiles (or loads) the loops; they then run
    identity = resolve_core("gru", {"compiled": False})
    assert (identity.name, identity.version, identity.options) == ("gru", 1, {})
    assert identity.compute == {"compiled": False}


def test_the_compiled_loop_is_finite_and_exact_where_the_gates_saturate():
    """Pre-activations of about +-1000: exp overflows inside the loop's sigmoid, which must
    still give 0 or 1 (the loop is compiled with fastmath), as torch.nn.GRU does."""
    torch.manual_seed(5)
    compiled = GRUCore(3, 5)
    plain = GRUCore(3, 5, compiled=False)
    plain.load_state_dict(compiled.state_dict())
    x = (1000 * torch.randn(6, 4, 3)).requires_grad_()
    outs = [core(x)[0] for core in (compiled, plain)]
    grads = [torch.autograd.grad(out.sum(), x)[0] for out in outs]
    assert torch.isfinite(outs[0]).all() and torch.isfinite(grads[0]).all()
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[0], grads[1])
