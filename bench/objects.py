"""Object discovery and object selection on object photos: ULTra's foreground rules against same-backbone peers.

DeiT-tiny (real weights). Stages (each resumable; maps cached under bench/out/objects/maps/<set>/<id>_b<block>.pt,
per-image records under bench/out/objects/records/):

- maps:    ULTra_S maps of every patch token, for the listed sets and blocks
- select:  each method's setting (block, rule, threshold) on seeded subsets of the TUNE halves only
- report:  horse-report, DAVIS-report and VOC-14 at the chosen settings, and the package's default (`Maps.foreground()`: the chosen rule
           with the objects preset's stricter bar in clutter and fallback, both chosen by bench/fg_switch.py): IoU / accuracy / max Fβ
           with bootstrap intervals and paired differences against the default; figure nbs/images/objects_masks.png

    python bench/objects.py maps --sets horse-tune davis-tune --n 16 --blocks 7 && python bench/objects.py maps --n 8 --blocks 9
    python bench/objects.py select
    python bench/objects.py maps --sets horse-report davis-report voc --blocks 9 --interleave   # the chosen block
    python bench/objects.py report [--only-maps]
"""
import argparse, json, sys, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
from scipy import ndimage
from ultra_nb.material import shared_dir
from ultra_nb.models import load_timm
from ultra_nb.hooks import family_of
from ultra_nb.api import as_images
from ultra_nb.objects import (FG_RULES, foreground_map, foreground_mask, select_mask, patch_keys, tokencut, lost, dsm, fg_scores,
                              upsample, cls_attention, attention_spread, prior_object)
from ultra_nb.presets import preset
from ultra_nb.cluster import minmax
from ultra_nb.baselines import explain, top_mass_mask

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'bench/out/objects'
SEED = 0

def material():
    "DeiT-tiny and ../shared, or exit saying why."
    sh = shared_dir()
    if sh is None: sys.exit("bench/objects.py needs ../shared (DeiT-tiny weights, Weizmann horses, DAVIS-2016, VOC-14)")
    return load_timm('deit_tiny_patch16_224', sh / 'models/deit_tiny_patch16_224.pth'), sh

def items(sh, name, n=None) -> list:
    "[(id, image path, mask path)] of a set: horse-tune/-report, davis-tune/-report, voc (the first `n` of a seeded permutation)."
    if name == 'voc':
        d = sh / 'data/voc2012-val-14'
        ids = d.joinpath('val.txt').read_text().split()
        out = [(i, d / f'JPEGImages/{i}.jpg', d / f'SegmentationClass/{i}.png') for i in ids]
    else:
        ds, split = name.split('-')
        d = sh / 'data' / {'horse': 'weizmann-horse', 'davis': 'davis2016-val'}[ds]
        ids = d.joinpath(f'splits/{split}.txt').read_text().split()
        out = [(i, d / f'images/{i}.jpg', d / f'masks/{i}.png') for i in ids]
    if n is not None and n < len(out): out = [out[j] for j in sorted(np.random.default_rng(SEED).permutation(len(out))[:n])]
    return out

def map_path(name, i, block): return OUT / 'maps' / name.split('-')[0] / f'{i}_b{block}.pt'
def cls_path(name, i, block): return OUT / 'maps' / name.split('-')[0] / f'{i}_b{block}_cls.pt'

def stage_maps(args):
    from ultra_nb.maps import ultra_maps
    model, sh = material(); fam = family_of(model)
    todo = [(name, i, p, b) for b in args.blocks for name in args.sets for i, p, _ in items(sh, name, args.n)]
    if args.interleave:  # round robin over the sets, each in a seeded random order: whatever part finishes is a random subset of each
        per = [[t for t in todo if t[0] == name] for name in args.sets]
        per = [[q[j] for j in np.random.default_rng(SEED).permutation(len(q))] for q in per]
        todo = [q[j] for j in range(max(map(len, per))) for q in per if j < len(q)]
    done = 0
    for name, i, p, b in todo:
        out, oc = map_path(name, i, b), cls_path(name, i, b)
        if out.exists() and oc.exists(): continue
        t = time.time()
        x, _ = as_images(p, fam)  # the CLS token's map too (target 0): one more row of the same passes
        m = ultra_maps(model, x, tokens=torch.arange(fam.prefix + 196), block=b, size=None)[0].half()
        out.parent.mkdir(parents=True, exist_ok=True)
        for f, v in ((oc, m[0]), (out, m[fam.prefix:])): torch.save(v.clone(), f.with_suffix('.tmp')); f.with_suffix('.tmp').rename(f)
        done += 1
        print(f'{time.strftime("%H:%M:%S")} {name} {i} block {b}: {time.time() - t:.1f} s ({done} new)', flush=True)

