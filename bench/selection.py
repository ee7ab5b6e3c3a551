"""Trustworthy segmentation numbers: every setting chosen on a seeded CamVid-train subset, reported on CamVid-val and VOC-14.

DeiT-tiny (real weights). Stages (each resumable: every map is cached under bench/out/select/<dataset>/<image>_<objective>_b<block>.pt):

- maps:      ULTra_S maps of all 12 blocks on N_S seeded CamVid-train images, ULTra_E on the first N_E of them
- select:    block per objective, zeta per method, tau, k rule, on that subset only; layer-sweep figure
- report:    CamVid-val (101) and VOC-14 at the chosen settings (VOC takes the CamVid choice unchanged): bootstrap
             intervals, paired differences against ULTra_S, equal-granularity sweep and figure

The LLM sink comparison is bench/llm_sinks.py, ULTra_W by the recipe bench/ultra_w_recipe.py (both read selection.json).

    python bench/selection.py [--stage maps select report] [--n-s 24] [--n-e 12]

The report includes ULTra_W when selection.json names its weights: they live in the untracked bench/out/select/, so
on a fresh clone run bench/ultra_w_recipe.py first (the report stops before any work and says so).
"""
import argparse, hashlib, json, sys, time
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F
from ultra_nb.material import shared_dir
from ultra_nb.models import load_timm
from ultra_nb.inputs import load_image
from ultra_nb.maps import ultra_maps
from ultra_nb.ultra_w import UltraW
from ultra_nb.methods import Material, image_material, segment, image_score, pooled_miou
from ultra_nb.evaluate import camvid, voc, ITIoU
from segmentation import ZETAS, n_gt_classes, save

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'bench/out/select'
N_BLOCKS, SEED, N_S, N_E = 12, 0, 24, 12  # the selection subset the package's presets came from
BUDGET_MB = 4096

def material():
    "DeiT-tiny and the three datasets from ../shared, or exit saying why."
    sh = shared_dir()
    if sh is None: sys.exit("bench/selection.py needs ../shared (DeiT-tiny weights, CamVid train/val, VOC-14)")
    model = load_timm('deit_tiny_patch16_224', sh / 'models/deit_tiny_patch16_224.pth')
    return model, camvid(sh / 'data/camvid-train', 'train.txt'), camvid(sh / 'data/camvid-val'), voc(sh / 'data/voc2012-val-14')

def subset(ds, n, seed=SEED):
    "The first `n` indices of a seeded permutation of `ds` (the selection subset)."
    return np.random.default_rng(seed).permutation(len(ds))[:n].tolist()

def tag(ds): return 'camvid-train' if 'train' in str(ds.items[0][0].parent.parent) else f'{ds.name}-val' if ds.name == 'camvid' else ds.name

def grid_map(model, ds, i, block, obj, x=None, name=None):
    "(196, 14, 14) ULTra maps of every patch token of image `i` at 0-based `block`, cached on disk (as `name`, default `obj`)."
    p = OUT / tag(ds) / f'{Path(ds.items[i][0]).stem}_{name or obj}_b{block}.pt'
    if p.exists(): return torch.load(p)
    x = load_image(ds.image(i)) if x is None else x
    t0 = time.time()
    m = ultra_maps(model, x, block=block, objective_=obj, size=None, budget_mb=BUDGET_MB)[0].float()
    p.parent.mkdir(parents=True, exist_ok=True); torch.save(m.clone(), p)
    print(f'  map {tag(ds)} {p.stem}: {time.time() - t0:.1f} s', flush=True)
    return m

def stage_maps(model, tr, n_s=N_S, n_e=N_E):
    idx, t0 = subset(tr, max(n_s, n_e)), time.time()
    for j, i in enumerate(idx):
        x = load_image(tr.image(i))
        for obj, n in (('sum', n_s), ('energy', n_e)):
            if j < n:
                for b in range(N_BLOCKS): grid_map(model, tr, i, b, obj, x)
        print(f'image {j + 1}/{len(idx)} done, {time.time() - t0:.0f} s so far', flush=True)

