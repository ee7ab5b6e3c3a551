"""Unsupervised segmentation on the real images in ../shared: ULTra_S / ULTra_E vs training-free baselines.

DeiT-tiny (real weights), every method on the same backbone and evaluator. The block and each method's cut
threshold zeta are chosen on VOC-14 (per-image mIoU) and then applied unchanged to CamVid-101.
Writes bench/results/segmentation.{csv,md}; caches maps in bench/out/.

    python bench/segmentation.py [--camvid-limit N]
"""
import argparse, csv, sys, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
from tqdm import tqdm
from ultra_nb.hooks import shared_dir, load_timm, load_image
from ultra_nb.maps import ultra_maps
from ultra_nb.cluster import cluster_tokens, segment_from_clusters, patch_vectors, kmeans, labels_to_pixels, overlay, plot_zeta_sweep
from ultra_nb.evaluate import SegScore, voc, camvid

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / 'bench/out/segmentation'
ZETAS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # wide enough for features (small cosine distances) and maps
BLOCKS = [-1, -3, -5]  # the last block (paper's layer 13 of DeiT-tiny's 12 blocks), and two earlier ones
GRID = (14, 14)

def cached(name, fn):
    p = CACHE / f'{name}.pt'
    if p.exists(): return torch.load(p)
    res = fn()
    p.parent.mkdir(parents=True, exist_ok=True); torch.save(res, p)
    return res

def representations(model, ds, i, blocks):
    "Grid maps of ULTra_S / ULTra_E per block and baseline patch vectors (last block), cached per image."
    x = load_image(ds.items[i][0])
    key = f'{ds.name}_{Path(ds.items[i][0]).stem}'
    rep = {f'ultra_{o}@{b}': cached(f'{key}_{o}_{b}', lambda o=o, b=b: ultra_maps(model, x, block=b, objective_=o, size=None)[0])
           for o, b in blocks}
    for kind in ('features', 'attention', 'rollout'):
        rep[kind] = cached(f'{key}_{kind}', lambda kind=kind: patch_vectors(model, x, kind)[0])
    return rep

def predict(method, rep, zeta, size, k=None):
    "A label image of `size` for one method; k-means takes k, the others cut at zeta."
    if method.startswith('ultra'):
        g = rep[method]
        return segment_from_clusters(g, cluster_tokens(g, zeta=zeta), size=size).numpy()
    if method == 'kmeans_features': return labels_to_pixels(kmeans(rep['features'], k), GRID, size).numpy()
    kind = method.removeprefix('hier_')
    return labels_to_pixels(cluster_tokens(rep[kind], zeta=zeta), GRID, size).numpy()

def evaluate(ds, reps, method, zeta, ks=None):
    s = SegScore(len(ds.classes), ds.ignore)
    n_clusters = []
    for i, rep in enumerate(reps):
        gt = ds.label(i)
        pred = predict(method, rep, zeta, gt.shape, None if ks is None else ks[i])
        n_clusters.append(len(np.unique(pred)))
        s.add(pred, gt)
    return s, n_clusters

def main(camvid_limit):
    sh = shared_dir()
    if sh is None: sys.exit("bench/segmentation.py needs ../shared (real DeiT-tiny weights, VOC and CamVid images)")
    model = load_timm('deit_tiny_patch16_224', sh / 'models/deit_tiny_patch16_224.pth')
    v, c = voc(sh / 'data/voc2012-val-14'), camvid(sh / 'data/camvid-val')
    c.items = c.items[:camvid_limit]
    t0 = time.time()
    vreps = [representations(model, v, i, [('sum', b) for b in BLOCKS]) for i in tqdm(range(len(v)), desc='VOC-14 maps')]
    t_voc = time.time() - t0
    # --- selection on VOC-14 only: block for ULTra_S, then zeta per method (per-image mIoU) ---
    sel, rows = {}, []
    sweep = {f'ultra_sum@{b}': {z: evaluate(v, vreps, f'ultra_sum@{b}', z)[0].per_image()['miou'] for z in ZETAS} for b in BLOCKS}
    block = max(BLOCKS, key=lambda b: max(sweep[f'ultra_sum@{b}'].values()))
    vreps = [representations(model, v, i, [('sum', block), ('energy', block)]) for i in range(len(v))]
    methods = [f'ultra_sum@{block}', f'ultra_energy@{block}', 'hier_features', 'hier_attention', 'hier_rollout']
    for m in methods:
        scores = sweep.get(m) or {z: evaluate(v, vreps, m, z)[0].per_image()['miou'] for z in ZETAS}
        sweep[m] = scores
        sel[m] = max(scores, key=scores.get)
    t1 = time.time()
    creps = [representations(model, c, i, [('sum', block), ('energy', block)]) for i in tqdm(range(len(c)), desc='CamVid maps')]
    t_cam = time.time() - t1
    for ds, reps in ((v, vreps), (c, creps)):
        _, ks = evaluate(ds, reps, f'ultra_sum@{block}', sel[f'ultra_sum@{block}'])
        for m in methods + ['kmeans_features']:
            zeta = sel.get(m)
            s, ncl = evaluate(ds, reps, m, zeta, ks if m == 'kmeans_features' else None)
            for r in (s.per_image(), s.dataset()):
                rows.append(dict(dataset=f'{ds.name}-{len(ds)}', method=m.replace(f'@{block}', ''), protocol=r['protocol'],
                                 u_acc=round(100 * r['acc'], 1), u_miou=round(100 * r['miou'], 1),
                                 cut=f'zeta={zeta}' if zeta is not None else 'k = ULTra_S clusters', mean_clusters=round(np.mean(ncl), 1)))
    write(rows, sweep, block, t_voc, t_cam, len(c))
    figures(v, vreps, block, sel)

