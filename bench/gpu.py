"""Images per second and peak GPU memory of all-token ULTra maps: ViT-S/16 and ViT-B/16 (timm, random init) at 224 and 448.

Needs a CUDA device; without one it says so and exits 0. Per (model, size, budget): model and random images on the GPU,
one warm-up image, then `--images` images one at a time through `ultra_maps` (every patch token, last block, objective
'sum', grid maps), timed with torch.cuda.synchronize; peak = torch.cuda.max_memory_allocated after a reset. Writes
bench/results/gpu.md when it measured something. `--device cpu --smoke` runs one small case on the CPU to check the script.

    python bench/gpu.py [--images 8] [--budgets 1024 8192]
"""
import argparse, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
MODELS = ['vit_small_patch16_224', 'vit_base_patch16_224']
SIZES = [224, 448]

def measure(arch, size, budget, n_images, device, dtype=torch.float32):
    "Images per second and peak memory (MB, CUDA only) of all-token grid maps, one image at a time."
    import timm
    from ultra_nb.maps import ultra_maps
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, img_size=size).eval().to(device, dtype)
    xs = torch.randn(n_images + 1, 1, 3, size, size, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    out = ultra_maps(model, xs[0], size=None, budget_mb=budget)  # warm-up
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats(device)
    sync(); t = time.perf_counter()
    for x in xs[1:]: out = ultra_maps(model, x, size=None, budget_mb=budget)
    sync(); secs = time.perf_counter() - t
    assert out.device == device and out.dtype == dtype, (out.device, out.dtype)
    peak = round(torch.cuda.max_memory_allocated(device) / 2 ** 20) if device.type == 'cuda' else None
    return dict(model=arch, size=f'{size}x{size}', tokens=out.shape[1], budget_mb=budget, images=n_images,
                images_per_s=round(n_images / secs, 3), s_per_image=round(secs / n_images, 3), peak_mb=peak)

def main(n_images, budgets, device, smoke):
    if device.type == 'cuda' and not torch.cuda.is_available():
        print("bench/gpu.py: no CUDA device here (torch.cuda.is_available() is False): nothing measured. "
              "Run it on a machine with a GPU.")
        return
    runs = [('vit_tiny_patch16_224', 64, budgets[0], 1)] if smoke else [(a, s, b, n_images) for a in MODELS for s in SIZES for b in budgets]
    rows = []
    for arch, size, b, n in runs:
        rows.append(measure(arch, size, b, n, device)); print(rows[-1], flush=True)
        if device.type == 'cuda': torch.cuda.empty_cache()
    if smoke: return
    name = torch.cuda.get_device_name(device)
    head = list(rows[0])
    lines = ['# All-token maps on a GPU, `bench/gpu.py`', '',
             f"{name}, torch {torch.__version__}, float32, timm models with random weights, random images, last block, objective 'sum', "
             f"every patch token's grid map; {n_images} images one at a time after one warm-up; peak = torch.cuda.max_memory_allocated.", '',
             '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head), *('| ' + ' | '.join(map(str, r.values())) + ' |' for r in rows)]
    (ROOT / 'bench/results/gpu.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--images', type=int, default=8)
    p.add_argument('--budgets', type=float, nargs='+', default=[1024, 8192], help='budget_mb values of ultra_maps to measure')
    p.add_argument('--device', default='cuda')
    p.add_argument('--smoke', action='store_true', help='one small case (ViT-Ti/16 at 64x64, one image) to check the script, nothing written')
    a = p.parse_args()
    main(a.images, a.budgets, torch.device(a.device), a.smoke)
