"""Peak memory of all-token maps at 448x448 within the default budget: ViT-B/16 and ViT-S/8 (timm, random init), on the CPU.

Each model runs in a fresh process: build the model and a random 448x448 image, reset the process's high-water mark
(/proc/self/clear_refs), then compute `ultra_maps` (its forward pass included) for a subset of target tokens spread over
the grid with the default `budget_mb`. Reported: peak RSS growth over the resident size before the call (VmHWM - VmRSS),
the chunk of targets that share one batched backward pass (what the budget sets), the number of chunks run, and the
seconds measured. Nothing is extrapolated: the peak is that of the subset (with chunks of equal size the peak does not
grow with the number of chunks). One more row runs ViT-S/8 with the engine's heap hand-back (glibc `malloc_trim` before each
pass when one target per pass fills more than half of the budget) switched off, to show what it saves. Writes bench/results/memory.md.

    flock /tmp/ultra_cpu.lock python bench/memory.py [--budget-mb 1024]
"""
import argparse, json, subprocess, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
RUNS = [('vit_base_patch16_224', 16, 1), ('vit_small_patch8_224', 16, 1), ('vit_small_patch8_224', 4, 0)]  # (timm architecture, target tokens measured, heap hand-back on)
SIZE = 448

def status_mb(key):
    "VmRSS (now) or VmHWM (high-water mark) of this process from /proc/self/status, in MB."
    line = next(l for l in open('/proc/self/status') if l.startswith(key + ':'))
    return int(line.split()[1]) / 1024

def child(arch, n_tokens, budget, trim):
    "In a fresh process: peak RSS growth of one `ultra_maps` call on `n_tokens` targets of a 448x448 image."
    import timm
    import ultra_nb.maps as um
    from ultra_nb.maps import ultra_maps, pass_plan
    if not trim: um._TRIM = None  # the engine's heap hand-back off
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, img_size=SIZE).eval()
    x = torch.randn(1, 3, SIZE, SIZE)
    N, D = model.patch_embed.num_patches + model.num_prefix_tokens, model.embed_dim
    plan = pass_plan(N, D, model.blocks[-1].attn.num_heads, n_tokens, budget, blocks=len(model.blocks))  # the engine's own plan, from shapes only
    tokens = model.num_prefix_tokens + torch.linspace(0, N - model.num_prefix_tokens - 1, n_tokens).round().long()
    with open('/proc/self/clear_refs', 'w') as f: f.write('5')  # reset VmHWM to the current RSS
    before = status_mb('VmRSS')
    t = time.perf_counter()
    maps = ultra_maps(model, x, tokens=tokens, size=None, budget_mb=budget)
    secs = time.perf_counter() - t
    print(json.dumps(dict(model=arch, image=f'{SIZE}x{SIZE}', tokens_in_sequence=N, targets=n_tokens, budget_mb=budget,
                          heap_hand_back=('before each pass' if plan['hand_back'] else 'not needed') if trim else 'switched off',
                          chunk=plan['per_pass'], passes=plan['passes'], reruns_per_block=plan['reruns'], rss_before_mb=round(before),
                          est_peak_mb=round(plan['peak_mb']), peak_growth_mb=round(status_mb('VmHWM') - before),
                          seconds=round(secs, 1), s_per_target=round(secs / n_tokens, 2), maps=list(maps.shape))))

def main(budget):
    rows = []
    for arch, n, trim in RUNS:
        out = subprocess.run([sys.executable, __file__, '--child', arch, str(n), str(budget), str(trim)], capture_output=True, text=True)
        if out.returncode: sys.exit(f"{arch} failed:\n{out.stderr[-2000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1])); print(rows[-1], flush=True)
    head = list(rows[0])
    lines = ['# Memory of all-token maps at 448x448, `bench/memory.py`', '',
             f"timm models with random weights, one random 448x448 image, last block, objective 'sum', default `budget_mb={budget:g}` "
             "of `ultra_maps`, CPU, float32. Each row is a fresh process; `peak_growth_mb` = VmHWM - VmRSS around the one call, "
             "forward pass included (high-water mark reset just before it), measured for `targets` tokens spread over the grid: nothing "
             "extrapolated. `chunk`, `passes`, `reruns_per_block` and `est_peak_mb` are the engine's own plan (`pass_plan`, from shapes only): targets per "
             "batched backward pass (1 to 64; one target gets a plain backward), passes, how often each block is rerun (one group of targets per rerun), "
             "and the peak it expects.", '',
             '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head), *('| ' + ' | '.join(map(str, r.values())) + ' |' for r in rows), '',
             'Whether the peak stays within the budget: ' + '; '.join(
                 f"{r['model']} (heap hand-back {r['heap_hand_back']}): peak growth {r['peak_growth_mb']} MB vs budget {budget:g} MB "
                 f"({'within' if r['peak_growth_mb'] <= budget else 'over'}, chunk {r['chunk']}, estimated {r['est_peak_mb']} MB)" for r in rows) + '.']
    (ROOT / 'bench/results/memory.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))

if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--child':
        child(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])); sys.exit()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--budget-mb', type=float, default=1024)
    main(p.parse_args().budget_mb)
