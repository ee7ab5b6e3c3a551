"""ULTra_W on real images: train W on CamVid-val images 1-60, report on CamVid-val 61-101 and on all 14 VOC images.

DeiT-tiny (real weights). Initial segmentations: ULTra_S at the block and zeta that bench/segmentation.py chose on VOC-14
(bench/results/selection.json). Trains one vector per token and one shared vector with the paper's defaults, then
segments the held-out images with f_w at the same block and zeta, next to ULTra_S and ULTra_E, under both protocols.
Writes bench/results/ultra_w.{csv,md} and nbs/images/ultra_w_maps.png; caches maps and W files in bench/out/.

    python bench/ultra_w.py [--epochs 10]
"""
import argparse, dataclasses, json, time
import numpy as np, torch
from tqdm import tqdm
from ultra_nb.inputs import load_image
from ultra_nb.maps import ultra_maps, denormalize
from ultra_nb.cluster import cluster_tokens, segment_from_clusters
from ultra_nb.evaluate import SegScore
from ultra_nb.ultra_w import train_w, w_loss
from segmentation import ROOT, CACHE, MAPS, table, save, perturbation, real_material

N_TRAIN = 60

def initial_segs(model, ds, idx, block, zeta):
    "ULTra_S segmentation of each image on the patch grid (eq. 6-7 at grid resolution), from cached maps."
    out = []
    for i in tqdm(idx, desc=f'ULTra_S {ds.name}'):
        x = load_image(ds.image(i))
        g = MAPS.get_or_compute(model, x, lambda: ultra_maps(model, x, block=block, size=None)[0], block=block, objective='sum', size='grid')
        out.append(segment_from_clusters(g, cluster_tokens(g, zeta=zeta)).numpy())
    return out

def grid_maps(model, ds, idx, block, objective, tag):
    xs = (load_image(ds.image(i)) for i in tqdm(idx, desc=f'{tag} maps {ds.name}'))
    return [MAPS.get_or_compute(model, x, lambda x=x: ultra_maps(model, x, block=block, objective_=objective, size=None)[0],
                                block=block, objective=objective, size='grid') for x in xs]

def score(ds, idx, maps, zeta, ks=None):
    "Per-image and dataset scores of segmentations cut at `zeta`, or at `ks[j]` clusters for image j."
    s, n = SegScore(len(ds.classes), ds.ignore), []
    for j, (i, g) in enumerate(zip(idx, maps)):
        gt = ds.label(i)
        pred = segment_from_clusters(g, cluster_tokens(g, k=ks and ks[j], zeta=None if ks else zeta), size=gt.shape).numpy()
        s.add(pred, gt); n.append(len(np.unique(pred)))
    return s, float(np.mean(n))

def figure(model, ds, i, block, ws, tokens=(40, 88, 150)):
    "Appendix C style: the image with the chosen tokens, their ULTra_S maps, their ULTra_W maps."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    x = load_image(ds.image(i))
    rgb = denormalize(x[0])
    toks = torch.tensor(tokens) + 1
    rows = [('ULTra_S', ultra_maps(model, x, toks, block=block)[0])] + [
            (name, w.maps(model, x, tokens=toks)[0]) for name, w in ws.items()]
    fig, axs = plt.subplots(len(tokens), len(rows) + 1, figsize=(2.4 * (len(rows) + 1), 2.4 * len(tokens)))
    for r, t in enumerate(tokens):
        y, c = divmod(t, 14)
        axs[r, 0].imshow(rgb); axs[r, 0].add_patch(Rectangle((c * 16, y * 16), 16, 16, fill=False, lw=2, ec='w'))
        axs[r, 0].set_title(f'token {t}', fontsize=9)
        for ax, (name, m) in zip(axs[r, 1:], rows):
            ax.imshow(rgb); ax.imshow(m[r], cmap='jet', alpha=0.5); ax.set_title(name, fontsize=9)
    for a in axs.ravel(): a.axis('off')
    fig.tight_layout()
    return fig

