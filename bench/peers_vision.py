"""Image peers run from their own package (pytorch-grad-cam) against ULTra, scored by the package's own metrics.

DeiT-tiny (real weights). Class maps of every method (the package's attention, rollout, GAE, ULTra-CLS, TokenTM and
grad-cam's Grad-CAM, EigenCAM, LayerCAM, plus a random map) on VOC-14: localisation (pixAcc / mIoU / AP, the
baselines chapter's protocol), deletion and insertion AUC, ROAD; segmentation by Deep Feature Factorization against
ULTra_S at the same k per image (per-image Hungarian U.mIoU) on VOC-14 and CamVid-val. Stages, each resumable:

- maps:      (optional, not in the default run) ULTra_S grid maps (block from selection.json) on VOC-14 and CamVid-val ahead of
             seg, cached by selection.grid_map; seg and report make the maps they need on demand
- select:    DFF's block, chosen on the CamVid-train selection subset (selection.subset, 24 images), mean U.mIoU over k
- classmaps: per-image, per-method records on VOC-14
- seg:       per-image records of DFF and ULTra_S at k = 3, 5, 8
- report:    bench/results/peers_vision.{md,csv} and nbs/images/peers_vision.png

Per-image records are appended to bench/results/peers_vision_images.jsonl (committed), so a rerun skips them.

    python bench/peers_vision.py [--stage maps select classmaps seg report] [--camvid-limit 101] [--no-figure]
    python bench/peers_vision.py --figure-only    # the figure alone, at the stored choices (peers_vision_select.json)
"""
import argparse, json, time, warnings
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F
from selection import material, grid_map, load_selection, subset, boot_idx, N_S, ROOT
from ultra_nb.methods import Material, segment, image_score
from segmentation import table, save
from ultra_nb.inputs import load_image
from ultra_nb.baselines import METHODS, explain, localization
from ultra_nb.peers_vision import PEERS, cam_explain, dff_segments, EXTRA
from ultra_nb.image_faithfulness import image_faithfulness

torch.set_num_threads(1)
warnings.filterwarnings('ignore', module='sklearn')  # NMF's iteration-cap notices, one per call
RECORDS = ROOT / 'bench/results/peers_vision_images.jsonl'
SELECT = ROOT / 'bench/results/peers_vision_select.json'
KS = (3, 5, 8)  # the equal-granularity ks of bench/results/equal_granularity.md
CLASS_METHODS = METHODS + PEERS + ('random',)
SCORES = ('acc', 'miou', 'ap', 'deletion', 'insertion', 'road_morf', 'road_lerf', 'road', 'secs')
HIGHER = dict(acc=True, miou=True, ap=True, deletion=False, insertion=True, road_morf=False, road_lerf=True, road=True, secs=False)

def records():
    return [json.loads(l) for l in RECORDS.read_text().splitlines()] if RECORDS.exists() else []

def append(rec):
    with open(RECORDS, 'a') as f: f.write(json.dumps(rec) + '\n')

def key(r): return (r['kind'], r['dataset'], r['image'], r['method'], r.get('k'))

def image_id(ds, i): return Path(ds.items[i][0]).stem

def stage_maps(model, cv, vo, camvid_limit):
    sel, _ = load_selection()
    t0 = time.time()
    for ds, n in ((vo, len(vo)), (cv, min(camvid_limit, len(cv)))):
        for i in range(n):
            grid_map(model, ds, i, sel['block'], 'sum')
            print(f'{ds.name} {i + 1}/{n} ULTra_S maps, {time.time() - t0:.0f} s', flush=True)