# ---- scoring: every method's (mask, soft) for one image at the ground truth's size
ULTRA_BLOCKS, PEER_BLOCKS = (7,), (5, 7, 9, 11)  # ULTra at the block its maps are made at by default (the photos preset's)
PRIOR_BLOCKS, PRIOR_KS, PRIOR_CS, PRIOR_METHODS = (8, 9, 10, 11), (12, 20, 30, 40), (0.75, 1.0), ('ward', 'average')
PRIOR_BOUNDS = (None, 0.8, 0.9, 0.95)  # 'prior' kept inside the fewest patches holding this share of the CLS attention (issue 32: DAVIS masks too large)
TAUS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
SEL_TAUS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
XIS = (0.4, 0.6, 0.8, 0.9)
N_TUNE = 40

def ground_truth(name, path):
    "(object mask, valid pixels): 0/255 masks, or VOC classes (object = any class, void 255 not scored)."
    g = np.array(Image.open(path))
    if name == 'voc': return (g > 0) & (g != 255), g != 255
    return g > 127, None

def click(gt, grid=(14, 14)) -> int:
    "The patch deepest inside the object (largest distance to its outline on the patch grid): a user's click."
    t = torch.nn.functional.interpolate(torch.tensor(gt[None, None], dtype=torch.float32), size=grid, mode='area')[0, 0].numpy() > 0.5
    if not t.any(): t = torch.nn.functional.interpolate(torch.tensor(gt[None, None], dtype=torch.float32), size=grid, mode='area')[0, 0].numpy() == \
        torch.nn.functional.interpolate(torch.tensor(gt[None, None], dtype=torch.float32), size=grid, mode='area')[0, 0].numpy().max()
    return int(ndimage.distance_transform_edt(np.pad(t, 1))[1:-1, 1:-1].argmax())

SEED_TAUS = (0.1, 0.15, 0.2, 0.3)

def priors(model, x) -> dict:
    "{block: (P,) CLS attention to the patches} for the 'prior' rule's candidate blocks."
    return {b: cls_attention(model, x, b)[0] for b in PRIOR_BLOCKS}

def ultra_candidates(G, size, blocks_tag, pri=None):
    "{(method, setting): (mask, soft)} of ULTra's foreground rules on one image's maps G (T, h, w); 'prior' with the priors `pri`."
    out = {}
    for b, a in (pri or {}).items():
        for m in PRIOR_METHODS:
            for k in PRIOR_KS:
                for c in PRIOR_CS:
                    for bd in PRIOR_BOUNDS:
                        out['ULTra-prior', f'{blocks_tag} prior {b} k {k} c {c} {m}' + (f' bound {bd}' if bd else '')] = foreground_mask(
                            foreground_map(G, 'prior', prior=a, k=k, c=c, method=m, bound=bd), 'prior', size)
    for rule in FG_RULES:
        if rule == 'prior': continue
        for tau in {'mass': TAUS, 'seed': SEED_TAUS}.get(rule, (None,)):
            out[f'ULTra-{rule}', f'{blocks_tag} tau {tau}' if tau is not None else blocks_tag] = foreground_mask(foreground_map(G, rule, tau), rule, size, tau)
    return out

def peer_candidates(model, x, size, blocks=PEER_BLOCKS, grid=(14, 14), tc_taus=(0.1, 0.2, 0.3), ks=(50, 100), xis=XIS):
    "{(method, setting): (mask, soft)} of the peers (soft None: a mask only)."
    out = {}
    for b in blocks:
        keys, cls = patch_keys(model, x, b)
        k = keys[0]
        for t in tc_taus: out['TokenCut', f'block {b} tau {t}'] = (foreground_mask(tokencut(k, grid, t), 'tokencut', size)[0], None)
        for kk in ks: out['LOST', f'block {b} k {kk}'] = (foreground_mask(lost(k, grid, kk), 'lost', size)[0], None)
        out['DSM', f'block {b}'] = foreground_mask(dsm(k, grid), 'dsm', size)
        up = upsample(cls[0].reshape(grid), size).clamp_min(0)
        for xi in xis: out['CLS-mass', f'block {b} xi {xi}'] = (top_mass_mask(up, xi).numpy(), minmax(up.flatten()).reshape(size).numpy())
    ex = explain(model, x, methods=('rollout', 'gae'), size=None)
    for m, name in (('rollout', 'Rollout'), ('gae', 'GAE')):
        up = upsample(ex[m][0], size).clamp_min(0)
        for xi in xis: out[name, f'xi {xi}'] = (top_mass_mask(up, xi).numpy(), minmax(up.flatten()).reshape(size).numpy())
    return out

