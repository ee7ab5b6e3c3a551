"""Unsupervised segmentation, object selection and latent perturbation on the real images in ../shared.

DeiT-tiny (real weights); ULTra_S / ULTra_E against training-free baselines on the same backbone and evaluator.
Selection happens on VOC-14 only (block and every method's zeta by per-image mIoU, tau by ITIoU) and is applied
unchanged to CamVid-101. Writes bench/results/segmentation.{csv,md}, the selection (selection.json) and figures in nbs/images/; caches maps in bench/out/.

    python bench/segmentation.py [--camvid-limit N]
    python bench/segmentation.py --figures-only    # voc_segmentations.png and voc_zeta_sweep.png at the current preset
        # (selection.json's "vit" block and zetas) from the maps of the 4 VOC images shown; tables and voc_sweeps.png left alone
"""
import argparse, csv, json, sys, time
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F
from tqdm import tqdm
from ultra_nb.material import shared_dir
from ultra_nb.models import load_timm
from ultra_nb.inputs import load_image
from ultra_nb.maps import ultra_maps
from ultra_nb.cluster import cluster_tokens, segment_from_clusters, patch_vectors, overlay, plot_zeta_sweep
from ultra_nb.evaluate import SegScore, ITIoU, perturbation_test, voc, camvid
from ultra_nb.cache import MapCache
from ultra_nb.methods import Material, VECTOR_KINDS, get_method, segment
from ultra_nb.settings import METHOD_OF

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / 'bench/out/segmentation'  # what is not a map (trained W files)
ZETAS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # spans features (small cosine distances) and maps
BLOCKS = [-1, -3, -5]  # the last block (the paper's layer 13 of DeiT-tiny's 12 blocks) and two earlier ones
TAUS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
GRID = (14, 14)
ORACLE = 'k = GT classes in the image (uses ground truth: evaluation only)'
CONFIGS = {'paper v1: zeta=0.4, maps min-max scaled': dict(zeta=0.4, map_scale=True, cluster_scale=False),
           "authors' demo: zeta=0.25, raw maps, cluster sums min-max scaled": dict(zeta=0.25, map_scale=False, cluster_scale=True)}

def config_score(ds, reps, key, zeta, map_scale, cluster_scale):
    "Per-image U.mIoU of ULTra with fixed (untuned) clustering settings, cosine distance and average linkage."
    s = SegScore(len(ds.classes), ds.ignore)
    for i, rep in enumerate(reps):
        gt, g = ds.label(i), rep[key]
        s.add(segment_from_clusters(g, cluster_tokens(g, zeta=zeta, map_scale=map_scale), cluster_scale, size=gt.shape).numpy(), gt)
    return s.per_image()

MAPS = MapCache(ROOT / 'bench/out/mapcache')  # the package's map cache: keyed by weights, image content and settings

def representations(model, ds, i, blocks):
    "Grid maps of ULTra per (objective, block) and the baselines' patch vectors (last block), cached per image."
    x = load_image(ds.image(i))
    rep = {f'{METHOD_OF[o]}@{b}': MAPS.get_or_compute(model, x, lambda o=o, b=b: ultra_maps(model, x, block=b, objective_=o, size=None)[0],
                                                 block=b, objective=o, size='grid') for o, b in blocks}
    for kind in ('features', 'attention', 'rollout', 'cls_heads'):
        rep[kind] = MAPS.get_or_compute(model, x, lambda kind=kind: patch_vectors(model, x, kind)[0], vectors=kind, block=-1)
    return rep

def n_gt_classes(ds, gt): return max(1, len(set(np.unique(gt).tolist()) - set(ds.ignore)))


def labels(method, rep, zeta, size, k=None):
    "A label image of `size` from the package's method registry: ULTra keys cut at zeta (or k), the baselines on the image's vectors."
    name, mat = ((method.split('@')[0], Material(rep[method])) if '@' in method else
                 (method, Material(vectors={kind: rep[kind] for kind in VECTOR_KINDS}, grid=GRID)))
    cut = dict(k=k) if k else dict(zeta=zeta) if 'zeta' in get_method(name).cuts else {}
    return segment(name, mat, size, **cut)

