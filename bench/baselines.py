"""Class explanations side by side on real images: raw attention, rollout, GAE, ULTra on the CLS token, TokenTM, random.

DeiT-tiny (real weights, its ImageNet head), the predicted class of each image. Localization (TokenTM Table 1 protocol:
mean threshold against the foreground) on the 14 VOC images; faithfulness (positive / negative patch removal, area under
the top-1 agreement and class-probability curves) on VOC-14 and CamVid-101; CRATE-style best-head mIoU. Writes
bench/results/baselines.{csv,md} and nbs/images/class_maps.png.

    python bench/baselines.py [--camvid-limit N]
    python bench/baselines.py --figure-only    # class_maps.png only (3 VOC images), tables left alone
"""
import argparse, time
import numpy as np, torch, torch.nn.functional as F
from tqdm import tqdm
from ultra_nb.inputs import load_image
from ultra_nb.maps import denormalize
from ultra_nb.cluster import patch_vectors
from segmentation import ROOT, real_material, table, save
from ultra_nb.baselines import (METHODS, explain, head_maps, top_mass_mask, best_head_iou, pca_rgb, localization,
                                perturbation_curve)

ALL = METHODS + ('random',)
CLASS_MAPS = ROOT / 'nbs/images/class_maps.png'

def up(m, size): return F.interpolate(m[None, None], size=size, mode='bilinear', align_corners=False)[0, 0]

def run(model, ds, loc, g):
    "Per-image scores of every method on one dataset; localization and CRATE only where `loc` (VOC)."
    rows, heads, secs = {m: [] for m in ALL}, [], []
    for i in tqdm(range(len(ds)), desc=ds.name):
        x, gt = load_image(ds.image(i)), ds.label(i)
        t0 = time.time(); ex = explain(model, x, size=None); secs.append(time.time() - t0)
        ex['random'] = torch.rand(ex['gae'].shape, generator=g)
        for m in ALL:
            r = {}
            if loc: r.update(localization(up(ex[m][0], gt.shape).numpy(), gt, ds.ignore))
            for positive in (True, False):
                cur = perturbation_curve(model, x, ex[m][0], positive=positive)
                for k, v in cur.items(): r[f"{'pos' if positive else 'neg'}_{k}_auc"] = float(v.mean())
            rows[m].append(r)
        hm = F.interpolate(head_maps(model, x), size=gt.shape, mode='bilinear', align_corners=False)[0]
        heads += list(best_head_iou(top_mass_mask(hm), gt, ds.ignore, skip=(0,) if loc else ()).values())
    return rows, float(np.mean(heads)), float(np.mean(secs))

def figure(model, ds, show=(3, 5, 11)):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = ['image', *METHODS, 'best CRATE head', 'PCA of features']
    fig, axs = plt.subplots(len(show), len(cols), figsize=(1.9 * len(cols), 2.0 * len(show)))
    for row, i in zip(axs, show):
        x, gt = load_image(ds.image(i)), ds.label(i)
        rgb = denormalize(x[0])
        ex = explain(model, x)
        hm = head_maps(model, x)[0]
        gt224 = F.interpolate(torch.as_tensor(gt)[None, None].float(), size=(224, 224), mode='nearest')[0, 0].long().numpy()
        c = max(set(np.unique(gt224).tolist()) - {0, 255}, key=lambda c: (gt224 == c).sum())  # the largest object
        masks = top_mass_mask(F.interpolate(hm[None], size=(224, 224), mode='bilinear', align_corners=False)[0])
        best = max(range(len(hm)), key=lambda h: best_head_iou(masks[h:h + 1], gt224, skip=())[c])
        panels = [(rgb, 'image')] + [(ex[m][0], m) for m in METHODS] + [(up(hm[best], (224, 224)), f'head {best}')]
        panels.append((pca_rgb(patch_vectors(model, x)[0], (14, 14)), 'PCA'))
        for ax, (im, title) in zip(row, panels):
            if torch.is_tensor(im): ax.imshow(rgb); ax.imshow(im, cmap='jet', alpha=0.5)
            else: ax.imshow(im)
            ax.set_title(title, fontsize=8); ax.axis('off')
    fig.tight_layout()
    return fig

def main(camvid_limit):
    model, v, c = real_material('baselines.py', camvid_limit)
    g = torch.Generator().manual_seed(0)
    out, crate, secs = [], {}, {}
    for ds, loc in ((v, True), (c, False)):
        rows, crate[ds.name], secs[ds.name] = run(model, ds, loc, g)
        for m in ALL:
            mean = {k: round(100 * float(np.nanmean([r[k] for r in rows[m]])), 1) for k in rows[m][0]}
            out.append(dict(dataset=f'{ds.name}-{len(ds)}', method=m, **mean))
    write(out, crate, secs, len(v), len(c))
    figure(model, v).savefig(CLASS_MAPS, dpi=70)

def write(out, crate, secs, nv, nc):
    lines = ["# Class explanations side by side, DeiT-tiny (real weights), `bench/baselines.py`", "",
             "Each image explained for DeiT-tiny's own top-1 ImageNet class. All numbers in %, means over images.", "",
             "- **acc / miou / ap** (VOC only): the map thresholded at its mean against the foreground (all labelled classes but "
             "background, void ignored): pixel accuracy, mIoU of the two classes, average precision of the map values. Higher is better.",
             "- **pos_\\*_auc**: patches removed most relevant first, 10% to 90%; mean top-1 agreement with the unperturbed prediction "
             "(top1) and mean probability of that class (prob). Lower is better.",
             "- **neg_\\*_auc**: least relevant first. Higher is better.",
             "- **random**: a uniform random map (seed 0), the floor every method should clear.", ""]
    for ds in dict.fromkeys(r['dataset'] for r in out):
        lines += [f"## {ds}", ""] + table([{k: v for k, v in r.items() if k != 'dataset'} for r in out if r['dataset'] == ds]) + [""]
    lines += ["## CRATE-style heads and cost", "",
              f"Best head per class (last block's CLS attention per head, 60% of the mass kept; mIoU over image-class pairs): "
              f"VOC-{nv} object classes {100 * crate['voc']:.1f}, CamVid-{nc} all classes {100 * crate['camvid']:.1f}.", "",
              f"`explain` with all five methods (one forward, three backward passes): {secs['voc']:.2f} s per VOC image, "
              f"{secs['camvid']:.2f} s per CamVid image on this CPU."]
    save('baselines', out, lines)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--camvid-limit', type=int, default=101)
    p.add_argument('--figure-only', action='store_true', help='only class_maps.png (3 VOC images); the tables are left alone')
    a = p.parse_args()
    if a.figure_only:
        model, v, _ = real_material('baselines.py', 0); figure(model, v).savefig(CLASS_MAPS, dpi=70)
    else: main(a.camvid_limit)