def score_all(cands, gt, valid):
    return {k: fg_scores(np.asarray(m), gt, None if s is None else np.asarray(s), valid) for k, (m, s) in cands.items()}

def stage_select(args):
    "Every candidate setting on the tune subsets; each method's best by mean IoU (the two sets weighted equally)."
    model, sh = material(); fam = family_of(model)
    rec = OUT / 'records/tune.jsonl'; rec.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(l)['id'] for l in rec.open()} if rec.exists() else set()
    with rec.open('a') as f:
        for name in ('horse-tune', 'davis-tune'):
            for i, ip, mp in items(sh, name, N_TUNE):
                have = [b for b in ULTRA_BLOCKS if map_path(name, i, b).exists()]
                key = f'{i}|' + ','.join(map(str, have))
                if key in done: continue
                gt, valid = ground_truth(name, mp); size = gt.shape
                x, _ = as_images(ip, fam)
                cands = peer_candidates(model, x, size)
                sel, pri = {}, priors(model, x)
                for b in have:
                    G = torch.load(map_path(name, i, b)).double()
                    cands |= ultra_candidates(G, size, f'block {b}', pri)
                    c = click(gt)
                    for t in SEL_TAUS: sel[f'block {b} tau {t}'] = fg_scores(select_mask(G[c], t, size).numpy(), gt, None, valid)['iou']
                r = dict(id=key, set=name, scores={f'{m}|{s}': v for (m, s), v in score_all(cands, gt, valid).items()}, select=sel)
                f.write(json.dumps(r) + '\n'); f.flush()
                print(f'{time.strftime("%H:%M:%S")} tune {name} {i} blocks {have}', flush=True)
    rows = {}
    for l in rec.open():
        r = json.loads(l)
        rows[r['id'].split('|')[0]] = r  # the latest record of an image (with the most blocks)
    paths = {i: (name, ip, mp) for name in ('horse-tune', 'davis-tune') for i, ip, mp in items(sh, name, N_TUNE)}
    for i, r in rows.items():  # ULTra's rules again from the cached maps (cheap): rules added later are scored too
        name, ip, mp = paths[i]
        gt, valid = ground_truth(name, mp)
        pri = priors(model, as_images(ip, fam)[0])
        r['scores'] = {k: v for k, v in r['scores'].items() if not k.startswith('ULTra')}
        for b in ULTRA_BLOCKS:
            if map_path(name, i, b).exists():
                G = torch.load(map_path(name, i, b)).double()
                r['scores'] |= {f'{m}|{s_}': v for (m, s_), v in score_all(ultra_candidates(G, gt.shape, f'block {b}', pri), gt, valid).items()}
    sel = choose(list(rows.values()))
    sel['zeta'], sel['zeta_table'] = choose_zeta(sh, sel['block'])
    print('segmentation cut for the objects preset:', sel['zeta'], sel['zeta_table'])
    for f in (OUT / 'selection.json', ROOT / 'bench/results/objects_selection.json'): f.write_text(json.dumps(sel, indent=1))

ZETAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

def best_segment_iou(seg, gt) -> float:
    "The object IoU of the segment that covers it best: one segment for the whole image scores only the object's share of the image."
    return max(((seg == c) & gt).sum() / max(((seg == c) | gt).sum(), 1) for c in np.unique(seg))

def choose_zeta(sh, block):
    """The segmentation cut ζ for object photos on the tune images with maps at `block`: the mean object IoU of the best segment
    (a criterion one segment cannot win, unlike U.mIoU over {background, object}, which chose ζ 0.9 and one segment per image)."""
    from ultra_nb.cluster import cluster_tokens, segment_from_clusters
    res = {}
    for name in ('horse-tune', 'davis-tune'):
        for i, _, mp in items(sh, name, N_TUNE):
            if not map_path(name, i, block).exists(): continue
            G = torch.load(map_path(name, i, block)).double(); gt, _ = ground_truth(name, mp)
            for z in ZETAS:
                seg = segment_from_clusters(G, cluster_tokens(G, zeta=z), size=gt.shape).numpy()
                res.setdefault(z, {}).setdefault(name, []).append((best_segment_iou(seg, gt), len(np.unique(seg))))
    table = {z: float(np.mean([np.mean([v[0] for v in vs]) for vs in d.values()])) for z, d in res.items()}
    segs = {z: float(np.mean([v[1] for vs in d.values() for v in vs])) for z, d in res.items()}
    print('zeta: best-segment object IoU', table, 'segments', segs)
    return max(table, key=table.get), dict(iou=table, segments=segs)