# ---------------------------------------------------------------- scoring
GRID = (14, 14)
ZETA_GRID = sorted(set(ZETAS) | {0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85})
KS = (2, 3, 4, 5, 6, 8, 10, 12, 15)  # k candidates on the selection split
KS_REPORT = (2, 3, 5, 8, 12, 15)  # the equal-granularity sweep on the report sets
TAUS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
ULTRA = ('ULTra_S', 'ULTra_E')  # chosen here; ULTra_W's variant and zeta come from bench/ultra_w_recipe.py
W = 'ULTra_W'
HIER = ('hier_features', 'hier_attention', 'hier_rollout')
ORACLE = 'oracle k = GT classes in the image (uses ground truth)'

def vectors(model, ds, i):
    "The baselines' material of image `i` (last-block patch features, attention rows, rollout rows, CLS attention per head), cached."
    p = OUT / tag(ds) / f'{Path(ds.items[i][0]).stem}_vectors.pt'
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True); torch.save(image_material(model, load_image(ds.image(i))).vectors, p)
    return Material(vectors=torch.load(p), grid=GRID)

def run(ds, idx, mats, gts, method, zeta=None, ks=None):
    "Per-image scores of the package method `method` on images `idx` (mats/gts aligned), cut at `zeta` or at ks[j] clusters."
    return [image_score(segment(method, m, g.shape, *((None, zeta) if ks is None else (ks[j], None))), g, len(ds.classes), ds.ignore)
            for j, (m, g) in enumerate(zip(mats, gts))]

pooled = pooled_miou

B_BOOT = 2000
def boot_idx(n, seed=0): return np.random.default_rng(seed).integers(0, n, (B_BOOT, n))

def summary(res, idx):
    "Mean per-image U.mIoU and pooled U.mIoU (%), each with a percentile bootstrap 95% interval over images; mean segments."
    m, C = np.array([r['miou'] for r in res]), np.stack([r['counts'] for r in res])
    bm, bp = m[idx].mean(1), pooled(C[idx].sum(1))
    pct = lambda a: np.percentile(100 * a, [2.5, 97.5])
    return dict(miou=100 * m.mean(), miou_ci=pct(bm), pooled=100 * pooled(C.sum(0)), pooled_ci=pct(bp),
                segs=float(np.mean([r['n'] for r in res])), per_image=m)

def paired(a, b, idx):
    "Mean per-image difference a − b (%), its bootstrap 95% interval, and wins / ties of a."
    d = 100 * (a['per_image'] - b['per_image'])
    lo, hi = np.percentile(d[idx].mean(1), [2.5, 97.5])
    return dict(diff=d.mean(), lo=lo, hi=hi, wins=int((d > 1e-9).sum()), ties=int((np.abs(d) <= 1e-9).sum()), n=len(d))

def fmt(x, ci): return f'{x:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]'

# ---------------------------------------------------------------- selection on CamVid-train
def stage_select(model, tr, n_s, n_e):
    t0 = time.time()
    idx_s = subset(tr, n_s); idx_e = idx_s[:n_e]
    gts = {i: tr.label(i)[::2, ::2] for i in idx_s}  # selection scores at half the label resolution (nearest), for CPU time
    sweep, ksweep = {}, {}
    for obj, name, idx in (('sum', 'ULTra_S', idx_s), ('energy', 'ULTra_E', idx_e)):
        for b in range(N_BLOCKS):
            maps = [Material(grid_map(model, tr, i, b, obj)) for i in idx]
            g = [gts[i] for i in idx]
            sweep[name, b] = {z: np.array([r['miou'] for r in run(tr, idx, maps, g, name, z)]) for z in ZETA_GRID}
            ksweep[name, b] = {5: np.array([r['miou'] for r in run(tr, idx, maps, g, name, ks=[5] * len(idx))])}
        print(f'{name} sweep done, {time.time() - t0:.0f} s', flush=True)
    best = lambda d: max(d, key=lambda z: d[z].mean())
    block = {n: max(range(N_BLOCKS), key=lambda b: sweep[n, b][best(sweep[n, b])].mean()) for n in ULTRA}
    zeta = {n: best(sweep[n, block[n]]) for n in ULTRA}
    vecs, g = [vectors(model, tr, i) for i in idx_s], [gts[i] for i in idx_s]
    bsweep = {m: {z: np.array([r['miou'] for r in run(tr, idx_s, vecs, g, m, z)]) for z in ZETA_GRID} for m in HIER}
    for m in HIER: zeta[m] = best(bsweep[m])
    krule = {m: {k: np.array([r['miou'] for r in run(tr, idx_s, vecs, g, m, ks=[k] * len(idx_s))]) for k in KS}
             for m in ('kmeans_features', 'spectral_features')}
    krule['spectral_features']['eigengap'] = np.array([r['miou'] for r in run(tr, idx_s, vecs, g, 'spectral_features', ks=[None] * len(idx_s))])
    k_sel = {m: best(d) for m, d in krule.items()}
    it = ITIoU(TAUS, skip=(), ignore=tr.ignore)
    for i in idx_s:
        it.add(F.interpolate(grid_map(model, tr, i, block['ULTra_S'], 'sum')[None], size=gts[i].shape, mode='bicubic', align_corners=False)[0], gts[i], GRID)
    tau_sweep = it.result(); tau = max(tau_sweep, key=tau_sweep.get)
    sel = dict(block=block, zeta=zeta, k=k_sel, tau=tau, n_s=n_s, n_e=n_e, secs=time.time() - t0)
    write_selection(tr, sel, sweep, ksweep, bsweep, krule, tau_sweep)
    layer_figure(sweep, ksweep, n_s, n_e)
    return sel

