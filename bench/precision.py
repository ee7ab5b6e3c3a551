"""Lower precision, measured: all-token ULTra maps of real DeiT-tiny images in float32 and under bfloat16 / float16 autocast,
against float64, and what it does to the segmentation (same labels? U.mIoU change?).

Per image of VOC-14 (the 14 real val images in ../shared): the grid maps of all 196 tokens at the street preset's block,
in float64 (model and input in double: the reference), float32 (the default) and under torch.autocast with bfloat16 and
float16 (matmuls in low precision, the engine unchanged). Errors: relative Frobenius error of the image's maps, and the
largest per-map relative error. Segmentation at the preset's cut: pixel agreement with float64's labels after matching
segments one to one (Hungarian), segment counts, and the per-image U.mIoU change against the ground truth. Per-image
records in bench/out/precision/ (resumable); writes bench/results/precision.md.

    python bench/precision.py [--images 14] [--device cpu] [--dtypes float32 bfloat16 float16] [--fp16-images 4]
"""
import argparse, json, time
from pathlib import Path
import numpy as np, torch
from ultra_nb.material import shared_dir
from ultra_nb.models import load_timm
from ultra_nb.inputs import load_image
from ultra_nb.maps import ultra_maps
from ultra_nb.evaluate import voc, confusion, hungarian
from ultra_nb.methods import Material, segment, image_score
from ultra_nb.presets import preset

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'bench/out/precision'
DTYPES = ('float64', 'float32', 'bfloat16', 'float16')

def maps_in(model, x, block, dtype, device):
    "(196, 14, 14) grid maps computed in `dtype` (float64 / float32: the model's own dtype; bf16 / fp16: autocast), as float64."
    if dtype in ('float64', 'float32'):
        dt = getattr(torch, dtype)
        return ultra_maps(model.to(device, dt), x.to(device, dt), block=block, size=None)[0].double().cpu()
    model.to(device, torch.float32)
    with torch.autocast(device.type, dtype=getattr(torch, dtype)):
        return ultra_maps(model, x.to(device), block=block, size=None)[0].double().cpu()

def agreement(a, b):
    "Share of pixels whose segment in `a` is the one matched (Hungarian, one to one) to their segment in `b`."
    c = confusion(a, b, int(b.max()) + 1, ())
    r = hungarian(c)
    return sum(c[i, r[i]] for i in range(len(r)) if r[i] >= 0) / a.size

def record(model, ds, i, block, zeta, device, dtypes):
    "Per dtype of `dtypes` (float64 always): errors, agreement, segments, U.mIoU, seconds; kept in a per-image file and extended on rerun."
    p = OUT / f'{Path(ds.items[i][0]).stem}.json'
    old = json.loads(p.read_text()) if p.exists() else {}
    todo = [dt for dt in dict.fromkeys(('float64',) + tuple(dtypes)) if dt not in old]
    if not todo: return old
    x, gt = load_image(ds.image(i)), ds.label(i)
    maps, secs = {}, {}
    for dt in dict.fromkeys(('float64',) + tuple(todo)):
        t0 = time.perf_counter(); maps[dt] = maps_in(model, x, block, dt, device); secs[dt] = time.perf_counter() - t0
    ref = maps['float64']
    seg = {dt: segment('ULTra_S', Material(m.float()), gt.shape, zeta=zeta) for dt, m in maps.items()}
    rec = dict(old)
    for dt in todo:
        err = (maps[dt] - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1).clamp_min(1e-300)
        rec[dt] = dict(rel_err=float((maps[dt] - ref).norm() / ref.norm()), max_map_err=float(err.max()), secs=secs[dt],
                       finite=bool(torch.isfinite(maps[dt]).all()), agree=float(agreement(seg[dt], seg['float64'])),
                       segments=int(len(np.unique(seg[dt]))), miou=image_score(seg[dt], gt, len(ds.classes), ds.ignore)['miou'])
    OUT.mkdir(parents=True, exist_ok=True); p.write_text(json.dumps(rec))
    return rec

def boot(d, n=2000, seed=0):
    idx = np.random.default_rng(seed).integers(0, len(d), (n, len(d)))
    return np.percentile(d[idx].mean(1), [2.5, 97.5])

def main(n, device, dtypes, fp16_images):
    torch.set_num_threads(1)
    sh = shared_dir()
    if sh is None: raise SystemExit("bench/precision.py needs ../shared (real DeiT-tiny weights and VOC-14)")
    model = load_timm('deit_tiny_patch16_224', sh / 'models/deit_tiny_patch16_224.pth')
    ds = voc(sh / 'data/voc2012-val-14')
    pre = preset('vision', 'street')  # the preset its results were measured with
    block, zeta = pre.block_for(12), pre.zeta
    recs = []
    for i in range(min(n, len(ds))):
        dts = [d for d in dtypes if d != 'float16' or i < fp16_images]  # float16 autocast is slow on a CPU: the first images only
        t0 = time.time(); recs.append(record(model, ds, i, block, zeta, device, dts)); print(f'image {i + 1}: {time.time() - t0:.0f} s', flush=True)
    L = ['# Maps in lower precision against float64, `bench/precision.py`', '',
         f'Real DeiT-tiny, the first {len(recs)} VOC-14 images, all 196 token maps at block {block} (objective sum), {device.type}. '
         'bfloat16 / float16 run the unchanged engine under `torch.autocast` (matmuls in low precision); float16 on the first '
         f'{min(fp16_images, len(recs))} images only (its autocast is slow on a CPU). **rel. error**: '
         '‖maps − maps₆₄‖ / ‖maps₆₄‖ per image; **worst map**: the largest per-token relative error. Segmentation at the preset '
         f'cut (ζ {zeta}): **agreement** = share of pixels in the segment matched (one to one) to their float64 segment; '
         '**ΔU.mIoU** = per-image U.mIoU minus float64\'s, points, with a bootstrap 95 % interval over images. **s/image**: '
         'wall time on this CPU (shared with other jobs; float64 is the reference, not a mode).', '',
         '| dtype | images | rel. error (mean, max) | worst map | agreement (mean, min) | segments | ΔU.mIoU [95% CI] | s/image |', '|---|---|---|---|---|---|---|---|']
    for dt in DTYPES:
        have = [x for x in recs if dt in x]
        if not have: continue
        r = {k: np.array([x[dt][k] for x in have]) for k in have[0][dt]}
        d = 100 * (r['miou'] - np.array([x['float64']['miou'] for x in have]))
        lo, hi = boot(d)
        L.append(f"| {dt} | {len(have)} | {r['rel_err'].mean():.1e}, {r['rel_err'].max():.1e} | {r['max_map_err'].max():.1e} | "
                 f"{100 * r['agree'].mean():.2f} %, {100 * r['agree'].min():.2f} % | {r['segments'].mean():.1f} | "
                 f"{d.mean():+.2f} [{lo:+.2f}, {hi:+.2f}] | {r['secs'].mean():.1f} |")
    fin = all(v['finite'] for x in recs for v in x.values())
    L += ['', f'All maps finite: {fin}.']
    (ROOT / 'bench/results/precision.md').write_text('\n'.join(L) + '\n')
    print('\n'.join(L))

if __name__ == '__main__':
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--images', type=int, default=14); a.add_argument('--device', default='cpu')
    a.add_argument('--dtypes', nargs='+', default=list(DTYPES[1:]), choices=DTYPES[1:], help='float16 autocast is very slow on a CPU')
    a.add_argument('--fp16-images', type=int, default=4, help='float16 on the first this many images only')
    a = a.parse_args()
    main(a.images, torch.device(a.device), a.dtypes, a.fp16_images)
