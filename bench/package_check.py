"""The presets' tables regenerated through the package: the CamVid-train selection numbers at the chosen blocks and the
VOC-14 / CamVid-val report numbers of ULTra_S, ULTra_E and the baselines, recomputed with `bench/selection.py` now that it
calls the package's method registry (`ultra_nb.methods`), and compared with the committed `selection.csv` and
`equal_granularity.csv` (two decimals, as committed). Writes bench/results/package_check.md. Resumable: maps and vectors are
cached under bench/out/select like selection.py's own.

    python bench/package_check.py [--camvid-val N]   # also the first N CamVid-val images (default 0: VOC-14 only)

ULTra_W is left out (its weights are not in the repository: bench/ultra_w_recipe.py makes them)."""
import argparse, csv, time
from pathlib import Path
import numpy as np, torch
import selection as S
from ultra_nb.methods import Material

ROOT = Path(__file__).resolve().parents[1]

def committed(name):
    with open(ROOT / f'bench/results/{name}.csv') as f: return list(csv.DictReader(f))

def selection_rows(model, tr, sel):
    "Mean per-image U.mIoU (%) on the selection subset at the chosen blocks, every zeta and k the committed table has."
    idx_s = S.subset(tr, S.N_S); idx_e = idx_s[:S.N_E]
    gts = {i: tr.label(i)[::2, ::2] for i in idx_s}
    out = {}
    for name, obj, block, idx in (('ULTra_S', 'sum', sel['block'], idx_s), ('ULTra_E', 'energy', sel['block_energy'], idx_e)):
        mats, g = [Material(S.grid_map(model, tr, i, block, obj)) for i in idx], [gts[i] for i in idx]
        for z in S.ZETA_GRID: out[name, str(block), f'zeta={z}'] = np.mean([r['miou'] for r in S.run(tr, idx, mats, g, name, z)])
        out[name, str(block), 'k=5'] = np.mean([r['miou'] for r in S.run(tr, idx, mats, g, name, ks=[5] * len(idx))])
        print(f'selection {name} done', flush=True)
    vecs, g = [S.vectors(model, tr, i) for i in idx_s], [gts[i] for i in idx_s]
    for m in S.HIER:
        for z in S.ZETA_GRID: out[m, '11', f'zeta={z}'] = np.mean([r['miou'] for r in S.run(tr, idx_s, vecs, g, m, z)])
    for m in ('kmeans_features', 'spectral_features'):
        for k in S.KS: out[m, '11', f'k={k}'] = np.mean([r['miou'] for r in S.run(tr, idx_s, vecs, g, m, ks=[k] * len(idx_s))])
    out['spectral_features', '11', 'k=eigengap'] = np.mean([r['miou'] for r in S.run(tr, idx_s, vecs, g, 'spectral_features', ks=[None] * len(idx_s))])
    return {k: round(100 * v, 2) for k, v in out.items()}

def report_rows(model, ds, sel, k_sel):
    "Mean per-image U.mIoU (%) and mean segments on a report set: each method at its selected cut and at k = 3, 5, 8."
    idx, gts = list(range(len(ds))), [ds.label(i) for i in range(len(ds))]
    src = {'ULTra_S': [Material(S.grid_map(model, ds, i, sel['block'], 'sum')) for i in idx]}
    src['ULTra_E'] = [Material(S.grid_map(model, ds, i, sel['block_energy'], 'energy')) for i in idx]
    vecs = [S.vectors(model, ds, i) for i in idx]
    runs = [(m, f"zeta={sel['zeta'][m]}", dict(zeta=sel['zeta'][m])) for m in S.ULTRA + S.HIER]
    runs += [(m, f'k={k}', dict(ks=[k] * len(idx))) for m, k in k_sel.items()] + [('crate_heads', 'one segment per head (3)', {})]
    runs += [(m, f'k={k}', dict(ks=[k] * len(idx))) for m in S.ULTRA + S.HIER + ('kmeans_features', 'spectral_features') for k in (3, 5, 8)]
    out = {}
    for m, cut, kw in runs:
        res = S.run(ds, idx, src.get(m, vecs), gts, m, **kw)
        out[m, cut] = (round(100 * np.mean([r['miou'] for r in res]), 2), round(float(np.mean([r['n'] for r in res])), 2))
    return out