SPLIT = ("CamVid train (../shared/data/camvid-train, 367 images): a random subset drawn with numpy default_rng({seed}).permutation, "
         "first {n_s} images for ULTra_S and the baselines, first {n_e} of those for ULTra_E")

def write_selection(tr, sel, sweep, ksweep, bsweep, krule, tau_sweep):
    b, z = sel['block'], sel['zeta']
    split = SPLIT.format(seed=SEED, n_s=sel['n_s'], n_e=sel['n_e'])
    p = ROOT / 'bench/results/selection.json'
    old = json.loads(p.read_text()) if p.exists() else {}
    k_rule = {m: (f'k = {k} fixed per image' if k != 'eigengap' else 'k at the largest Laplacian eigengap (2..15)') for m, k in sel['k'].items()}
    k_text = '; '.join(f'{m}: {r}' for m, r in k_rule.items()) + f' (chosen among fixed k in {list(KS)} and, for spectral, the eigengap)' 
    js = dict(split=split, date=time.strftime('%Y-%m-%d'), source=f"python bench/selection.py --n-s {sel['n_s']} --n-e {sel['n_e']}", backbone='deit_tiny_patch16_224',
              vit=dict(block=b['ULTra_S'], block_from_end=b['ULTra_S'] - N_BLOCKS, objective='sum', block_energy=b['ULTra_E'],
                       zeta=z, tau=sel['tau'], k_rule=k_text, k=sel['k'], metric='cosine', linkage='average', map_scale=True,
                       criterion='mean per-image U.mIoU (Hungarian match per image)'),
              **{k: old[k] for k in ('llm', 'ultra_w') if k in old})  # written by bench/llm_sinks.py and bench/ultra_w_recipe.py
    # the keys bench/segmentation.py wrote, still read by bench/ultra_w.py: same selection, old names
    bl = b['ULTra_S'] - N_BLOCKS
    js |= dict(block=bl, zeta={f'ULTra_S@{bl}': z['ULTra_S'], f'ULTra_E@{bl}': max(sweep['ULTra_E', b['ULTra_S']], key=lambda q: sweep['ULTra_E', b['ULTra_S']][q].mean()),
                               **{m: z[m] for m in HIER}}, tau=sel['tau'])
    p.write_text(json.dumps(js, indent=1) + '\n')
    L = ['# Settings chosen on CamVid-train, `bench/selection.py --stage select`', '',
         f'Selection split: {split}. Criterion: mean over images of the per-image U.mIoU (Hungarian match in each image). '
         'Scored at half the label resolution (nearest subsampling of the labels; the reports use the full resolution). Hierarchical clustering everywhere: cosine distance, average linkage, every map / vector min-max scaled (the package defaults). '
         f'Blocks are 0-based (11 is the last, the paper\'s layer 13). Selection took {sel["secs"]:.0f} s (maps cached before).', '',
         '| setting | chosen |', '|---|---|',
         f"| ULTra_S block | {b['ULTra_S']} ({b['ULTra_S'] - N_BLOCKS} from the end) |", f"| ULTra_E block | {b['ULTra_E']} ({b['ULTra_E'] - N_BLOCKS} from the end) |"]
    L += [f'| zeta {m} | {v} |' for m, v in z.items()] + [f'| k rule {m} | {k_rule[m]} |' for m in k_rule] + [f"| tau (ITIoU) | {sel['tau']} |", '']
    L += ['## Layer sweep (paper Fig. 8): mean per-image U.mIoU (%) by block', '',
          'best zeta: the best zeta of that block (optimistic: chosen and scored on the same images); k=5: every image cut into 5 clusters.', '',
          '| block | ' + ' | '.join(f'{n} best zeta (zeta) | {n} k=5' for n in ULTRA) + ' |', '|---|' + '---|---|' * len(ULTRA)]
    for bb in range(N_BLOCKS):
        cells = []
        for n in ULTRA:
            d = sweep[n, bb]; zz = max(d, key=lambda q: d[q].mean())
            cells += [f'{100 * d[zz].mean():.1f} ({zz})', f'{100 * ksweep[n, bb][5].mean():.1f}']
        L.append(f'| {bb} | ' + ' | '.join(cells) + ' |')
    L += ['', '## Zeta sweeps of the methods cut by zeta (mean per-image U.mIoU %, CamVid-train subset)', '',
          '| method | ' + ' | '.join(map(str, ZETA_GRID)) + ' |', '|---|' + '---|' * len(ZETA_GRID)]
    rows = {f"ULTra_S@{b['ULTra_S']}": sweep['ULTra_S', b['ULTra_S']], f"ULTra_E@{b['ULTra_E']}": sweep['ULTra_E', b['ULTra_E']], **bsweep}
    L += [f'| {m} | ' + ' | '.join(f'{100 * d[q].mean():.1f}' for q in ZETA_GRID) + ' |' for m, d in rows.items()]
    L += ['', '## k rules (mean per-image U.mIoU %)', '', '| method | ' + ' | '.join(map(str, krule['spectral_features'])) + ' |',
          '|---|' + '---|' * len(krule['spectral_features'])]
    L += [f'| {m} | ' + ' | '.join(f'{100 * d[q].mean():.1f}' if q in d else '—' for q in krule['spectral_features']) + ' |' for m, d in krule.items()]
    L += ['', '## ITIoU (%) by tau, ULTra_S at its block, all CamVid classes', '', '| ' + ' | '.join(map(str, TAUS)) + ' |', '|' + '---|' * len(TAUS),
          '| ' + ' | '.join(f'{100 * tau_sweep[t]:.1f}' for t in TAUS) + ' |']
    rows_csv = [dict(method=n, block=bb, cut=f'zeta={q}', miou=round(100 * d.mean(), 2)) for (n, bb), dd in sweep.items() for q, d in dd.items()]
    rows_csv += [dict(method=n, block=bb, cut=f'k={q}', miou=round(100 * d.mean(), 2)) for (n, bb), dd in ksweep.items() for q, d in dd.items()]
    rows_csv += [dict(method=m, block=11, cut=f'zeta={q}', miou=round(100 * d.mean(), 2)) for m, dd in bsweep.items() for q, d in dd.items()]
    rows_csv += [dict(method=m, block=11, cut=f'k={q}', miou=round(100 * d.mean(), 2)) for m, dd in krule.items() for q, d in dd.items()]
    save('selection', rows_csv, L)