def evaluate(ds, reps, method, zeta=None, ks=None):
    s, ncl = SegScore(len(ds.classes), ds.ignore), []
    for i, rep in enumerate(reps):
        gt = ds.label(i)
        pred = labels(method, rep, zeta, gt.shape, None if ks is None else ks[i])
        ncl.append(len(np.unique(pred))); s.add(pred, gt)
    return s, ncl

def itiou(ds, reps, key, taus, skip):
    acc = ITIoU(tuple(taus), skip=skip, ignore=ds.ignore)
    for i, rep in enumerate(reps):
        gt = ds.label(i)
        acc.add(F.interpolate(rep[key][None], size=gt.shape, mode='bicubic', align_corners=False)[0], gt, GRID)
    return acc.result()

def perturbation(model, ds, reps, key, block, k=10, seed=0):
    "Mean ‖z − z̃‖ for positive / negative perturbation, masking and noise, k random tokens per image."
    g, res = torch.Generator().manual_seed(seed), {}
    for i, rep in enumerate(tqdm(reps, desc=f'perturbation {ds.name}')):
        x, toks = load_image(ds.image(i)), torch.randperm(GRID[0] * GRID[1], generator=g)[:k].tolist()
        for mode in ('mask', 'noise'):
            r = perturbation_test(model, x, rep[key], toks, block=block, mode=mode, seed=seed + i)
            for s in ('pos', 'neg'): res.setdefault((mode, s), []).append(r[s])
    return {m: torch.cat(v).mean().item() for m, v in res.items()}

def real_material(script, camvid_limit=None):
    "The real DeiT-tiny, VOC-14 and CamVid (first `camvid_limit` images) from ../shared, or exit saying why."
    sh = shared_dir()
    if sh is None: sys.exit(f"bench/{script} needs ../shared (real DeiT-tiny weights, VOC and CamVid images)")
    model = load_timm('deit_tiny_patch16_224', sh / 'models/deit_tiny_patch16_224.pth')
    v, c = voc(sh / 'data/voc2012-val-14'), camvid(sh / 'data/camvid-val')
    c.items = c.items[:camvid_limit]
    return model, v, c