def compare(new, old):
    "Rows (key, committed, now, |difference|) for every recomputed number the committed table has."
    return [(k, o, n, abs(n - o)) for k, n in new.items() if (o := old.get(k)) is not None]

def main(n_val):
    torch.set_num_threads(1)
    t0 = time.time()
    model, tr, cv, vo = S.material()
    sel, k_sel = S.load_selection()
    cv.items = cv.items[:n_val]
    L = ['# The presets\' tables regenerated through the package, `bench/package_check.py`', '',
         '`bench/selection.py` now clusters, upsamples (eq. 6–7) and scores through the package\'s method registry '
         '(`ultra_nb.methods`: `segment`, `image_score`, `pooled_miou`) instead of its own copies. This script recomputes, with the '
         'package path, the committed numbers the presets cite and compares them (two decimals, as committed). ULTra_W is left out: '
         'its weights are not in the repository.', '']
    old = {(r['method'], r['block'], r['cut']): float(r['miou']) for r in committed('selection')}
    rows = compare(selection_rows(model, tr, sel), old)
    L += [f'## CamVid-train selection subset ({S.N_S} images, ULTra_E {S.N_E}; blocks {sel["block"]} / {sel["block_energy"]}, baselines block 11)', '',
          f'{len(rows)} numbers recomputed; largest |difference| {max(r[3] for r in rows):.2f} points; '
          f'{sum(r[3] > 0.005 for r in rows)} differ.', '',
          '| method | block | cut | committed | now |', '|---|---|---|---|---|']
    L += [f'| {k[0]} | {k[1]} | {k[2]} | {o:.2f} | {n:.2f} |' for k, o, n, d in rows if d > 0.005 or k[2] in ('zeta=0.6', 'zeta=0.65', 'k=5', 'k=12', 'k=15', 'zeta=0.02')]
    eg = committed('equal_granularity')
    for ds, label in ((vo, 'voc-14'), (cv, f'camvid-val-{len(cv)}'))[:2 if n_val else 1]:
        oldr = {(r['method'], r['cut']): (float(r['miou']), float(r['mean_segments'])) for r in eg if r['dataset'] == label}
        new = report_rows(model, ds, sel, k_sel)
        rows = [(k, oldr[k], v) for k, v in new.items() if k in oldr]
        dm = max(abs(v[0] - o[0]) for _, o, v in rows); ds_ = max(abs(v[1] - o[1]) for _, o, v in rows)
        L += ['', f'## {label}: each method at its selected cut and at k = 3, 5, 8', '',
              (f'{len(rows)} rows recomputed; largest |difference| {dm:.2f} points of mean per-image U.mIoU, {ds_:.2f} mean segments.'
               if oldr else f'The committed table has no rows for {label} (it reports all 101 CamVid-val images): shown for the record.'), '',
              '| method | cut | committed miou (segments) | now miou (segments) |', '|---|---|---|---|']
        L += [f'| {k[0]} | {k[1]} | {o[0]:.2f} ({o[1]:.2f}) | {v[0]:.2f} ({v[1]:.2f}) |' for k, o, v in rows]
        print(f'{label} done, {time.time() - t0:.0f} s', flush=True)
    if not n_val: L += ['', 'CamVid-val (101 images, ~200 more maps) was not recomputed in this run: `--camvid-val 101` does it.']
    L += ['', f'Run time on this 2-core CPU (shared with other jobs; maps cached after the first run): {time.time() - t0:.0f} s.']
    (ROOT / 'bench/results/package_check.md').write_text('\n'.join(L) + '\n')
    print('\n'.join(L))

if __name__ == '__main__':
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--camvid-val', type=int, default=0)
    main(a.parse_args().camvid_val)