def stage_select(model, tr):
    "DFF's block on the CamVid-train selection subset: mean per-image U.mIoU over k in KS."
    if SELECT.exists(): return json.loads(SELECT.read_text())
    idx, sweep, t0 = subset(tr, N_S), {}, time.time()
    for i in idx:
        x, gt = load_image(tr.image(i)), tr.label(i)
        for b in range(len(model.blocks)):
            for k in KS:
                lab = dff_segments(model, x, k, layer=model.blocks[b], size=gt.shape)[0].numpy()
                sweep.setdefault(f'{b}', {}).setdefault(f'{k}', []).append(image_score(lab, gt, len(tr.classes), tr.ignore)['miou'])
        print(f'select: image {len(sweep["0"]["3"])}/{len(idx)}, {time.time() - t0:.0f} s', flush=True)
    mean = {b: float(np.mean([np.mean(v) for v in ks.values()])) for b, ks in sweep.items()}
    best = int(max(mean, key=mean.get))
    out = dict(split=f'CamVid-train, selection.subset(seed 0), first {N_S} images (the subset the package presets came from)',
               criterion=f'mean over k in {list(KS)} of the mean per-image U.mIoU', block=best,
               sweep={b: {k: round(100 * float(np.mean(v)), 2) for k, v in ks.items()} for b, ks in sweep.items()})
    SELECT.write_text(json.dumps(out, indent=1) + '\n')
    return out

def up(m, size): return F.interpolate(m[None, None].float(), size=size, mode='bilinear', align_corners=False)[0, 0]

def stage_classmaps(model, vo):
    done = {key(r) for r in records()}
    t0 = time.time()
    for i in range(len(vo)):
        iid = image_id(vo, i)
        todo = [m for m in CLASS_METHODS if ('classmap', 'voc', iid, m, None) not in done]
        if not todo: continue
        x, gt = load_image(vo.image(i)), vo.label(i)
        for m in todo:
            t1 = time.time()
            if m in METHODS: pm = explain(model, x, [m], size=None)[m][0]
            elif m in PEERS: pm = cam_explain(model, x, [m], size=None)[m][0]
            else: pm = torch.rand(14, 14, generator=torch.Generator().manual_seed(i))
            secs = time.time() - t1
            r = localization(up(pm, gt.shape).numpy(), gt, vo.ignore)
            r.update(image_faithfulness(model, x, pm))
            append(dict(kind='classmap', dataset='voc', image=iid, method=m, secs=secs, **r))
        print(f'classmaps: image {i + 1}/{len(vo)}, {time.time() - t0:.0f} s', flush=True)

def stage_seg(model, datasets, block, dff_block):
    done = {key(r) for r in records()}
    t0 = time.time()
    for ds, n, name in datasets:
        for i in range(n):
            iid = image_id(ds, i)
            if all(('seg', name, iid, m, k) in done for m in ('ULTra_S', 'DFF') for k in KS): continue
            x, gt, src = load_image(ds.image(i)), ds.label(i), grid_map(model, ds, i, block, 'sum')
            for k in KS:
                s = image_score(segment('ULTra_S', Material(src), gt.shape, k=k), gt, len(ds.classes), ds.ignore)
                append(dict(kind='seg', dataset=name, image=iid, method='ULTra_S', k=k, miou=s['miou'], n=s['n']))
                s = image_score(dff_segments(model, x, k, layer=model.blocks[dff_block], size=gt.shape)[0].numpy(), gt, len(ds.classes), ds.ignore)
                append(dict(kind='seg', dataset=name, image=iid, method='DFF', k=k, miou=s['miou'], n=s['n']))
            print(f'seg {name}: image {i + 1}/{n}, {time.time() - t0:.0f} s', flush=True)

# ---------------------------------------------------------------- report
NAMES = dict(attention='raw attention', rollout='rollout', gae='GAE', ultra_cls='ULTra-CLS', tokentm='TokenTM',
             gradcam='Grad-CAM (grad-cam)', eigencam='EigenCAM (grad-cam)', layercam='LayerCAM (grad-cam)', random='random')

def ci(v, idx): return np.percentile(v[idx].mean(1), [2.5, 97.5])
def f1(v, idx, scale=100, d=1): lo, hi = ci(scale * v, idx); return f'{scale * v.mean():.{d}f} [{lo:.{d}f}, {hi:.{d}f}]'

def class_tables(recs):
    by = {}
    for r in recs:
        if r['kind'] == 'classmap': by.setdefault(r['method'], {})[r['image']] = r
    images = sorted(set.intersection(*(set(v) for v in by.values())))
    idx = boot_idx(len(images))
    V = {m: {s: np.array([by[m][i][s] for i in images]) for s in SCORES} for m in CLASS_METHODS if m in by}
    means, diffs = [], []
    for m, v in V.items():
        means.append(dict(method=NAMES[m], **{s: f1(v[s], idx, 1, 2) if s == 'secs' else f1(v[s], idx) for s in SCORES}))
        if m == 'ultra_cls': continue
        row = dict(method=NAMES[m])
        for s in SCORES[:-1]:
            d = 100 * (v[s] - V['ultra_cls'][s])
            lo, hi = ci(d, idx)
            better = (d > 1e-9) if HIGHER[s] else (d < -1e-9)
            row[s] = f'{d.mean():+.1f} [{lo:+.1f}, {hi:+.1f}] {int(better.sum())}/{len(d)}'
        diffs.append(row)
    return len(images), means, diffs, V, images

