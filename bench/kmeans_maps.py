"""Is ULTra's dendrogram needed? ULTra_S (hierarchical clustering of the token maps, street preset zeta) against the
registered `kmeans_maps` (k-means of the same maps) at the same number of clusters per image, on CamVid-val.

DeiT-tiny, block 7, f_s: the street preset's block and cut, chosen on CamVid-train by bench/selection.py; nothing is chosen
here. Each image's k is the number of clusters ULTra_S's cut gives it, so the two differ only in how tokens are grouped.
Maps come from bench/selection.py's cache (bench/out/select/), computed if missing. Writes bench/results/kmeans_maps.md.

    python bench/kmeans_maps.py [--limit N]
"""
import argparse, time
from pathlib import Path
import numpy as np
from ultra_nb.methods import Material, segment, image_score
from ultra_nb.cluster import cluster_tokens
from ultra_nb.faithfulness import bootstrap, paired
from ultra_nb.presets import preset
import selection as S

ROOT = Path(__file__).resolve().parents[1]

def main(limit=None):
    model, _, cv, _ = S.material()
    street = preset('vision', 'street')
    idx = range(len(cv) if limit is None else min(limit, len(cv)))
    rows, t0 = [], time.time()
    for i in idx:
        mat, gt = Material(S.grid_map(model, cv, i, street.block, 'sum')), cv.label(i)
        k = len(set(cluster_tokens(mat.maps, zeta=street.zeta, Z=mat.tree('maps'))))
        r = {m: image_score(segment(m, mat, gt.shape, **cut), gt, len(cv.classes), cv.ignore)
             for m, cut in (('ULTra_S', dict(zeta=street.zeta)), ('kmeans_maps', dict(k=k)))}
        rows.append(dict(k=k, **{m: v['miou'] * 100 for m, v in r.items()}, n=r['kmeans_maps']['n']))
    s, km = [r['ULTra_S'] for r in rows], [r['kmeans_maps'] for r in rows]
    f = lambda t: f'{t[0]:.1f} [{t[1]:.1f}, {t[2]:.1f}]'
    lines = ['# k-means of the maps against ULTra_S at the same k (`bench/kmeans_maps.py`)', '',
             f"DeiT-tiny, CamVid-val ({len(rows)} images), block {street.block}, f_s; ULTra_S cut at the street preset's ζ {street.zeta} "
             "(chosen on CamVid-train); `kmeans_maps` (one registered function in the methods chapter) with each image's k set to the "
             "number of clusters that cut gives. Per-image U.mIoU (%), bootstrap 95% intervals over images (2000 draws).", '',
             '| method | per-image U.mIoU | clusters per image |', '|---|---|---|',
             f"| ULTra_S (dendrogram, ζ {street.zeta}) | {f(bootstrap(s))} | {np.mean([r['k'] for r in rows]):.1f} |",
             f"| kmeans_maps (same k) | {f(bootstrap(km))} | {np.mean([r['k'] for r in rows]):.1f} |", '',
             f"Paired, kmeans_maps − ULTra_S: {f(paired(km, s))} points; k-means ahead on {sum(a > b for a, b in zip(km, s))} of {len(rows)} images. "
             f"({time.time() - t0:.0f} s, maps from the cache.)"]
    (ROOT / 'bench/results/kmeans_maps.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--limit', type=int, help='only the first N CamVid-val images')
    main(p.parse_args().limit)