def _mean_by_set(recs, get):
    "Mean over images of each set, then over sets; None when a set has no value."
    per = []
    for name in ('horse-tune', 'davis-tune'):
        v = [get(r) for r in recs if r['set'] == name and get(r) is not None]
        if not v: return None, 0
        per.append(np.mean(v))
    return float(np.mean(per)), sum(1 for r in recs if get(r) is not None)

def choose(recs):
    "Each method's setting with the best mean IoU on the tune subsets; ULTra's block compared on the images that have both blocks."
    keys = sorted({k for r in recs for k in r['scores']})
    table, best = [], {}
    for k in keys:
        m, s = k.split('|')
        mean, n = _mean_by_set(recs, lambda r: r['scores'].get(k, {}).get('iou'))
        table.append((m, s, mean, n))
    both = [r for r in recs if all(f'block {b}' in ' '.join(r['scores']) for b in ULTRA_BLOCKS)]
    for m in sorted({t[0] for t in table}):
        cands = [t for t in table if t[0] == m and t[2] is not None]
        if m.startswith('ULTra'):  # the block on the images that have every block's maps, then the setting at that block
            by_block = {b: max((_mean_by_set(both, lambda r: r['scores'].get(f'{m}|{t[1]}', {}).get('iou'))[0] or -1, t[1])
                               for t in cands if t[1].startswith(f'block {b}')) for b in ULTRA_BLOCKS}
            b = max(by_block, key=lambda b: by_block[b][0])
            cands = [t for t in cands if t[1].startswith(f'block {b}')]
        best[m] = max(cands, key=lambda t: t[2])[1]
    sel = {}
    for b in ULTRA_BLOCKS:
        for t in SEL_TAUS: sel[f'block {b} tau {t}'] = _mean_by_set(recs, lambda r: r['select'].get(f'block {b} tau {t}'))
    fg = max([m for m in best if m.startswith('ULTra')], key=lambda m: dict(((t[0], t[1]), t[2]) for t in table)[m, best[m]])
    fg_block = int(best[fg].split()[1])
    sel_tau = max([k for k in sel if k.startswith(f'block {fg_block} ') and sel[k][0] is not None], key=lambda k: sel[k][0])
    out = dict(best=best, ultra_rule=fg, select_tau=float(sel_tau.split()[-1]), block=fg_block,
               n_tune={name: sum(r['set'] == name for r in recs) for name in ('horse-tune', 'davis-tune')},
               table=[list(t) for t in table], select=sel)
    for t in table: print(f'{t[0]:10s} {t[1]:24s} {"-" if t[2] is None else f"{100 * t[2]:.1f}":>6s} n={t[3]}')
    for k, v in sel.items(): print('select', k, v)
    print('chosen:', json.dumps(best, indent=1), 'ULTra rule', fg, 'select tau', out['select_tau'])
    return out

# ---- report
REPORT_SETS = ('horse-report', 'davis-report', 'voc')
LABEL = {'horse-report': 'Weizmann horses, report half', 'davis-report': 'DAVIS-2016 val, report half (by video)', 'voc': 'VOC-14 (object classes vs background)'}

DEFAULT = 'ULTra default'

def default_mask(model, x, size, G) -> tuple:
    "(mask, soft) of `Maps.foreground()` with no arguments on DeiT-tiny: the objects preset's 'prior' rule, its stricter bar where the last-block attention spreads, its fallback."
    pre = preset('vision', 'objects')
    a, last = (t[0] for t in cls_attention(model, x, (pre.prior_block, -1)))
    return foreground_mask(prior_object(G, a, **pre.prior_kw_at(attention_spread(last)))[0], 'prior', size)

def chosen_candidates(model, x, size, G, sel):
    "{method: (mask, soft)} of every method at its tune-chosen setting; ULTra's only when its maps G exist."
    out, grid = {}, (14, 14)
    for m, setting in sel['best'].items():
        w = setting.split()
        if m.startswith('ULTra'):
            if G is None or m not in (sel['ultra_rule'], 'ULTra-seed'): continue  # the chosen rule, and the seed rule it replaced
            rule = m.split('-')[1]
            if rule == 'prior':  # 'block 7 prior 9 k 30 c 0.75 ward[ bound 0.95]'
                a = cls_attention(model, x, int(w[3]))[0]
                bd = float(w[10]) if len(w) > 10 else None
                out['ULTra prior'] = foreground_mask(foreground_map(G, 'prior', prior=a, k=int(w[5]), c=float(w[7]), method=w[8], bound=bd), 'prior', size)
                out[DEFAULT] = default_mask(model, x, size, G)
                continue
            tau = float(w[-1]) if 'tau' in w else None
            out['ULTra ' + rule] = foreground_mask(foreground_map(G, rule, tau), rule, size, tau)
            continue
        if m in ('Rollout', 'GAE'):
            up = upsample(explain(model, x, methods=(m.lower(),), size=None)[m.lower()][0], size).clamp_min(0)
            out[m] = (top_mass_mask(up, float(w[-1])).numpy(), minmax(up.flatten()).reshape(size).numpy())
            continue
        keys, cls = patch_keys(model, x, int(w[1]))
        k = keys[0]
        if m == 'TokenCut': out[m] = (foreground_mask(tokencut(k, grid, float(w[-1])), 'tokencut', size)[0], None)
        elif m == 'LOST': out[m] = (foreground_mask(lost(k, grid, int(w[-1])), 'lost', size)[0], None)
        elif m == 'DSM': out[m] = foreground_mask(dsm(k, grid), 'dsm', size)
        elif m == 'CLS-mass':
            up = upsample(cls[0].reshape(grid), size).clamp_min(0)
            out[m] = (top_mass_mask(up, float(w[-1])).numpy(), minmax(up.flatten()).reshape(size).numpy())
    return out