def layer_figure(sweep, ksweep, n_s, n_e):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for n, c, nn in (('ULTra_S', 'C3', n_s), ('ULTra_E', 'C0', n_e)):
        bestz = [sweep[n, b][max(sweep[n, b], key=lambda q: sweep[n, b][q].mean())] for b in range(N_BLOCKS)]
        for vals, ls, lab in ((bestz, '-', 'best zeta of the block'), ([ksweep[n, b][5] for b in range(N_BLOCKS)], '--', 'k = 5')):
            m = np.array([100 * v.mean() for v in vals]); se = np.array([100 * v.std(ddof=1) / np.sqrt(len(v)) for v in vals])
            ax.plot(range(N_BLOCKS), m, ls, marker='o', ms=3, color=c, label=f'{n}, {lab} ({nn} images)')
            ax.fill_between(range(N_BLOCKS), m - se, m + se, color=c, alpha=0.12)
    ax.set_xlabel('block (0-based; 11 = last = paper layer 13)'); ax.set_ylabel('per-image U.mIoU (%)')
    ax.set_title('Layer sweep on the CamVid-train selection subset (band: ± s.e. over images)', fontsize=8); ax.legend(fontsize=7)
    fig.tight_layout(); fig.savefig(ROOT / 'nbs/images/layer_sweep.png', dpi=90)