def main(epochs):
    model, v, c = real_material('ultra_w.py')
    sel = json.loads((ROOT / 'bench/results/selection.json').read_text())
    block, zs, ze = sel['block'], sel['zeta'][f"ULTra_S@{sel['block']}"], sel['zeta'][f"ULTra_E@{sel['block']}"]
    train_idx, held_idx = range(N_TRAIN), range(N_TRAIN, len(c))
    images = torch.cat([load_image(c.image(i)) for i in train_idx])
    segs = initial_segs(model, c, train_idx, block, zs)
    ws, train_s = {}, {}
    for name, shared in (('ULTra_W (per token)', False), ('ULTra_W (shared)', True)):
        t0 = time.time()
        ws[name] = train_w(model, images, segs, block=block, shared=shared, epochs=epochs)
        train_s[name] = time.time() - t0
        ws[name].save(CACHE / f"w_{'shared' if shared else 'per_token'}.pt")
    # held-out self-consistency loss, against the random vectors training starts from
    held_imgs = torch.cat([load_image(c.image(i)) for i in held_idx])
    held_segs = initial_segs(model, c, held_idx, block, zs)
    g = torch.Generator().manual_seed(0)
    start = {'ULTra_W (per token)': torch.randn(197, 192, generator=g)}
    start['ULTra_W (shared)'] = torch.randn(192, generator=torch.Generator().manual_seed(0))
    losses = [dict(w=name, train_s=round(train_s[name], 1), first_epoch=f'{w.history[0]:.4g}', last_epoch=f'{w.history[-1]:.4g}',
                   held_out_trained=f'{w_loss(model, w, held_imgs, held_segs):.4g}',
                   held_out_initial=f'{w_loss(model, start[name], held_imgs, held_segs, block=block):.4g}') for name, w in ws.items()]
    rows, extra = [], []
    for ds, idx in ((c, held_idx), (v, range(len(v)))):
        maps = {'ULTra_S': (grid_maps(model, ds, idx, block, 'sum', 'sum'), zs), 'ULTra_E': (grid_maps(model, ds, idx, block, 'energy', 'energy'), ze)}
        for name, w in ws.items():
            tag = 'wshared' if w.theta.dim() == 1 else 'wtoken'
            maps[name] = (grid_maps(model, ds, idx, block, w.w, tag + f'{epochs}'), zs)
        label = f'{ds.name}-{len(idx)} (held out)' if ds is c else f'{ds.name}-{len(idx)}'
        ks = [len(np.unique(cluster_tokens(g, zeta=zs))) for g in maps['ULTra_S'][0]]
        runs = [(name, m, z, None, f'zeta={z}') for name, (m, z) in maps.items()] + [
                (name, m, None, ks, 'k = clusters ULTra_S found') for name, (m, _) in maps.items() if name.startswith('ULTra_W')]
        for name, m, z, kk, cut in runs:
            s, n = score(ds, idx, m, z, kk)
            for r in (s.per_image(), s.dataset()):
                rows.append(dict(dataset=label, method=name, protocol=r['protocol'], u_acc=round(100 * r['acc'], 1),
                                 u_miou=round(100 * r['miou'], 1), cut=cut, mean_segments=round(n, 1)))
        for name, (m, _) in maps.items():
            sub = dataclasses.replace(ds, items=[ds.items[i] for i in idx])
            pt = perturbation(model, sub, [{'m': g_} for g_ in m], 'm', block)
            extra.append(dict(dataset=label, method=name, **{f'{a}_{b}': round(d, 2) for (a, b), d in pt.items()}))
    write(rows, extra, losses, block, zs, epochs, len(images))
    figure(model, v, 5, block, ws).savefig(ROOT / 'nbs/images/ultra_w_maps.png', dpi=70)

def write(rows, extra, losses, block, zeta, epochs, n_train):
    lines = ["# ULTra_W, DeiT-tiny (real weights), `bench/ultra_w.py`", "",
             f"W trained on CamVid-val images 1-{n_train} (initial segmentation: ULTra_S, block {block}, zeta {zeta}); Adam, lr 0.01, "
             f"batch 32, {epochs} epochs, Gaussian noise delta 0.3 outside each segment. Reported on CamVid-val {n_train + 1}-101 and on the 14 VOC "
             f"images, at the same block; ULTra_W uses ULTra_S's zeta ({zeta}), ULTra_E its own from bench/segmentation.py. "
             "The 'k = clusters ULTra_S found' rows give ULTra_W, per image, as many clusters as ULTra_S found: they separate the maps from the cut.", "",
             "## Training (seconds on this CPU) and the self-consistency loss (eq. 11)", "",
             "held_out: CamVid-val images the W never saw; initial: the random vector training starts from.", ""]
    lines += table(losses)
    lines += ["", "## Segmentation", ""] + table(rows)
    lines += ["", "## Latent perturbation with each method's maps", "",
              "10 random tokens per image; the 50% most (pos) / least (neg) relevant other patches by that method's map, masked or noised; mean ‖z − z̃‖.", ""]
    lines += table(extra)
    save('ultra_w', rows, lines)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--epochs', type=int, default=10)
    main(p.parse_args().epochs)
