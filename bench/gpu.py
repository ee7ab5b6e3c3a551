"""All-token ULTra maps on a GPU: images per second, peak memory and the ratio to the FLOP floor, for ViT-S/16, ViT-B/16 and
ViT-S/8 (timm, random init) at 224 and 448, in float32, TF32 and bfloat16 (autocast), and ViT-B/16 with torch.compile.

The FLOP floor of one image is what the maps cannot do without: one forward pass, then for every target token one
vector-Jacobian product through each block up to the target block — input gradients of the linear layers (as many FLOPs as
their forward pass, 24·N·D² per block with an MLP ratio of 4) and of the two attention matmuls (twice their forward, 8·N²·D)
— counted analytically and checked against torch's FlopCounterMode on a small model (`--dry-run` prints both). The floor
*time* divides those FLOPs by the matmul rate this GPU reaches in that precision (an 8192² matmul, measured in the same run),
so the ratio says how far the engine is from the hardware, not from a datasheet.

Costs grow with the number of targets, so each configuration times `--targets` random target tokens (all of them when the
image has fewer) after one warm-up, and scales to all tokens; the table says how many were timed. The whole run is sized to
finish in under 8 minutes on one H100-class GPU. Without a GPU it says so and exits 0; `--dry-run` works anywhere: shapes,
token counts and FLOPs of every configuration, and the FLOP-count check, as JSON.

    python bench/gpu.py                 # on a GPU: writes bench/results/gpu.{json,md}
    python bench/gpu.py --dry-run       # anywhere
"""
import argparse, json, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
MODELS = {'ViT-S/16': 'vit_small_patch16_224', 'ViT-B/16': 'vit_base_patch16_224', 'ViT-S/8': 'vit_small_patch8_224'}
SIZES = (224, 448)
PRECISIONS = ('float32', 'tf32', 'bfloat16')
COCO_IMAGES = 2175  # COCO-Stuff-27 val: the target is all-token ViT-B/16 maps of these in under 3 minutes

def arch(name, size):
    "timm's model `name` at `size` on the meta device: depth, width, tokens."
    import timm
    with torch.device('meta'): m = timm.create_model(name, pretrained=False, img_size=size)
    p = m.patch_embed.patch_size[0]
    return dict(blocks=len(m.blocks), width=m.embed_dim, tokens=(size // p) ** 2, prefix=m.num_prefix_tokens)

def floor_flops(blocks, width, tokens, prefix, targets=None, mlp_ratio=4):
    "FLOPs of one forward pass plus one input-gradient VJP per target through every block (all patch tokens by default)."
    N, D = tokens + prefix, width
    linear, attn = 2 * (4 + 2 * mlp_ratio) * N * D * D, 2 * 2 * N * N * D  # per block: qkv + proj + MLP; QKᵀ and AV
    forward = blocks * (linear + attn)
    vjp = blocks * (linear + 2 * attn)
    return forward + (tokens if targets is None else targets) * vjp

def counted_flops(fn):
    "FLOPs of every matrix product, convolution and attention kernel `fn()` runs, counted at the dispatcher (so vmapped and autograd work counts too), and its result."
    from torch.utils.flop_counter import flop_registry
    from torch.utils._python_dispatch import TorchDispatchMode
    class Count(TorchDispatchMode):
        n = 0
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if (rule := flop_registry.get(func._overloadpacket)) is not None: self.n += rule(*args, **(kwargs or {}), out_val=out)
            return out
    with Count() as c: res = fn()
    return c.n, res

def counted_vjp_flops(name='vit_tiny_patch16_224', size=64):
    "(analytic, counted by FlopCounterMode) FLOPs of one block's forward and one input-gradient VJP, on a small CPU model."
    import timm
    from torch.utils.flop_counter import FlopCounterMode
    m = timm.create_model(name, pretrained=False, img_size=size).eval()
    for b in m.blocks: b.attn.fused_attn = False  # explicit attention, as the engine runs it
    a = arch(name, size)
    x = torch.randn(1, a['tokens'] + a['prefix'], a['width'], requires_grad=True)
    with FlopCounterMode(display=False) as fc: y = m.blocks[0](x)
    fwd = fc.get_total_flops()
    with FlopCounterMode(display=False) as fc: torch.autograd.grad(y, x, torch.randn_like(y))
    one = floor_flops(1, a['width'], a['tokens'], a['prefix'], targets=1)
    N, D = a['tokens'] + a['prefix'], a['width']
    ana_fwd = 2 * 12 * N * D * D + 4 * N * N * D
    return dict(model=name, size=size, forward_analytic=ana_fwd, forward_counted=fwd,
                vjp_analytic=one - ana_fwd, vjp_counted=fc.get_total_flops())

def configs():
    "Every model × size × precision eagerly; torch.compile (per block) for ViT-B/16 only, the COCO-Stuff target, to stay in 8 minutes."
    return [dict(model=k, size=s, precision=p, compile=c) for k in MODELS for s in SIZES for p in PRECISIONS
            for c in ((False, True) if k == 'ViT-B/16' else (False,))]

def matmul_rate(device, precision, n=8192, reps=10):
    "FLOP/s of an n×n matmul in `precision` on `device` (the practical floor's rate)."
    torch.backends.cuda.matmul.allow_tf32 = precision == 'tf32'
    dt = torch.bfloat16 if precision == 'bfloat16' else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dt), torch.randn(n, n, device=device, dtype=dt)
    a @ b; torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps): a @ b
    torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t)

