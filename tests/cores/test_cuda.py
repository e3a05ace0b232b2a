"""The cores on a CUDA device; skipped where there is none (CI has none).

The compiled loop and the one-pass acting update are CPU paths: on a GPU the fast-weights
core runs PyTorch's matrix form or the attention Function, and must give what the CPU
gives, gradients included.
"""

import copy

import pytest
import torch

from fw_rl.cores import FastWeightsRNN, make_core

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def run(core, x, state, reset):
    """Outputs, final memory and every gradient, on the CPU."""
    x = x.clone().requires_grad_()
    state = tuple(s.clone().requires_grad_() for s in state)
    out, (_, memory) = core(x, state, reset)
    loss = (out * torch.linspace(-1, 1, out.shape[-1], device=out.device)).sum() + memory.sum()
    grads = torch.autograd.grad(loss, [x, *state, *core.parameters()])
    return [t.detach().cpu() for t in (out, memory, *grads)]


@pytest.mark.parametrize("mode", ["matrix", "attention", "auto"])
@pytest.mark.parametrize("steps", [1, 9])
def test_fast_weights_on_cuda_equals_the_cpu(mode, steps):
    torch.manual_seed(0)
    cpu = FastWeightsRNN(3, 8, inner_steps=2, mode=mode).double()
    gpu = copy.deepcopy(cpu).cuda()
    x = torch.randn(steps, 4, 3, dtype=torch.double)
    reset = torch.rand(steps, 4) < 0.2
    state = (torch.rand(4, 8, dtype=torch.double), 0.1 * torch.rand(4, 8, 8, dtype=torch.double))
    assert not gpu.runs_compiled(steps, x.cuda())
    expected = run(cpu, x, state, reset)
    got = run(gpu, x.cuda(), tuple(s.cuda() for s in state), reset.cuda())
    for value, reference in zip(got, expected):
        torch.testing.assert_close(value, reference)


def test_acting_without_gradients_on_cuda_equals_the_cpu():
    torch.manual_seed(0)
    cpu = FastWeightsRNN(3, 16).float()
    gpu = copy.deepcopy(cpu).cuda()
    x = torch.randn(6, 5, 3)
    state_cpu = state_gpu = None
    with torch.no_grad():
        for t in range(6):
            out_cpu, state_cpu = cpu(x[t : t + 1], state_cpu)
            out_gpu, state_gpu = gpu(x[t : t + 1].cuda(), state_gpu)
            torch.testing.assert_close(out_gpu.cpu(), out_cpu, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(state_gpu[1].cpu(), state_cpu[1], rtol=1e-4, atol=1e-5)


def test_attention_weights_on_cuda():
    torch.manual_seed(0)
    cpu = FastWeightsRNN(3, 8).double()
    gpu = copy.deepcopy(cpu).cuda()
    x = torch.randn(7, 2, 3, dtype=torch.double)
    _, _, expected = cpu.forward_with_attention(x)
    _, _, attention = gpu.forward_with_attention(x.cuda())
    assert attention.is_cuda
    torch.testing.assert_close(attention.cpu(), expected)


@pytest.mark.parametrize("name", ["lstm", "irnn"])
def test_baseline_cores_on_cuda_equal_the_cpu(name):
    torch.manual_seed(0)
    cpu = make_core(name, 3, 8).double()
    gpu = copy.deepcopy(cpu).cuda()
    x = torch.randn(9, 4, 3, dtype=torch.double)
    reset = torch.rand(9, 4) < 0.2
    out_cpu, _ = cpu(x, reset=reset)
    out_gpu, _ = gpu(x.cuda(), reset=reset.cuda())
    torch.testing.assert_close(out_gpu.cpu(), out_cpu)