def stage_report(args):
    model, sh = material(); fam = family_of(model)
    sel = json.loads((OUT / 'selection.json').read_text())
    b = sel['block']
    rec = OUT / 'records/report.jsonl'; rec.parent.mkdir(parents=True, exist_ok=True)
    old = {json.loads(l)['id']: json.loads(l) for l in rec.open()} if rec.exists() else {}
    with rec.open('a') as f:
        for name in REPORT_SETS:
            for i, ip, mp in items(sh, name):
                have = map_path(name, i, b).exists()
                key = f'{name}|{i}|{int(have)}'
                if args.rescore_ultra and have and key in old and old[key].get('rule') != sel['best'][sel['ultra_rule']]:
                    old.pop(key); old[f'{name}|{i}|0'] = old.get(f'{name}|{i}|1')  # the peers' scores stay; ULTra's are computed again at the new setting
                if key in old and have and DEFAULT not in old[key]['scores']:  # a record from before the default was scored: add it
                    gt, valid = ground_truth(name, mp)
                    m_, s_ = default_mask(model, as_images(ip, fam)[0], gt.shape, torch.load(map_path(name, i, b)).double())
                    r = old[key]; r['scores'][DEFAULT] = fg_scores(np.asarray(m_), gt, np.asarray(s_), valid)
                    f.write(json.dumps(r) + '\n'); f.flush()
                    continue
                if key in old or (args.only_maps and not have): continue
                gt, valid = ground_truth(name, mp); size = gt.shape
                x, _ = as_images(ip, fam)
                G = torch.load(map_path(name, i, b)).double() if have else None
                peers = old.get(f'{name}|{i}|0')  # the peers were scored before the maps came: score ULTra only
                sub = dict(best={m: v for m, v in sel['best'].items() if m.startswith('ULTra')}, ultra_rule=sel['ultra_rule']) if peers else sel
                sc = {k: fg_scores(np.asarray(m_), gt, None if s_ is None else np.asarray(s_), valid) for k, (m_, s_) in chosen_candidates(model, x, size, G, sub).items()}
                if peers: sc = peers['scores'] | sc
                if G is not None:
                    sc['ULTra select (click)'] = fg_scores(select_mask(G[click(gt)], sel['select_tau'], size).numpy(), gt, None, valid)
                f.write(json.dumps(dict(id=key, set=name, image=i, ultra=have, scores=sc, rule=sel['best'][sel['ultra_rule']])) + '\n'); f.flush()
                print(f'{time.strftime("%H:%M:%S")} report {name} {i} ultra {have}', flush=True)
    write_report(sel)

def boot(v, n=2000, seed=SEED):
    "Mean and percentile bootstrap 95% interval over images."
    v = np.asarray(v, float)
    if len(v) < 2: return float(np.mean(v)) if len(v) else float('nan'), float('nan'), float('nan')
    means = v[np.random.default_rng(seed).integers(0, len(v), (n, len(v)))].mean(1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))

def fmt(t, scale=100): return f'{scale * t[0]:.1f} [{scale * t[1]:.1f}, {scale * t[2]:.1f}]'