def measure(cfg, device, n_targets, budget_mb, rates):
    "One configuration: seconds per image (scaled from `n_targets` timed targets), peak memory, FLOP-floor ratio."
    import timm
    from ultra_nb.maps import ultra_maps
    torch.manual_seed(0)
    a = arch(MODELS[cfg['model']], cfg['size'])
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = cfg['precision'] == 'tf32'
    model = timm.create_model(MODELS[cfg['model']], pretrained=False, img_size=cfg['size']).eval().to(device)
    if cfg['compile']:
        for b in model.blocks: b.compile()
    T = min(n_targets, a['tokens'])
    tokens = a['prefix'] + torch.randperm(a['tokens'], generator=torch.Generator().manual_seed(0))[:T]
    x = torch.randn(1, 3, cfg['size'], cfg['size'], device=device)
    amp = torch.autocast('cuda', dtype=torch.bfloat16, enabled=cfg['precision'] == 'bfloat16')
    with amp: ultra_maps(model, x, tokens=tokens, size=None, budget_mb=budget_mb)  # warm-up (and compilation)
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(device)
    t = time.perf_counter()
    with amp: out = ultra_maps(model, x, tokens=tokens, size=None, budget_mb=budget_mb)
    torch.cuda.synchronize()
    secs_t = time.perf_counter() - t
    assert torch.isfinite(out).all()
    s_img = secs_t * a['tokens'] / T  # the work is linear in the number of targets
    flops = floor_flops(**a)
    floor_s = flops / rates[cfg['precision']]
    return dict(cfg, tokens=a['tokens'], targets_timed=T, s_per_image=round(s_img, 3), images_per_s=round(1 / s_img, 3),
                peak_mb=round(torch.cuda.max_memory_allocated(device) / 2 ** 20), tflop_per_image=round(flops / 1e12, 3),
                floor_s=round(floor_s, 4), floor_ratio=round(s_img / floor_s, 2),
                coco_minutes=round(COCO_IMAGES * s_img / 60, 1) if (cfg['model'], cfg['size']) == ('ViT-B/16', 224) else None)

def dry_run():
    rows = [dict(c, **arch(MODELS[c['model']], c['size'])) for c in configs()]
    for r in rows: r['tflop_per_image'] = round(floor_flops(r['blocks'], r['width'], r['tokens'], r['prefix']) / 1e12, 4)
    out = dict(configs=rows, flop_check=counted_vjp_flops())
    print(json.dumps(out, indent=1))
    return out

def main(device, n_targets, budget_mb):
    if not torch.cuda.is_available():
        print("bench/gpu.py: no CUDA device here (torch.cuda.is_available() is False): nothing measured. Run it on a machine "
              "with a GPU, or `--dry-run` for shapes and FLOPs."); return
    t0 = time.time()
    rates = {p: matmul_rate(device, p) for p in PRECISIONS}
    print({p: f'{r / 1e12:.0f} TFLOP/s' for p, r in rates.items()}, flush=True)
    rows = []
    for cfg in configs():
        try: rows.append(measure(cfg, device, n_targets, budget_mb, rates))
        except Exception as e: rows.append(dict(cfg, error=f'{type(e).__name__}: {str(e).splitlines()[0][:120]}'))
        print(rows[-1], f'{time.time() - t0:.0f} s', flush=True)
        torch.cuda.empty_cache()
    name = torch.cuda.get_device_name(device)
    (ROOT / 'bench/results/gpu.json').write_text(json.dumps(dict(device=name, torch=torch.__version__, rates=rates, rows=rows), indent=1))
    head = ['model', 'size', 'precision', 'compile', 'tokens', 'targets_timed', 's_per_image', 'images_per_s', 'peak_mb',
            'tflop_per_image', 'floor_s', 'floor_ratio', 'coco_minutes']
    L = ['# All-token maps on a GPU, `bench/gpu.py`', '',
         f"{name}, torch {torch.__version__}, random-init timm models, one random image, every patch token's grid map at the last "
         f"block (objective sum), budget_mb={budget_mb}. Matmul rates measured here: "
         + ', '.join(f'{p} {r / 1e12:.0f} TFLOP/s' for p, r in rates.items()) + '. **floor_ratio** = s_per_image / (FLOP floor / '
         'matmul rate); **coco_minutes** = COCO-Stuff-27 val (2,175 images) at that speed (target: < 3 min, floor ratio < 2). '
         f'Each row times {n_targets} random targets after a warm-up and scales to all tokens. Whole run: {time.time() - t0:.0f} s.', '',
         '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    L += ['| ' + ' | '.join(str(r.get(h, r.get('error', ''))) if h in r or h == 'tokens' else '' for h in head) + ' |' for r in rows]
    (ROOT / 'bench/results/gpu.md').write_text('\n'.join(L) + '\n')
    print('\n'.join(L))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--dry-run', action='store_true', help='shapes, token counts and FLOPs of every configuration, anywhere')
    p.add_argument('--targets', type=int, default=128, help='target tokens timed per configuration (scaled to all tokens)')
    p.add_argument('--budget-mb', type=float, default=8192)
    p.add_argument('--device', default='cuda')
    a = p.parse_args()
    if a.dry_run: dry_run()
    else: main(torch.device(a.device), a.targets, a.budget_mb)