def main(camvid_limit):
    model, v, c = real_material('segmentation.py', camvid_limit)
    t0 = time.time()
    vreps = [representations(model, v, i, [('sum', b) for b in BLOCKS]) for i in tqdm(range(len(v)), desc='VOC-14 maps')]
    # --- selection on VOC-14 only ---
    sweep = {f'ULTra_S@{b}': {z: evaluate(v, vreps, f'ULTra_S@{b}', z)[0].per_image()['miou'] for z in ZETAS} for b in BLOCKS}
    block = max(BLOCKS, key=lambda b: max(sweep[f'ULTra_S@{b}'].values()))
    vreps = [representations(model, v, i, [('sum', block), ('energy', block), ('sum', -1)]) for i in range(len(v))]
    zeta_methods = [f'ULTra_S@{block}', f'ULTra_E@{block}', 'hier_features', 'hier_attention', 'hier_rollout']
    for m in zeta_methods:
        sweep.setdefault(m, {z: evaluate(v, vreps, m, z)[0].per_image()['miou'] for z in ZETAS})
    sel = {m: max(sweep[m], key=sweep[m].get) for m in zeta_methods}
    tau_sweep = {b: itiou(v, vreps, f'ULTra_S@{b}', TAUS, skip=(0,)) for b in sorted({block, -1})}
    tau = max(tau_sweep[block], key=tau_sweep[block].get)
    t_voc = time.time() - t0
    t1 = time.time()
    creps = [representations(model, c, i, [('sum', block), ('energy', block)]) for i in tqdm(range(len(c)), desc='CamVid maps')]
    t_cam = time.time() - t1
    rows, extra, configs = [], [], []
    for ds, reps in ((v, vreps), (c, creps)):
        _, ks = evaluate(ds, reps, f'ULTra_S@{block}', sel[f'ULTra_S@{block}'])
        oracle = [n_gt_classes(ds, ds.label(i)) for i in range(len(ds))]
        runs = [(m, sel[m], None, f'zeta={sel[m]}') for m in zeta_methods] + [
                ('kmeans_features', None, ks, 'k = clusters ULTra_S found'), ('crate_heads', None, None, 'one segment per head (3)'),
                (f'ULTra_S@{block}', None, oracle, ORACLE), ('kmeans_features', None, oracle, ORACLE)]
        for m, zeta, kk, cut in runs:
            s, ncl = evaluate(ds, reps, m, zeta, kk)
            for r in (s.per_image(), s.dataset()):
                rows.append(dict(dataset=f'{ds.name}-{len(ds)}', method=m.replace(f'@{block}', ''), protocol=r['protocol'],
                                 u_acc=round(100 * r['acc'], 1), u_miou=round(100 * r['miou'], 1), cut=cut, mean_segments=round(np.mean(ncl), 1)))
        for name, cfg in CONFIGS.items():
            r = config_score(ds, reps, f'ULTra_S@{block}', **cfg)
            configs.append(dict(dataset=f'{ds.name}-{len(ds)}', setting=name, u_acc=round(100 * r['acc'], 1), u_miou=round(100 * r['miou'], 1)))
        it = itiou(ds, reps, f'ULTra_S@{block}', [tau], skip=(0,) if ds.name == 'voc' else ())[tau]
        pt = perturbation(model, ds, reps, f'ULTra_S@{block}', block)
        extra.append(dict(dataset=f'{ds.name}-{len(ds)}', itiou=round(100 * it, 1), tau=tau,
                          **{f'{m}_{s}': round(d, 2) for (m, s), d in pt.items()}))
    write(rows, extra, configs, sweep, tau_sweep, block, tau, t_voc, t_cam, len(c))
    (ROOT / 'bench/results/selection.json').write_text(json.dumps(dict(block=block, zeta=sel, tau=tau), indent=1) + '\n')
    figures(v, vreps, block, sel, sweep, tau_sweep)

def table(rows):
    return ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])] + ['| ' + ' | '.join(map(str, r.values())) + ' |' for r in rows]