def write_report(sel):
    recs = {}
    for l in (OUT / 'records/report.jsonl').open():
        r = json.loads(l)
        k = (r['set'], r['image'])
        if k not in recs or r['ultra']: recs[k] = r  # the record with ULTra's maps when there is one
    recs = list(recs.values())
    rule = f"ULTra {sel['ultra_rule'].split('-')[1]}"
    ultra = DEFAULT if all(DEFAULT in r['scores'] for r in recs if r['ultra']) else rule  # the reference: the package's default once every record has it
    methods = ([DEFAULT] if ultra == DEFAULT else []) + [rule, "ULTra select (click)"] + (["ULTra seed"] if rule != "ULTra seed" else [])
    methods += [m for m in ('TokenCut', 'LOST', 'DSM', 'CLS-mass', 'Rollout', 'GAE') if m in sel['best']]
    L = ['# Object discovery and object selection on object photos (issue 22)', '',
         f"DeiT-tiny (real weights, supervised ImageNet-1k), one 224x224 view per image; masks scored at each image's original size. "
         f"Generated by `python bench/objects.py report` from the per-image records in bench/out/objects/records/ "
         f"(maps of every token cached in bench/out/objects/maps/).", '',
         '## Settings, chosen on the tune halves only', '',
         f"Seeded subsets of the tune halves (numpy default_rng(0) permutation, first {N_TUNE} images of each: "
         f"{sel['n_tune']['horse-tune']} Weizmann-horse tune, {sel['n_tune']['davis-tune']} DAVIS tune; ULTra's maps at block {sel['block']}, the block "
         "the default maps are made at, so the rule is chosen on the maps it will run on; all 196 maps of one image take about 6 s on one core here). "
         "Criterion: mean IoU, the two sets weighted equally. A subset, not the full tune halves: said here because it is.", '',
         '| method | chosen setting | candidates |', '|---|---|---|']
    cand = {}
    for m, s_, mean, n in sel['table']: cand.setdefault(m, []).append(s_)
    for m, s_ in sel['best'].items(): L.append(f"| {m} | {s_} | {len(cand[m])} |")
    L += ['', f"ULTra's discovery rule: **{sel['ultra_rule']}** at block {sel['block']}; object selection τ = **{sel['select_tau']}** "
          f"(click = the patch deepest inside the object; τ in {list(SEL_TAUS)}).", '']
    if ultra == DEFAULT:
        o = preset('vision', 'objects')
        L += [f"**{DEFAULT}** is what `Maps.foreground()` gives with no arguments: that rule, with a bar of {o.fg_c_cluttered} instead of {o.fg_c} where the "
              f"CLS token's last-block attention spreads more than {o.cluttered_above} (`objects.attention_spread`), and the attention's own object "
              f"(its top {o.fg_mass} of mass) where the clusters hold less than {o.fg_held} of it (`objects.prior_object`); `python bench/fg_switch.py` "
              "chose both on every tune image (`fg_switch.md`).", '']
    L += ['## Results', '', 'Per set: mean over images with a bootstrap 95% interval (2000 resamples over images). IoU of the object, '
          'pixel accuracy, max Fβ (β² = 0.3; the best Fβ over 255 thresholds of the soft map, or the Fβ of the mask for TokenCut and LOST, '
          'which give only a mask). "ULTra select (click)" is not discovery: it thresholds the map of one token inside the object '
          '(an oracle click, the patch deepest inside the ground truth) — what `Maps.select` does for a user who points at the object.', '']
    for name in REPORT_SETS:
        rs = [r for r in recs if r['set'] == name]
        ru = [r for r in rs if r['ultra']]
        if not rs: continue
        total = len(items(shared_dir(), name))
        L += [f"### {LABEL[name]}: ULTra on {len(ru)} of {total} images", '',
              (f"All methods on all {total} images of the set. " if len(ru) == total else f"All methods on the same {len(ru)} images (a seeded random subset of the set: "
               "the maps job ran in a seeded shuffled order until the deadline). ") + f"Paired: method − {ultra}, IoU points, 95% interval.", '',
              f'| method | IoU | accuracy | max Fβ | paired ΔIoU vs {ultra} |', '|---|---|---|---|---|']
        for m in methods:
            v = [r['scores'][m] for r in ru if m in r['scores']]
            if not v: continue
            d = '' if m == ultra else fmt(boot([r['scores'][m]['iou'] - r['scores'][ultra]['iou'] for r in ru]))
            L.append(f"| {m} | {fmt(boot([x['iou'] for x in v]))} | {fmt(boot([x['acc'] for x in v]))} | {fmt(boot([x['fbeta'] for x in v]))} | {d} |")
        if name.startswith('davis') and 'CLS-mass' in methods:  # frames come in videos: where does the gap come from?
            vid = lambda r: r['image'].rsplit('_', 1)[0]
            per = {v: [r for r in ru if vid(r) == v] for v in sorted({vid(r) for r in ru})}
            d = {v: float(np.mean([r['scores']['CLS-mass']['iou'] - r['scores'][ultra]['iou'] for r in rv])) for v, rv in per.items()}
            worst = max(d, key=d.get)
            rest = [r['scores']['CLS-mass']['iou'] - r['scores'][ultra]['iou'] for r in ru if vid(r) != worst]
            L += ['', f"Per video (the halves split DAVIS by video, so its frames come in {len(per)} videos): mean IoU and the mean paired difference.", '',
                  f'| video | frames | {ultra} | CLS-mass | CLS-mass − {ultra} |', '|---|---|---|---|---|']
            L += [f"| {v} | {len(per[v])} | {100 * np.mean([r['scores'][ultra]['iou'] for r in per[v]]):.1f} | "
                  f"{100 * np.mean([r['scores']['CLS-mass']['iou'] for r in per[v]]):.1f} | {100 * d[v]:+.1f} |" for v in sorted(per, key=d.get)]
            L += ['', f"{ultra} is ahead of or level with CLS-mass (within 0.5) on {sum(x <= 0.005 for x in d.values())} of {len(per)} videos"
                  + (f"; the set's gap is one video's: on {worst} ({len(per[worst])} frames) CLS-mass leads by {100 * d[worst]:.1f}, and without it the "
                     f"paired difference is {fmt(boot(rest))} (an observation about the report half, not a setting: nothing was chosen from it)." if d[worst] > 0.005 else ".")]
        if len(rs) > len(ru):
            L += ['', f"Peers on all {len(rs)} scored images of the set (no ULTra maps for the rest):", '', '| method | IoU | accuracy | max Fβ |', '|---|---|---|---|']
            for m in [m for m in methods if not m.startswith("ULTra")]:
                v = [r['scores'][m] for r in rs]
                L.append(f"| {m} | {fmt(boot([x['iou'] for x in v]))} | {fmt(boot([x['acc'] for x in v]))} | {fmt(boot([x['fbeta'] for x in v]))} |")
        L.append('')
    L += ['![Masks of every method on 6 report images](../../nbs/images/objects_masks.png)', '',
          'Figure: `nbs/images/objects_masks.png` — the first 3 horse-report and 3 DAVIS-report images with ULTra maps (in the seeded order the '
          'maps job ran), ground truth outlined in yellow on the image, each method\'s mask in white.', '']
    (ROOT / 'bench/results/objects.md').write_text('\n'.join(L) + '\n')
    print('\n'.join(L))
    figure(sel)