def seg_tables(recs):
    out = {}
    for r in recs:
        if r['kind'] == 'seg': out.setdefault(r['dataset'], {}).setdefault((r['method'], r['k']), {})[r['image']] = r
    rows = []
    for name, res in out.items():
        images = sorted(set.intersection(*(set(v) for v in res.values())))
        idx = boot_idx(len(images))
        for k in KS:
            u = np.array([res['ULTra_S', k][i]['miou'] for i in images]); d = np.array([res['DFF', k][i]['miou'] for i in images])
            nu = np.mean([res['ULTra_S', k][i]['n'] for i in images]); nd = np.mean([res['DFF', k][i]['n'] for i in images])
            diff = 100 * (u - d); lo, hi = ci(diff, idx)
            rows.append({'dataset': f'{name} ({len(images)} images)', 'k': k, 'ULTra_S miou [95% CI] (segments)': f'{f1(u, idx)} ({nu:.1f})',
                         'DFF miou [95% CI] (segments)': f'{f1(d, idx)} ({nd:.1f})',
                         'ULTra_S − DFF [95% CI]': f'{diff.mean():+.1f} [{lo:+.1f}, {hi:+.1f}]',
                         'ULTra_S wins/N': f'{int((diff > 1e-9).sum())}/{len(diff)}'})
    return rows

def figure(model, vo, block, dff_block, show=(3, 5, 11)):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from ultra_nb.maps import denormalize
    from ultra_nb.cluster import overlay
    cols = ['image', 'gae', 'ultra_cls', 'tokentm', *PEERS, 'DFF k=5', 'ULTra_S k=5']
    fig, axs = plt.subplots(len(show), len(cols), figsize=(1.8 * len(cols), 1.9 * len(show)))
    for row, i in zip(axs, show):
        x = load_image(vo.image(i)); rgb = denormalize(x[0])
        ex = {**explain(model, x, ['gae', 'ultra_cls', 'tokentm']), **cam_explain(model, x)}
        seg_d = dff_segments(model, x, 5, layer=model.blocks[dff_block])[0].numpy()
        seg_u = segment('ULTra_S', Material(grid_map(model, vo, i, block, 'sum')), (224, 224), k=5)
        for ax, c in zip(row, cols):
            if c == 'image': ax.imshow(rgb)
            elif c.startswith('DFF'): ax.imshow(overlay(rgb, seg_d))
            elif c.startswith('ULTra_S'): ax.imshow(overlay(rgb, seg_u))
            else: ax.imshow(rgb); ax.imshow(ex[c][0], cmap='jet', alpha=0.5)
            ax.set_title(NAMES.get(c, c).replace(' (grad-cam)', ''), fontsize=8); ax.axis('off')
    fig.tight_layout()
    fig.savefig(ROOT / 'nbs/images/peers_vision.png', dpi=70)

