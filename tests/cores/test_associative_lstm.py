"""The associative LSTM (Danihelka et al. 2016): its equations on a hand-computed example,
in both forms (PyTorch's steps and the compiled loop)."""

import pytest
import torch

from fw_rl.cores import AssociativeLSTM, make_core
from fw_rl.cores.associative_lstm import bound
from fw_rl.cores.associative_lstm_kernel import AssociativeLSTMKernel, kernel_usable

FORMS = pytest.mark.parametrize("compiled", [False, True], ids=["pytorch", "compiled"])


def test_bound_scales_each_complex_number_to_modulus_at_most_one():
    re, im = bound(torch.tensor([3.0, 0.3, 0.0]), torch.tensor([4.0, 0.4, 2.0]))
    torch.testing.assert_close(re, torch.tensor([0.6, 0.3, 0.0]))
    torch.testing.assert_close(im, torch.tensor([0.8, 0.4, 1.0]))


@FORMS
def test_hand_computed_example(compiled):
    """One complex unit, one copy, W = 0: the gates are sigmoid(0) = 0.5, the write key
    r_i = 0.6 + 0.8i, the read key its conjugate, the update bound(3 + 4i) = 0.6 + 0.8i.

    c_1 = r_i (0.5 u) = -0.14 + 0.48i, its read r_o c_1 = 0.3 + 0.4i, h_1 = 0.15 + 0.2i;
    c_2 = 0.5 c_1 + r_i (0.5 u) = -0.21 + 0.72i, read 0.45 + 0.6i, h_2 = 0.225 + 0.3i.
    """
    core = AssociativeLSTM(1, 2, copies=1, compiled=compiled).double()
    with torch.no_grad():
        core.linear.weight.zero_()
        # [forget, write, read gates | r_i (re, im) | r_o (re, im) | u (re, im)]
        core.linear.bias.copy_(torch.tensor([0, 0, 0, 0.6, 0.8, 0.6, -0.8, 3.0, 4.0]))
    out, (h, c) = core(torch.zeros(2, 1, 1, dtype=torch.double))
    torch.testing.assert_close(out[:, 0], torch.tensor([[0.15, 0.2], [0.225, 0.3]]).double())
    torch.testing.assert_close(c[0], torch.tensor([-0.21, 0.72]).double())
    torch.testing.assert_close(h, out[-1])


def test_identical_copies_read_as_one():
    torch.manual_seed(0)
    one = AssociativeLSTM(3, 8, copies=1).double()
    four = AssociativeLSTM(3, 8, copies=4).double()
    four.load_state_dict({**one.state_dict(), "permutations": torch.arange(4).repeat(4, 1)})
    x = torch.randn(6, 2, 3, dtype=torch.double)
    torch.testing.assert_close(four(x)[0], one(x)[0])
    # with the permutations of their seed, the copies differ and so does the read
    torch.manual_seed(0)
    permuted = AssociativeLSTM(3, 8, copies=4).double()
    assert not torch.equal(permuted.permutations[1], torch.arange(4))
    assert not torch.allclose(permuted(x)[0], one(x)[0])


def test_a_key_retrieves_its_item_from_every_permuted_copy():
    """Written with a unit key r and read with its conjugate, an item comes back whole
    from each copy, whatever its permutation: P_s(conj r) P_s(r) u = P_s(|r|^2) u = u."""
    core = AssociativeLSTM(1, 8, copies=3).double()
    assert not torch.equal(core.permutations[1], core.permutations[0])
    phase = torch.tensor([0.3, 1.9, -2.4, 2.8], dtype=torch.double)
    item = torch.tensor([0.1, -0.2, 0.3, 0.05, 0.0, 0.4, -0.1, 0.2], dtype=torch.double)
    gates = torch.tensor([-40.0] * 4 + [40.0] * 8, dtype=torch.double)  # forget 0, others 1
    with torch.no_grad():
        core.linear.weight.zero_()
        core.linear.bias.copy_(
            torch.cat([gates, phase.cos(), phase.sin(), phase.cos(), -phase.sin(), item])
        )
    out, _ = core(torch.zeros(1, 1, 1, dtype=torch.double))
    torch.testing.assert_close(out[0, 0], item)


def test_it_is_built_by_name_and_checks_its_options():
    core = make_core("alstm", 5, 6, copies=2)
    assert isinstance(core, AssociativeLSTM) and core.state_shapes(3) == ((3, 6), (3, 12))
    with pytest.raises(ValueError, match="even"):
        AssociativeLSTM(2, 7)
    with pytest.raises(ValueError, match="copies"):
        AssociativeLSTM(2, 8, copies=0)


def test_bound_has_a_finite_gradient_at_zero():
    # |z| has an infinite derivative at 0; 0 * inf gave a NaN that ended a training run
    re = torch.tensor([0.0, 3.0, 0.2], requires_grad=True)
    im = torch.tensor([0.0, 4.0, 0.1], requires_grad=True)
    out_re, out_im = bound(re, im)
    (out_re.sum() + out_im.sum()).backward()
    assert torch.isfinite(re.grad).all() and torch.isfinite(im.grad).all()
    torch.testing.assert_close(re.grad[0], torch.tensor(1.0))  # below modulus 1: identity


