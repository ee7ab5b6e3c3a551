"""Does taking vmap's copies out of the attention backward pay? One DeiT-tiny block (random init, timm), 49 targets.

vmap's batching rule for a matrix product with one unbatched side copies that side once per target: in the engine's
batched backward, the block's attention probabilities (T x H x N x N) for dV = Aᵀ·dO and for the softmax backward.
Here the block is run twice: as the engine runs it, and with softmax and A·V swapped (through a TorchFunctionMode) for
autograd Functions whose backward folds the targets into the matrix products (dV = Aᵀ·[dO_1 … dO_T], one product) and
computes the softmax backward by broadcasting, so that no N x N tensor is copied. Both give the same gradients (checked);
the script times the batched backward of each, alternating, and writes bench/results/vmap_copies.md.

    python bench/vmap_copies.py [--rounds 15]
"""
import argparse, time
from pathlib import Path
import torch
from torch.overrides import TorchFunctionMode

ROOT = Path(__file__).resolve().parents[1]

class _MixGrad(torch.autograd.Function):
    "(dA, dV) of O = A·V for the cotangent G; under vmap the targets go into the matrix products instead of copies of A."
    @staticmethod
    def forward(a, v, g): return g @ v.transpose(-2, -1), a.transpose(-2, -1) @ g
    @staticmethod
    def setup_context(ctx, inputs, output): pass
    @staticmethod
    def vmap(info, in_dims, a, v, g):
        if in_dims[0] is not None or in_dims[1] is not None:  # batched A or V: no saving to make
            a, v, g = (x.movedim(d, 0) if d is not None else x.expand(info.batch_size, *x.shape) for x, d in zip((a, v, g), in_dims))
            return _MixGrad.forward(a, v, g), (0, 0)
        g = g.movedim(in_dims[2], 0)  # (T, ..., N, d)
        T, *lead, N, d = g.shape
        folded = g.movedim(0, -2).reshape(*lead, N, T * d)  # the targets side by side in the columns
        dv = (a.transpose(-2, -1) @ folded).reshape(*lead, N, T, d).movedim(-2, 0)
        return (g @ v.transpose(-2, -1), dv), (0, 0)

class _Mix(torch.autograd.Function):
    @staticmethod
    def forward(a, v): return a @ v
    @staticmethod
    def setup_context(ctx, inputs, output): ctx.save_for_backward(*inputs)
    @staticmethod
    def backward(ctx, g): return _MixGrad.apply(*ctx.saved_tensors, g)

class _Softmax(torch.autograd.Function):
    @staticmethod
    def forward(s): return s.softmax(-1)
    @staticmethod
    def setup_context(ctx, inputs, output): ctx.save_for_backward(output)
    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors
        t = g * a
        return torch.addcmul(t, a, t.sum(-1, keepdim=True), value=-1)

class Folded(TorchFunctionMode):
    "While inside, a 4-d softmax over the last dim and the product of its output with V use the Functions above."
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs, name = kwargs or {}, getattr(func, '__name__', '')
        if name == 'softmax' and args[0].dim() == 4 and kwargs.get('dim', args[1] if len(args) > 1 else None) in (-1, 3):
            return _Softmax.apply(args[0])
        if name in ('matmul', '__matmul__') and not kwargs and isinstance(getattr(args[0], 'grad_fn', None), _Softmax._backward_cls):
            return _Mix.apply(*args)
        return func(*args, **kwargs)

def main(rounds):
    import timm
    torch.manual_seed(0)
    blk = timm.create_model('deit_tiny_patch16_224', pretrained=False).eval().blocks[5]
    blk.attn.fused_attn = False
    h, T = torch.randn(1, 197, 192, requires_grad=True), 49
    cot = torch.zeros(T, 1, 197); cot[torch.arange(T), :, torch.arange(1, T + 1)] = 1
    def backward(folded):
        A = []
        hook = blk.attn.attn_drop.register_forward_hook(lambda m, i, o: A.append(o))
        with Folded() if folded else torch.enable_grad(): y = blk(h).sum(-1)
        hook.remove()
        return lambda: torch.func.vmap(lambda c: torch.autograd.grad(y, (A[0], h), c, retain_graph=True))(cot)
    ref, new = backward(False)(), backward(True)()
    diff = max((r - n).abs().max().item() for r, n in zip(ref, new))
    times = {False: [], True: []}
    for _ in range(rounds):
        for folded in (False, True):
            run = backward(folded); t = time.perf_counter(); run(); times[folded].append(time.perf_counter() - t)
    b, f = min(times[False]), min(times[True])
    text = '\n'.join(['# vmap copies in the attention backward, `bench/vmap_copies.py`', '',
        f"One DeiT-tiny block (random init), 197 tokens, a batched backward of {T} targets as the engine runs it, against the same "
        f"with softmax and A·V given backward rules that copy no N×N tensor. {rounds} alternating rounds, best of each, "
        f"{torch.get_num_threads()} CPU threads, niceness {__import__('os').nice(0)}.", '',
        '| backward | best (s) | median (s) |', '|---|---|---|',
        f"| PyTorch's batching rules (the engine) | {b:.3f} | {sorted(times[False])[rounds // 2]:.3f} |",
        f"| targets folded into the products | {f:.3f} | {sorted(times[True])[rounds // 2]:.3f} |", '',
        f"Largest gradient difference between the two: {diff:.1e}. Folded / engine, best against best: {f / b:.3f}."]) + '\n'
    (ROOT / 'bench/results/vmap_copies.md').write_text(text); print(text)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--rounds', type=int, default=15)
    main(p.parse_args().rounds)