def figures(ds, reps, block, sel, show=(0, 3, 5, 11)):
    "Fig. 3 style overlays (image, ground truth, ULTra_S, feature clustering) and a Fig. 14 style zeta sweep."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    m = f'ultra_sum@{block}'
    fig, axs = plt.subplots(len(show), 4, figsize=(10, 2.6 * len(show)))
    for row, i in zip(axs, show):
        rgb, gt = np.asarray(Image.open(ds.items[i][0]).convert('RGB')), ds.label(i)
        panels = [(rgb / 255, 'image'), (overlay(rgb, np.where(gt == 255, 0, gt)), 'ground truth'),
                  (overlay(rgb, predict(m, reps[i], sel[m], gt.shape)), f'ULTra_S, zeta={sel[m]}'),
                  (overlay(rgb, predict('hier_features', reps[i], sel['hier_features'], gt.shape)), f"features, zeta={sel['hier_features']}")]
        for ax, (im, title) in zip(row, panels): ax.imshow(im); ax.set_title(title, fontsize=9); ax.axis('off')
    fig.tight_layout(); fig.savefig(ROOT / 'nbs/images/voc_segmentations.png', dpi=70)
    i = show[1]
    rgb = np.asarray(Image.open(ds.items[i][0]).convert('RGB'))
    plot_zeta_sweep(rgb, reps[i][m], zetas=(0.2, 0.3, 0.4, 0.6)).savefig(ROOT / 'nbs/images/voc_zeta_sweep.png', dpi=70)

def write(rows, sweep, block, t_voc, t_cam, n_cam):
    out = ROOT / 'bench/results'
    with open(out / 'segmentation.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
    lines = ["# Unsupervised segmentation, DeiT-tiny (real weights), `bench/segmentation.py`", "",
             f"Block chosen on VOC-14: {block} (0-based from the end; -1 is the paper's layer 13). Every method's zeta was chosen "
             "on VOC-14 by per-image mIoU (cosine distance, average linkage, ULTra maps min-max scaled, no per-cluster scaling); "
             "k-means on the same features gets, per image, the cluster count ULTra_S found. CamVid uses the same choices. "
             "Images resized to 224x224; predictions upsampled to the label size. The dataset protocol is shown for completeness: "
             "per-image cluster ids do not mean the same class across images, so it is not this method's protocol.", "",
             "| dataset | method | protocol | U.ACC | U.mIoU | cut | mean clusters |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['method']} | {r['protocol']} | {r['u_acc']} | {r['u_miou']} | {r['cut']} | {r['mean_clusters']} |" for r in rows]
    lines += ["", "Selection sweep on VOC-14 (per-image U.mIoU, %):", "", "| method | " + " | ".join(f"zeta={z}" for z in ZETAS) + " |",
              "|---|" + "---|" * len(ZETAS)]
    lines += [f"| {m} | " + " | ".join(f"{100 * s:.1f}" for s in sc.values()) + " |" for m, sc in sweep.items()]
    lines += ["", f"Map time: VOC-14 {t_voc:.0f} s, CamVid-{n_cam} {t_cam:.0f} s (0 when cached)."]
    (out / 'segmentation.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--camvid-limit', type=int, default=101)
    main(p.parse_args().camvid_limit)