def figure(sel, n_each=3):
    "Masks of every method on the first `n_each` horse-report and DAVIS-report images that have ULTra maps: nbs/images/objects_masks.png."
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    model, sh = material(); fam = family_of(model); b = sel['block']
    order = {name: [items(sh, name)[j] for j in np.random.default_rng(SEED).permutation(len(items(sh, name)))] for name in REPORT_SETS[:2]}
    rows = [(name, it) for name in REPORT_SETS[:2] for it in [it for it in order[name] if map_path(name, it[0], b).exists()][:n_each]]
    cols = None
    fig = None
    for r, (name, (i, ip, mp)) in enumerate(rows):
        gt, valid = ground_truth(name, mp); size = gt.shape
        x, _ = as_images(ip, fam)
        G = torch.load(map_path(name, i, b)).double()
        c = chosen_candidates(model, x, size, G, sel)
        c['ULTra select (click)'] = (select_mask(G[click(gt)], sel['select_tau'], size).numpy(), None)
        if fig is None:
            cols = list(c)
            fig, axs = plt.subplots(len(rows), len(cols) + 1, figsize=(1.9 * (len(cols) + 1), 1.5 * len(rows)), squeeze=False)
        rgb = np.asarray(Image.open(ip).convert('RGB'))
        axs[r, 0].imshow(rgb); axs[r, 0].contour(gt, levels=[0.5], colors='yellow', linewidths=0.8)
        for j, m in enumerate(cols):
            mk = np.asarray(c[m][0], bool)
            axs[r, j + 1].imshow(mk, cmap='gray', vmin=0, vmax=1)
            axs[r, j + 1].set_xlabel(f"IoU {fg_scores(mk, gt, None, valid)['iou']:.2f}", fontsize=7)
            if r == 0: axs[r, j + 1].set_title(m.replace(' (click)', '\n(click)'), fontsize=8)
        if r == 0: axs[r, 0].set_title('image, ground truth', fontsize=8)
    for a in axs.flat: a.set_xticks([]); a.set_yticks([])
    fig.tight_layout()
    fig.savefig(ROOT / 'nbs/images/objects_masks.png', dpi=70)