# ---------------------------------------------------------------- report on CamVid-val and VOC-14
LABEL = {'ULTra_S': 'ULTra_S', 'ULTra_E': 'ULTra_E', 'hier_features': 'hier. features', 'hier_attention': 'hier. attention rows',
         'hier_rollout': 'hier. rollout rows', 'kmeans_features': 'k-means features', 'spectral_features': 'spectral (NCut) features',
         'crate_heads': 'CRATE heads', W: 'ULTra_W'}

def load_selection():
    "The CamVid-train choices, ULTra_W's under 'w' (its zeta also in 'zeta') when bench/ultra_w_recipe.py has run, and the k rules."
    js = json.loads((ROOT / 'bench/results/selection.json').read_text())
    sel = dict(js['vit'], w=js.get('ultra_w'))
    if sel['w']: sel['zeta'] = dict(sel['zeta'], **{W: sel['w']['zeta']})
    return sel, {m: (None if k == 'eigengap' else k) for m, k in sel['k'].items()}

def ultras(sel): return ULTRA + ((W,) if sel['w'] else ())
def swept(sel): return ultras(sel) + HIER + ('kmeans_features', 'spectral_features')

def report_dataset(model, ds, sel, k_sel, n_e_limit=None):
    "Every method's per-image results on `ds`: selected cuts, fixed k, oracle k. Returns {(method, cut): [per-image]}."
    t0 = time.time()
    idx = list(range(len(ds)))
    gts = [ds.label(i) for i in idx]
    srcs = {'ULTra_S': [Material(grid_map(model, ds, i, sel['block'], 'sum')) for i in idx]}
    print(f'{tag(ds)} ULTra_S maps ready, {time.time() - t0:.0f} s', flush=True)
    srcs['ULTra_E'] = [Material(grid_map(model, ds, i, sel['block_energy'], 'energy')) for i in idx]
    print(f'{tag(ds)} ULTra_E maps ready, {time.time() - t0:.0f} s', flush=True)
    if sel['w']:
        w = UltraW.load(ROOT / sel['w']['weights']).w
        srcs[W] = [Material(grid_map(model, ds, i, sel['w']['block'], w, name=sel['w']['maps'])) for i in idx]
        print(f'{tag(ds)} ULTra_W maps ready, {time.time() - t0:.0f} s', flush=True)
    vecs = [vectors(model, ds, i) for i in idx]
    src = lambda m: srcs[m] if m in srcs else vecs
    oracle = [n_gt_classes(ds, g) for g in gts]
    res = {}
    for m in ultras(sel) + HIER: res[m, f"zeta={sel['zeta'][m]}"] = run(ds, idx, src(m), gts, m, sel['zeta'][m])
    for m, k in k_sel.items(): res[m, 'eigengap k' if k is None else f'k={k}'] = run(ds, idx, src(m), gts, m, ks=[k] * len(idx))
    res['crate_heads', 'one segment per head (3)'] = run(ds, idx, vecs, gts, 'crate_heads')
    for m in swept(sel):
        for k in KS_REPORT: res[m, f'k={k}'] = run(ds, idx, src(m), gts, m, ks=[k] * len(idx))
    for m in ('ULTra_S', 'kmeans_features', 'spectral_features'): res[m, ORACLE] = run(ds, idx, src(m), gts, m, ks=oracle)
    print(f'{tag(ds)} scored, {time.time() - t0:.0f} s', flush=True)
    it = ITIoU((sel['tau'],), skip=(0,) if ds.name == 'voc' else (), ignore=ds.ignore)
    for s_, g in zip(srcs['ULTra_S'], gts):
        it.add(F.interpolate(s_.maps[None], size=g.shape, mode='bicubic', align_corners=False)[0], g, GRID)
    return res, it.result()[sel['tau']], time.time() - t0