def _reference_forward(core: AssociativeLSTM, x, h, c, reset):
    """The equations step by step in real arithmetic (the core's first implementation),
    for checking the complex-tensor one: ``x [T, B, I]`` -> outputs and ``(h, c)``."""
    units, copies = core.hidden_size // 2, core.copies

    def bound2(re, im):
        scale = torch.sqrt(torch.clamp(re * re + im * im, min=1.0))
        return re / scale, im / scale

    def product(a_re, a_im, b_re, b_im):
        return a_re * b_re - a_im * b_im, a_re * b_im + a_im * b_re

    outs = []
    for t in range(x.shape[0]):
        keep = (~reset[t]).to(h.dtype)[:, None]
        h, c = h * keep, c * keep
        pre = core.linear(torch.cat([x[t], h], -1))
        forget, write, read = torch.sigmoid(pre[:, : 3 * units]).split(units, -1)
        r_i, r_o, u = (
            bound2(*v.split(units, -1)) for v in pre[:, 3 * units :].split(2 * units, -1)
        )
        ki = r_i[0][:, core.permutations], r_i[1][:, core.permutations]
        ko = r_o[0][:, core.permutations], r_o[1][:, core.permutations]
        c_re, c_im = c.view(len(h), copies, 2, units).unbind(2)
        add_re, add_im = product(*ki, (write * u[0])[:, None], (write * u[1])[:, None])
        c_re, c_im = forget[:, None] * c_re + add_re, forget[:, None] * c_im + add_im
        read_re, read_im = product(*ko, c_re, c_im)
        out_re, out_im = bound2(read_re.mean(1), read_im.mean(1))
        h = torch.cat([read * out_re, read * out_im], -1)
        c = torch.stack([c_re, c_im], 2).reshape(len(h), -1)
        outs.append(h)
    return torch.stack(outs), (h, c)


@FORMS
def test_each_form_computes_the_real_equations_and_their_gradients(compiled):
    torch.manual_seed(0)
    core = AssociativeLSTM(3, 8, copies=3, compiled=compiled).double()
    with torch.no_grad():
        core.linear.weight.mul_(3)  # keys and reads of modulus above 1 too: bound acts
    x = torch.randn(7, 4, 3, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(4, 8, dtype=torch.double, requires_grad=True)
    c0 = (2 * torch.randn(4, 24, dtype=torch.double)).requires_grad_()
    reset = torch.zeros(7, 4, dtype=torch.bool)
    reset[3, 1] = reset[5, 2] = True
    out, (h, c) = core(x, (h0, c0), reset)
    want, (want_h, want_c) = _reference_forward(core, x, h0, c0, reset)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(h, want_h)
    torch.testing.assert_close(c, want_c)
    weights = torch.randn_like(out)
    inputs = [x, h0, c0, core.linear.weight, core.linear.bias]
    grads = torch.autograd.grad((out * weights).sum() + c.sum() + h.sum(), inputs)
    want_grads = torch.autograd.grad((want * weights).sum() + want_c.sum() + want_h.sum(), inputs)
    for got, expected in zip(grads, want_grads):
        torch.testing.assert_close(got, expected)


def test_the_compiled_loop_runs_where_it_can_and_its_gradients_pass_gradcheck(monkeypatch):
    core = AssociativeLSTM(3, 8).double()
    x = torch.randn(4, 3, 3, dtype=torch.double)
    assert kernel_usable(x, core.linear.weight)
    calls = []
    original = AssociativeLSTMKernel.apply
    monkeypatch.setattr(AssociativeLSTMKernel, "apply", lambda *a: calls.append(1) or original(*a))
    core(x)
    AssociativeLSTM(3, 8, compiled=False).double()(x)
    core(x[:1])  # one acting step: PyTorch's
    assert calls == [1]  # the compiled core's sequence only
    drive = torch.randn(4, 3, 36, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(3, 8, dtype=torch.double, requires_grad=True)
    recurrent = torch.randn(8, 36, dtype=torch.double, requires_grad=True)
    memory = torch.randn(3, 4, 2, 4, dtype=torch.double, requires_grad=True)
    keep = torch.ones(4, 3, dtype=torch.double)
    keep[1, 1] = keep[3, 0] = 0

    def run(drive, h0, recurrent, memory):
        return original(2 * drive, h0, recurrent, memory, core.permutations, keep)

    assert torch.autograd.gradcheck(run, (drive, h0, recurrent, memory))


def test_the_compiled_loop_is_finite_and_exact_where_the_gates_saturate():
    """Pre-activations of about +-1000: exp overflows inside the loop's gates. The loop is
    compiled with every fastmath flag (its "no infs" promise included), so this pins that
    the build still gives PyTorch's 0 or 1 there, outputs and gradients."""
    torch.manual_seed(5)
    compiled = AssociativeLSTM(3, 6)
    plain = AssociativeLSTM(3, 6, compiled=False)
    plain.load_state_dict(compiled.state_dict())
    x = (1000 * torch.randn(11, 4, 3)).requires_grad_()
    assert kernel_usable(x, compiled.linear.weight)
    outs = [core(x)[0] for core in (compiled, plain)]
    grads = [torch.autograd.grad(out.sum(), x)[0] for out in outs]
    assert torch.isfinite(outs[0]).all() and torch.isfinite(grads[0]).all()
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[0], grads[1])


def test_compiled_must_be_a_bool():
    with pytest.raises(ValueError, match="compiled must be True or False"):
        AssociativeLSTM(2, 8, compiled="yes")