def stage_lost_check(args, n=6):
    """LOST step by step against the paper (Siméoni et al. 2021, §3.1) on the first `n` horse-report images, at its tune-chosen block and
    at the last block: the share of positive key correlations, the seed's degree and place (on the object or not), the seed set's size,
    the votes' positive share and the mask's -> bench/results/lost_check.md."""
    model, sh = material(); fam = family_of(model)
    sel = json.loads((OUT / 'selection.json').read_text())
    w = sel['best']['LOST'].split()
    L = ['# LOST checked step by step (issue 32, item 4)', '', f"`python bench/objects.py lost-check`: DeiT-tiny, the first {n} Weizmann-horse report images; "
         f"LOST at its tune-chosen setting ({sel['best']['LOST']}) and at the last block (the paper's choice for DINO). Steps as the paper gives them: "
         "A = K Kᵀ over the patch keys; degree d_p = #{q: A_pq ≥ 0}; seed p* = argmin d; seed set S = the k lowest-degree patches positively "
         "correlated with p*; vote m_q = Σ_{s∈S} A_qs; mask = the connected component of {m > 0} holding p*. The code (`ultra_nb.objects.lost`) "
         "computes each step and its mask is compared with this transcription.", '',
         '| image | block | k | positive pairs | seed degree (of 196) | seed on the horse | S | votes > 0 | mask | horse | IoU | same as `lost` |', '|---|---|---|---|---|---|---|---|---|---|---|---|']
    st = []
    for i, ip, mp in items(sh, 'horse-report')[:n]:
        gt, _ = ground_truth('horse-report', mp)
        g14 = torch.nn.functional.interpolate(torch.tensor(gt[None, None], dtype=torch.float32), size=(14, 14), mode='area')[0, 0].numpy() > 0.5
        x, _ = as_images(ip, fam)
        for b, k in ((int(w[1]), int(w[3])), (11, int(w[3]))):
            K = patch_keys(model, x, b)[0][0].double()
            A = (K @ K.T).numpy()
            deg = (A >= 0).sum(1)
            seed = int(np.argmin(deg))
            low = np.argsort(deg, kind='stable')[:k]
            S = low[A[seed, low] > 0]
            vote = A[S].sum(0).reshape(14, 14)
            lab, _ = ndimage.label(vote > 0)
            mask = lab == lab.flat[seed] if lab.flat[seed] else vote > 0
            code = lost(K, (14, 14), k).numpy() > 0.5
            up = foreground_mask(torch.from_numpy(mask.astype(np.float64)), 'lost', gt.shape)[0]
            L.append(f"| {i} | {b} | {k} | {100 * (A >= 0).mean():.0f}% | {deg[seed]} | {'yes' if g14.flat[seed] else 'no'} | {len(S)} | {100 * (vote > 0).mean():.0f}% | "
                     f"{100 * mask.mean():.0f}% | {100 * g14.mean():.0f}% | {fg_scores(up, gt)['iou']:.2f} | {'yes' if (code == mask).all() else 'NO'} |")
            st.append((b, (A >= 0).mean(), mask.mean(), (code == mask).all()))
    pos, same = [v[1] for v in st], all(v[3] for v in st)
    L += ['', f"The code's mask equals the transcription's on {'every' if same else 'NOT every'} row. What the rows show: {100 * min(pos):.0f}–{100 * max(pos):.0f}% "
          "of all key pairs correlate positively on this supervised backbone (LOST was built on self-supervised DINO keys; no DINO weights are here to check it there), so "
          f"at block {w[1]} even the least-connected patch is positively correlated with most of the image and the seed set's votes are positive almost "
          f"everywhere (mean mask {100 * np.mean([v[2] for v in st if v[0] == int(w[1])]):.0f}% of the image), while at the last block the seed is an "
          f"isolated outlier patch and the mask a few patches (mean {100 * np.mean([v[2] for v in st if v[0] == 11]):.0f}%). LOST is implemented as published; "
          "it fails on DeiT-tiny's keys, and stays in the table as the method a user would run."]
    (ROOT / 'bench/results/lost_check.md').write_text('\n'.join(L) + '\n'); print('\n'.join(L))

if __name__ == '__main__':
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser()
    ap.add_argument('stage', choices=['maps', 'select', 'report', 'lost-check'])
    ap.add_argument('--sets', nargs='+', default=['horse-tune', 'davis-tune'])
    ap.add_argument('--n', type=int, default=None, help='seeded subset size per set (None: all)')
    ap.add_argument('--blocks', nargs='+', type=int, default=[7])
    ap.add_argument('--interleave', action='store_true')
    ap.add_argument('--rescore-ultra', action='store_true', help="report: score ULTra's rules again where a record was made at another chosen setting (the peers' scores are kept)")
    ap.add_argument('--only-maps', action='store_true', help='report: score only images whose ULTra maps exist (the rest keep their earlier records)')
    args = ap.parse_args()
    {'maps': stage_maps, 'select': stage_select, 'report': stage_report, 'lost-check': stage_lost_check}[args.stage](args)
