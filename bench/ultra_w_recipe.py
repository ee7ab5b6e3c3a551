"""ULTra_W by the paper's recipe on CamVid-train (batch 32, Adam 0.01, 10 epochs, per-token and shared), reported on CamVid-val and VOC-14.

Initial segmentations: ULTra_S at the block and zeta chosen on CamVid-train (bench/results/selection.json). Training images:
the first --n-train images of the seeded CamVid-train permutation after the --n-hold held-out ones (the held-out part picks
ULTra_W's own zeta, and which variant / seed goes into the equal-granularity report: the one scoring best there). Reported
on the first --n-val CamVid-val images and all VOC-14 images, next to ULTra_S on the same images. Maps cached in
bench/out/select/. Writes bench/results/ultra_w_recipe.{csv,md} and "ultra_w" in bench/results/selection.json.

    python bench/ultra_w_recipe.py [--n-train 48] [--n-hold 6] [--n-val 25] [--seeds 0 1 2]
"""
import argparse, json, time
import numpy as np, torch
from ultra_nb.inputs import load_image
from ultra_nb.ultra_w import train_w, UltraW
from segmentation import save
from selection import ROOT, OUT, material, subset, grid_map, run, summary, paired, boot_idx, fmt, ZETA_GRID
from ultra_nb.methods import Material, segment