def save(name, rows, lines):
    "Write bench/results/{name}.csv (`rows`, every key a column in first-seen order) and {name}.md (`lines`); print the markdown."
    out = ROOT / 'bench/results'
    with open(out / f'{name}.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)), restval=''); w.writeheader(); w.writerows(rows)
    (out / f'{name}.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))

def write(rows, extra, configs, sweep, tau_sweep, block, tau, t_voc, t_cam, n_cam):
    lines = ["# Unsupervised segmentation, DeiT-tiny (real weights), `bench/segmentation.py`", "",
             f"Chosen on VOC-14 only, then applied unchanged to CamVid: block **{block}** (0-based from the end; -1 is the paper's layer 13), "
             "each method's zeta (per-image mIoU; cosine distance, average linkage; ULTra maps min-max scaled, no per-cluster scaling), "
             f"and the ITIoU threshold **tau = {tau}**. k-means on the same features gets, per image, the number of clusters ULTra_S found. "
             "Rows marked 'uses ground truth' set k to the number of classes in the image: an oracle, for comparison with the authors' demo only. "
             "Images resized to 224x224; predictions upsampled to the label size. **per-image** is the protocol for per-image clusterings; "
             "the **dataset** rows are shown because the evaluator computes both, but per-image cluster ids mean nothing across images.", ""]
    lines += table(rows)
    lines += ["", f"## Paper v1 vs the authors' demo settings (ULTra_S, block {block}, per-image protocol, not tuned)", ""]
    lines += table(configs)
    lines += ["", "## Object selection and latent perturbation (ULTra_S maps at the chosen block)", "",
              "ITIoU: VOC object classes (background skipped), CamVid all classes. Perturbation: 10 random tokens per image, "
              "the 50% most (pos) or least (neg) relevant other patches, masked to zero or with N(0, 0.3) noise; mean ‖z − z̃‖ at the block.", ""]
    lines += table(extra)
    lines += ["", "## Selection sweeps on VOC-14", "", "Per-image U.mIoU (%) by zeta:", "",
              "| method | " + " | ".join(f"{z}" for z in ZETAS) + " |", "|---|" + "---|" * len(ZETAS)]
    lines += [f"| {m} | " + " | ".join(f"{100 * s:.1f}" for s in sc.values()) + " |" for m, sc in sweep.items()]
    lines += ["", "ITIoU (%) by tau, ULTra_S:", "", "| block | " + " | ".join(f"{t}" for t in TAUS) + " |", "|---|" + "---|" * len(TAUS)]
    lines += [f"| {b} | " + " | ".join(f"{100 * s:.1f}" for s in sc.values()) + " |" for b, sc in tau_sweep.items()]
    lines += ["", f"Map time: VOC-14 {t_voc:.0f} s, CamVid-{n_cam} {t_cam:.0f} s (near 0 when cached)."]
    save('segmentation', rows, lines)

SHOW = (0, 3, 5, 11)  # the VOC-14 images the figures show

def figures_only():
    "The two figures the segmentation chapter shows, at selection.json's current vision preset, from the maps of the SHOW images only."
    model, v, _ = real_material('segmentation.py', 0)
    vit = json.loads((ROOT / 'bench/results/selection.json').read_text())['vit']
    block = vit['block']
    reps = {i: representations(model, v, i, [('sum', block)]) for i in SHOW}
    figures(v, reps, block, {f'ULTra_S@{block}': vit['zeta']['ULTra_S'], 'hier_features': vit['zeta']['hier_features']})

def figures(ds, reps, block, sel, sweep=None, tau_sweep=None, show=SHOW):
    "Fig. 3 overlays, a Fig. 14 zeta sweep; with the sweeps, Fig. 8/15-style layer and zeta curves and a Fig. 12-style tau curve."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    m = f'ULTra_S@{block}'
    fig, axs = plt.subplots(len(show), 4, figsize=(10, 2.6 * len(show)))
    for row, i in zip(axs, show):
        rgb, gt = ds.image(i), ds.label(i)
        panels = [(rgb / 255, 'image'), (overlay(rgb, np.where(gt == 255, 0, gt)), 'ground truth'),
                  (overlay(rgb, labels(m, reps[i], sel[m], gt.shape)), f'ULTra_S, zeta={sel[m]}'),
                  (overlay(rgb, labels('hier_features', reps[i], sel['hier_features'], gt.shape)), f"features, zeta={sel['hier_features']}")]
        for ax, (im, title) in zip(row, panels): ax.imshow(im); ax.set_title(title, fontsize=9); ax.axis('off')
    fig.tight_layout(); fig.savefig(ROOT / 'nbs/images/voc_segmentations.png', dpi=70)
    plot_zeta_sweep(ds.image(show[1]), reps[show[1]][m], zetas=(0.2, 0.3, 0.4, 0.6)).savefig(ROOT / 'nbs/images/voc_zeta_sweep.png', dpi=70)
    if sweep is None: return
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, sc in sweep.items():
        a.plot(list(sc), [100 * s for s in sc.values()], marker='o', ms=3, label=name, ls='-' if name.startswith('ultra') else ':')
    a.set_xscale('log'); a.set_xlabel('cut threshold zeta (cosine distance)'); a.set_ylabel('per-image U.mIoU (%)'); a.legend(fontsize=7)
    a.set_title('VOC-14: layer and zeta sweep', fontsize=9)
    for bl, sc in tau_sweep.items(): b.plot(list(sc), [100 * s for s in sc.values()], marker='o', label=f'ULTra_S, block {bl}')
    b.set_xlabel('threshold tau'); b.set_ylabel('ITIoU (%)'); b.legend(fontsize=8); b.set_title('VOC-14: object selection', fontsize=9)
    fig.tight_layout(); fig.savefig(ROOT / 'nbs/images/voc_sweeps.png', dpi=80)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--camvid-limit', type=int, default=101)
    p.add_argument('--figures-only', action='store_true', help="only voc_segmentations.png and voc_zeta_sweep.png, at the current preset")
    a = p.parse_args()
    figures_only() if a.figures_only else main(a.camvid_limit)