def stage_report(model, cv, vo):
    sel, k_sel = load_selection()
    out, csv_rows = {}, []
    for ds in (cv, vo):
        key = OUT / f"report_{tag(ds)}_{hashlib.md5(json.dumps([sel['block'], sel['block_energy'], sel['zeta'], k_sel, sel['tau']] + ([sel['w']['maps']] if sel['w'] else []), sort_keys=True).encode()).hexdigest()[:8]}.pt"
        if not key.exists(): torch.save(report_dataset(model, ds, sel, k_sel), key)  # per-image results, so tables and figures rerun free
        res, itiou, secs = torch.load(key, weights_only=False)
        idx = boot_idx(len(ds))
        S = {key: summary(r, idx) for key, r in res.items()}
        out[tag(ds)] = (S, itiou, secs, len(ds))
        for (m, cut), s in S.items():
            csv_rows.append(dict(dataset=f'{tag(ds)}-{len(ds)}', method=m, cut=cut, mean_segments=round(s['segs'], 2),
                                 miou=round(s['miou'], 2), miou_lo=round(s['miou_ci'][0], 2), miou_hi=round(s['miou_ci'][1], 2),
                                 pooled=round(s['pooled'], 2), pooled_lo=round(s['pooled_ci'][0], 2), pooled_hi=round(s['pooled_ci'][1], 2)))
    write_report(out, sel, k_sel, csv_rows)
    granularity_figure(out, sel, k_sel)

def selected_keys(sel, k_sel):
    keys = [(m, f"zeta={sel['zeta'][m]}") for m in ultras(sel) + HIER]
    keys += [(m, 'eigengap k' if k is None else f'k={k}') for m, k in k_sel.items()] + [('crate_heads', 'one segment per head (3)')]
    return keys

def write_report(out, sel, k_sel, csv_rows):
    L = ['# Equal-granularity comparison with intervals: CamVid-val (101) and VOC-14, `bench/selection.py --stage report`', '',
         f"Every setting was chosen on the CamVid-train selection subset (`bench/results/selection.md`): ULTra_S block {sel['block']}, "
         f"ULTra_E block {sel['block_energy']}, each method's zeta / k rule, tau {sel['tau']}. VOC-14 takes the CamVid choice unchanged. "
         + (f"ULTra_W: {sel['w']['variant']} (`bench/results/ultra_w_recipe.md`: trained on 256 CamVid-train images at block {sel['w']['block']}; "
            f"variant and zeta {sel['w']['zeta']} chosen on {sel['w']['split']}). " if sel['w'] else '') +
         'DeiT-tiny (real weights), images resized to 224x224, predictions upsampled to the label size (bicubic for ULTra cluster sums, nearest for patch labels). '
         'Baselines use last-block patch features / head-mean attention rows / attention-rollout rows. '
         '**miou**: mean over images of the per-image U.mIoU (Hungarian match in each image); **pooled**: the package\'s per-image protocol '
         '(match per image, counts summed over images). [lo, hi]: percentile bootstrap 95% interval over images (2000 resamples). '
         '**ULTra_S − method**: paired per-image difference of ULTra_S at its selected zeta minus the method, with its interval, and the images ULTra_S wins. '
         'Rows marked oracle set k to the number of GT classes in each image: they use ground truth.', '']
    for name, (S, itiou, secs, n) in out.items():
        ref = S['ULTra_S', f"zeta={sel['zeta']['ULTra_S']}"]
        idx = boot_idx(n)
        L += [f'## {name} ({n} images): each method at its selected setting', '',
              '| method | cut (chosen on CamVid-train) | mean segments | miou [95% CI] | pooled [95% CI] | ULTra_S − method [95% CI] | ULTra_S wins/N |',
              '|---|---|---|---|---|---|---|']
        for key in selected_keys(sel, k_sel) + [(m, ORACLE) for m in ('ULTra_S', 'kmeans_features', 'spectral_features')]:
            s = S[key]; d = paired(ref, s, idx)
            pd = '' if key == ('ULTra_S', f"zeta={sel['zeta']['ULTra_S']}") else f"{d['diff']:+.1f} [{d['lo']:+.1f}, {d['hi']:+.1f}]"
            w = '' if not pd else f"{d['wins']}/{d['n']}" + (f" ({d['ties']} ties)" if d['ties'] else '')
            L.append(f"| {LABEL[key[0]]} | {key[1]} | {s['segs']:.1f} | {fmt(s['miou'], s['miou_ci'])} | {fmt(s['pooled'], s['pooled_ci'])} | {pd} | {w} |")
        L += ['', f'### {name}: every method cut into the same number of clusters k per image', '',
              'miou [95% CI] (mean segments actually produced); the last columns: paired ULTra_S − method at the same k, wins/N.', '',
              '| method | ' + ' | '.join(f'k={k}' for k in (3, 5, 8)) + ' | ' + ' | '.join(f'ULTra_S − method, k={k}' for k in (3, 5, 8)) + ' |',
              '|---|' + '---|' * 6]
        for m in swept(sel):
            cells = [f"{fmt(S[m, f'k={k}']['miou'], S[m, f'k={k}']['miou_ci'])} ({S[m, f'k={k}']['segs']:.1f})" for k in (3, 5, 8)]
            for k in (3, 5, 8):
                d = paired(S['ULTra_S', f'k={k}'], S[m, f'k={k}'], idx)
                cells.append('' if m == 'ULTra_S' else f"{d['diff']:+.1f} [{d['lo']:+.1f}, {d['hi']:+.1f}], {d['wins']}/{d['n']}")
            L.append(f'| {LABEL[m]} | ' + ' | '.join(cells) + ' |')
        L += ['', f"ITIoU of ULTra_S at tau {sel['tau']}: {100 * itiou:.1f}% ({'object classes, background skipped' if 'voc' in name else 'all classes'}). "
              f'Stage time on this CPU (maps + scoring): {secs:.0f} s.', '']
    save('equal_granularity', csv_rows, L)