def main(n_train, n_hold, n_val, seeds, n_voc=14):
    model, tr, cv, vo = material()
    torch.set_num_threads(2)
    vit = json.loads((ROOT / 'bench/results/selection.json').read_text())['vit']
    block, zs = vit['block'], vit['zeta']['ULTra_S']
    perm = subset(tr, n_hold + n_train, seed=1)  # a permutation independent of the selection subset's order
    hold, train = perm[:n_hold], perm[n_hold:]
    t0 = time.time()
    maps = [grid_map(model, tr, i, block, 'sum') for i in train]
    segs = [segment('ULTra_S', Material(g), (14, 14), zeta=zs) for g in maps]
    images = torch.cat([load_image(tr.image(i)) for i in train])
    t_init = time.time() - t0
    ws = {}
    for seed in seeds:
        for shared in (False, True):
            name = f"ULTra_W ({'shared' if shared else 'per token'}), seed {seed}"
            p = OUT / f"w_{'shared' if shared else 'token'}_{seed}_{n_train}_b{block}.pt"
            t1, pt = time.time(), p.with_suffix('.json')  # the .json keeps the training time for reruns that load the weights
            if p.exists(): w = UltraW.load(p)
            else:
                w = train_w(model, images, segs, block=block, shared=shared, epochs=10, batch_size=32, lr=0.01, seed=seed, progress=False)
                w.save(p); pt.write_text(json.dumps(dict(train_s=time.time() - t1)))
            t = json.loads(pt.read_text())['train_s'] if pt.exists() else float('nan')
            ws[name] = (w, f"w{'s' if shared else 't'}{seed}n{n_train}", t, p)
    res, held = {}, {}
    for name, (w, tg, *_) in ws.items():
        gts = [tr.label(i) for i in hold]
        hm = [Material(grid_map(model, tr, i, block, w.w, name=tg)) for i in hold]
        sweep = {z: np.mean([r['miou'] for r in run(tr, hold, hm, gts, 'ULTra_S', z)]) for z in ZETA_GRID}
        res[name] = max(sweep, key=sweep.get); held[name] = sweep[res[name]]
    pick = max(held, key=held.get)
    sj = ROOT / 'bench/results/selection.json'
    js = json.loads(sj.read_text())
    js['ultra_w'] = dict(block=block, variant=pick, zeta=res[pick], maps=ws[pick][1], weights=str(ws[pick][3].relative_to(ROOT)),
                         split=f'{n_hold} held-out CamVid-train images (numpy default_rng(1) permutation, first {n_hold}); criterion: mean per-image U.mIoU at the own zeta',
                         held_out={n: [res[n], round(100 * held[n], 2)] for n in held}, date=time.strftime('%Y-%m-%d'))
    sj.write_text(json.dumps(js, indent=1) + '\n')
    out = []
    for ds, idx in ((cv, list(range(min(n_val, len(cv))))), (vo, list(range(min(n_voc, len(vo)))))):
        gts = [ds.label(i) for i in idx]
        bi = boot_idx(len(idx))
        ref = summary(run(ds, idx, [Material(grid_map(model, ds, i, block, 'sum')) for i in idx], gts, 'ULTra_S', zs), bi)
        out.append((ds, idx, 'ULTra_S', f'zeta={zs}', ref, None))
        for name, (w, tg, *_) in ws.items():
            wm = [Material(grid_map(model, ds, i, block, w.w, name=tg)) for i in idx]
            for z in dict.fromkeys((res[name], zs)):
                s = summary(run(ds, idx, wm, gts, 'ULTra_S', z), bi)
                out.append((ds, idx, name, f'zeta={z}' + (' (own, held-out train)' if z == res[name] else " (ULTra_S's)"), s, paired(ref, s, bi)))
    lines = ['# ULTra_W by the paper\'s recipe on CamVid-train, `bench/ultra_w_recipe.py`', '',
             f'Block {block} and the initial segmentation (ULTra_S, zeta {zs}) from the CamVid-train selection. W trained on {n_train} CamVid-train '
             + ('images (as the paper), ' if n_train >= 256 else 'images (the paper uses 256: subsampled for CPU time), ') + 'Adam lr 0.01, batch 32, 10 epochs, noise delta 0.3 outside each segment; '
             f'ULTra_W\'s own zeta chosen on {n_hold} other CamVid-train images. Reported on CamVid-val images 1-{min(n_val, len(cv))} '
             + ('(all) ' if n_val >= len(cv) else '(subsample) ') + f'and all VOC-14 images. Initial maps took {t_init:.0f} s; training: '
             + ', '.join(f'{n} {t:.0f} s' for n, (_, _, t, _) in ws.items()) + '.', '',
             f'Variant for the equal-granularity report (best on the held-out train images at its own zeta): **{pick}**, zeta {res[pick]} '
             '(held-out U.mIoU: ' + ', '.join(f'{n} {100 * v:.1f}' for n, v in held.items()) + ').', '',
             '| dataset | method | cut | mean segments | miou [95% CI] | pooled [95% CI] | ULTra_W − ULTra_S [95% CI] | W wins/N |', '|---|---|---|---|---|---|---|---|']
    csv_rows = []
    for ds, idx, name, c, s, d in out:
        dd = '' if d is None else f"{-d['diff']:+.1f} [{-d['hi']:+.1f}, {-d['lo']:+.1f}]"
        wn = '' if d is None else f"{d['n'] - d['wins'] - d['ties']}/{d['n']}"
        lines.append(f"| {ds.name}-{len(idx)} | {name} | {c} | {s['segs']:.1f} | {fmt(s['miou'], s['miou_ci'])} | {fmt(s['pooled'], s['pooled_ci'])} | {dd} | {wn} |")
        csv_rows.append(dict(dataset=f'{ds.name}-{len(idx)}', method=name, cut=c, mean_segments=round(s['segs'], 2), miou=round(s['miou'], 2),
                             miou_lo=round(s['miou_ci'][0], 2), miou_hi=round(s['miou_ci'][1], 2), pooled=round(s['pooled'], 2)))
    save('ultra_w_recipe', csv_rows, lines)

if __name__ == '__main__':
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--n-train', type=int, default=48); a.add_argument('--n-hold', type=int, default=6)
    a.add_argument('--n-val', type=int, default=25); a.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2]); a.add_argument('--n-voc', type=int, default=14)
    a = a.parse_args()
    main(a.n_train, a.n_hold, a.n_val, a.seeds, a.n_voc)