def stage_report(model, vo, sel_dff, block, camvid_n, args):
    recs = records()
    n, means, diffs, V, _ = class_tables(recs)
    seg = seg_tables(recs)
    L = ['# Vision peers from their own package against ULTra, DeiT-tiny (real weights), `bench/peers_vision.py`', '',
         f'Regenerate with `python bench/peers_vision.py` (resumable; every per-image record is in `bench/results/peers_vision_images.jsonl`). '
         f'Peers from pytorch-grad-cam 1.5.7 (`{EXTRA}`) through `ultra_nb.peers_vision`; metrics from `ultra_nb.baselines.localization` and '
         '`ultra_nb.image_faithfulness`. [lo, hi]: percentile bootstrap 95% interval over images (2000 resamples, seed 0).', '',
         '## Class maps on VOC-14', '',
         f'{n} VOC 2012 val images, each explained for DeiT-tiny\'s own top-1 ImageNet class; every map on the 14 × 14 patch grid. '
         'Grad-CAM / EigenCAM / LayerCAM: target layer `blocks[-1].norm1` and the ViT reshape, the package documentation\'s ViT recipe, '
         'chosen a priori (nothing tuned). All scores in % (secs: seconds per image for the map alone, one CPU thread, shared machine).', '',
         '- **acc / miou / ap**: map upsampled (bilinear) to the label, thresholded at its mean against the foreground (void ignored): '
         'pixel accuracy, 2-class mIoU, average precision (higher is better).',
         '- **deletion**: area under the top-1 class probability as the most relevant patches are set to 0, 0 to 100 % in 15 steps (lower is better). '
         '**insertion**: from a Gaussian-blurred image, most relevant patches put back first (higher is better).',
         '- **road_morf / road_lerf**: ROAD, removed patches filled by noisy linear imputation (σ 0.01), probability of the class averaged '
         'over 10 … 90 % removed, most / least relevant first (lower / higher is better); **road** = (LeRF − MoRF) / 2 (higher is better).', '']
    L += table(means)
    L += ['', f'### Paired differences: method − ULTra-CLS, same image', '',
          'Mean difference in points [95% CI], then the images on which the method is *better* than ULTra-CLS in that score\'s direction.', '']
    L += table(diffs)
    L += ['', '## Segmentation: Deep Feature Factorization against ULTra_S at the same k', '',
          f"Every image cut into the same k by both: ULTra_S (block {block}, f_s, the preset from `selection.json`, hierarchical clustering cut "
          f"at k clusters, eq. 6–7) and DFF (grad-cam's `DeepFeatureFactorization`, NMF with k concepts of one image's patch features at "
          f"block {sel_dff['block']}, each pixel labelled by its strongest concept). DFF's block was chosen on {sel_dff['split']}: "
          f"{sel_dff['criterion']} (sweep below). Per-image U.mIoU (Hungarian match in each image, `SegScore`), mean over images; "
          'segments = mean number actually produced. '
          f"CamVid-val: the first {camvid_n} of its 101 images{' (all)' if camvid_n == 101 else ' (a subset: the ULTra maps took longer than the session allowed)'}.", '']
    L += table(seg)
    L += ['', f"### DFF block sweep on the selection split (mean per-image U.mIoU, %, by 0-based block and k)", '',
          '| block | ' + ' | '.join(f'k={k}' for k in KS) + ' |', '|---|' + '---|' * len(KS)]
    L += [f"| {b} | " + ' | '.join(f"{v[str(k)]:.1f}" for k in KS) + ' |' for b, v in sel_dff['sweep'].items()]
    csv_rows = [dict(table='classmaps', **r) for r in means] + [dict(table='paired_vs_ultra_cls', **r) for r in diffs] + [dict(table='segmentation', **r) for r in seg]
    save('peers_vision', csv_rows, L)
    if not args.no_figure: figure(model, vo, block, sel_dff['block'])

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--stage', nargs='+', default=['select', 'classmaps', 'seg', 'report'])  # seg and report make missing maps on demand
    p.add_argument('--camvid-limit', type=int, default=101)
    p.add_argument('--no-figure', action='store_true')
    p.add_argument('--figure-only', action='store_true', help='only nbs/images/peers_vision.png (3 VOC images); records and tables left alone')
    a = p.parse_args()
    model, tr, cv, vo = material()
    sel, _ = load_selection()
    if a.figure_only: a.stage = []; figure(model, vo, sel['block'], stage_select(model, tr)['block'])  # DFF's block as stored
    if 'maps' in a.stage: stage_maps(model, cv, vo, a.camvid_limit)
    sel_dff = stage_select(model, tr) if {'select', 'seg', 'report'} & set(a.stage) else None
    if 'classmaps' in a.stage: stage_classmaps(model, vo)
    n_cv = min(a.camvid_limit, len(cv))
    if 'seg' in a.stage: stage_seg(model, [(vo, len(vo), 'voc'), (cv, n_cv, 'camvid-val')], sel['block'], sel_dff['block'])
    if 'report' in a.stage: stage_report(model, vo, sel_dff, sel['block'], n_cv, a)