def granularity_figure(out, sel, k_sel):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, len(out), figsize=(6 * len(out), 4.2))
    for ax, (name, (S, _, _, n)) in zip(axs, out.items()):
        for j, m in enumerate(swept(sel)):
            c = f'C{j}'
            xs, ys = [S[m, f'k={k}']['segs'] for k in KS_REPORT], [S[m, f'k={k}']['miou'] for k in KS_REPORT]
            ax.plot(xs, ys, '-' if m in ultras(sel) else ':', marker='.', color=c, label=LABEL[m], lw=2 if m in ultras(sel) else 1.2)
        for j, m in enumerate(swept(sel)):
            key = next(kk for kk in selected_keys(sel, k_sel) if kk[0] == m)
            s = S[key]
            ax.errorbar([s['segs']], [s['miou']], yerr=[[s['miou'] - s['miou_ci'][0]], [s['miou_ci'][1] - s['miou']]], fmt='*', ms=11, color=f'C{j}', capsize=3)
        s = S['crate_heads', 'one segment per head (3)']
        ax.errorbar([s['segs']], [s['miou']], yerr=[[s['miou'] - s['miou_ci'][0]], [s['miou_ci'][1] - s['miou']]], fmt='s', color='k', capsize=3, label='CRATE heads')
        from matplotlib.ticker import NullFormatter
        ax.set_xscale('log'); ax.set_xticks([2, 3, 5, 8, 12, 20, 40, 70]); ax.set_xticklabels(['2', '3', '5', '8', '12', '20', '40', '70'])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel('mean segments per image'); ax.set_ylabel('per-image U.mIoU (%)'); ax.set_title(f'{name} ({n} images)', fontsize=9)
    axs[0].legend(fontsize=7)
    fig.suptitle(f'Equal granularity: lines sweep k = {KS_REPORT} per image; stars: each method at its CamVid-train choice (95% CI)', fontsize=9)
    fig.tight_layout(); fig.savefig(ROOT / 'nbs/images/equal_granularity.png', dpi=90)

if __name__ == '__main__':
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--stage', nargs='+', default=['maps', 'select', 'report'])
    a.add_argument('--n-s', type=int, default=N_S); a.add_argument('--n-e', type=int, default=N_E)
    a = a.parse_args()
    w = load_selection()[0]['w']
    if 'report' in a.stage and w and not (ROOT / w['weights']).exists(): sys.exit(
        f"the report needs ULTra_W's weights {w['weights']} (selection.json), which are not here: run "
        "python bench/ultra_w_recipe.py --n-train 256 --n-hold 6 --n-val 50 --seeds 0 1 2 first, or leave out --stage report")
    torch.set_num_threads(2)
    model, tr, cv, vo = material()
    if 'maps' in a.stage: stage_maps(model, tr, a.n_s, a.n_e)
    if 'select' in a.stage: stage_select(model, tr, a.n_s, a.n_e)
    if 'report' in a.stage: stage_report(model, cv, vo)
