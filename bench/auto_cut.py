"""An automatic per-image cut of the token-map dendrogram, chosen on street and object photos together, then reported
against the fixed presets (street ζ 0.6 at block 7, objects ζ 0.9 at block 9).

DeiT-tiny (real weights), ULTra_S maps of every patch token. Stages (each resumable; maps cached as bench/selection.py
caches them for CamVid and VOC, bench/out/select/<set>/<id>_sum_b<block>.pt, and as bench/objects.py does for the
object photos, bench/out/objects/maps/<set>/<id>_b<block>.pt):

- maps:    the maps the other stages need: the selection sets first, then the report sets in a seeded random order
- select:  the auto cut's parameters (and block) on seeded subsets of CamVid-train, horse-tune and DAVIS-tune
           (16 + 16 + 16 images): never on CamVid-val, VOC-14 or the report halves -> bench/results/auto_cut_select.json
- report:  CamVid-val, VOC-14, horse-report and DAVIS-report: auto cut vs the presets, per-image U.mIoU and pooled
           U.mIoU with bootstrap intervals, paired differences, segments per image -> bench/results/auto_cut.md

    python bench/auto_cut.py maps && python bench/auto_cut.py select && python bench/auto_cut.py report
"""
import argparse, json, sys, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
sys.path.insert(0, str(Path(__file__).resolve().parent))
import selection as S
import objects as O
from ultra_nb.cluster import token_linkage, cluster_tokens, segment_from_clusters, auto_k
from ultra_nb.methods import image_score, image_material, segment
from ultra_nb.inputs import load_image
from ultra_nb.material import shared_dir

ROOT = Path(__file__).resolve().parents[1]
SEED, N_SEL, N_BOTH = 0, 12, 6  # selection images per set; of these, the first N_BOTH get maps of both blocks before the report's
SEL_SETS = ('camvid-train', 'horse-tune', 'davis-tune')
REPORT_SETS = ('camvid-val', 'voc', 'horse-report', 'davis-report')
BLOCKS = (7, 9)

class Sets:
    "The images of every set: ids, paths, labels (class ids, n_classes, ignore) and cached maps."
    def __init__(self):
        self.model, self.tr, self.cv, self.vo = S.material()
        self.sh = shared_dir()
        self._u = None

    def ids(self, name, n=None) -> list:
        "The images of a set (the first `n` of a seeded permutation; all when n is None)."
        if name in ('camvid-train', 'camvid-val', 'voc'):
            ds = self.ds(name)
            idx = S.subset(ds, n) if n is not None and n < len(ds) else list(range(len(ds)))
            return [Path(ds.items[i][0]).stem for i in idx]
        return [i for i, _, _ in O.items(self.sh, name, n)]

    def ds(self, name): return {'camvid-train': self.tr, 'camvid-val': self.cv, 'voc': self.vo}[name]

    def _index(self, name, id_):
        ds = self.ds(name)
        return [Path(p).stem for p, _ in ds.items].index(id_)

    def path(self, name, id_) -> Path:
        if name in ('camvid-train', 'camvid-val', 'voc'):
            ds = self.ds(name)
            return S.OUT / S.tag(ds) / f'{id_}_sum_b{{}}.pt'
        return O.map_path(name, id_, '{}')

    def has(self, name, id_, block) -> bool: return Path(str(self.path(name, id_)).format(block)).exists()

    def maps(self, name, id_, block) -> torch.Tensor:
        "(196, 14, 14) float64 ULTra_S maps of every patch token, computed once and cached."
        if name in ('camvid-train', 'camvid-val', 'voc'):
            return S.grid_map(self.model, self.ds(name), self._index(name, id_), block, 'sum').double()
        p = O.map_path(name, id_, block)
        if not p.exists():
            from ultra_nb import ULTra
            if self._u is None: self._u = ULTra(self.model, verbose=False)
            img = dict((i, ip) for i, ip, _ in O.items(self.sh, name))[id_]
            t = time.time()
            m = self._u.maps(img, block=block).grid_maps[0].half()
            p.parent.mkdir(parents=True, exist_ok=True)
            torch.save(m, p.with_suffix('.tmp')); p.with_suffix('.tmp').rename(p)
            print(f'  map {name} {id_} b{block}: {time.time() - t:.1f} s', flush=True)
        return torch.load(p).double()

    def label(self, name, id_):
        "(class-id image, n_classes, ignore): CamVid 11 classes (11 ignored), VOC 21 (255 ignored), object photos 2 (object / background)."
        if name in ('camvid-train', 'camvid-val', 'voc'):
            ds = self.ds(name)
            return ds.label(self._index(name, id_)), len(ds.classes), tuple(ds.ignore)
        mp = dict((i, m) for i, _, m in O.items(self.sh, name))[id_]
        return (np.array(Image.open(mp)) > 127).astype(np.int64), 2, ()

def report_order(sets, first=BLOCKS[0], names=REPORT_SETS):
    """(set, id, block) of the report maps: every set's maps at block `first` (the chosen block), then at the other; within a
    block, round robin over the sets, each in a seeded random order — any prefix is a random subset of each set."""
    order = {name: [sets.ids(name)[j] for j in np.random.default_rng(SEED).permutation(len(sets.ids(name)))] for name in names}
    out = []
    for b in (first,) + tuple(b for b in BLOCKS if b != first):
        per = [[(name, i, b) for i in order[name]] for name in names]
        out += [q[j] for j in range(max(map(len, per))) for q in per if j < len(q)]
    return out

def stage_maps(args):
    sets, t0, n = Sets(), time.time(), 0
    def sel(b, n):  # round robin over the selection sets
        per = [sets.ids(name, n) for name in SEL_SETS]
        return [(name, q[j], b) for j in range(n) for name, q in zip(SEL_SETS, per)]
    todo = sel(BLOCKS[0], N_SEL) + sel(BLOCKS[1], N_BOTH)  # block 9 on a seeded subset of N_BOTH of them first (the same seed's first N_BOTH)
    todo += sel(BLOCKS[1], N_SEL) if args.select_only else report_order(sets, args.first_block, tuple(args.report_sets))
    for name, i, b in todo:
        if sets.has(name, i, b): continue
        sets.maps(name, i, b); n += 1
        print(f'{time.strftime("%H:%M:%S")} {n} new maps, {time.time() - t0:.0f} s', flush=True)

# ---------------------------------------------------------------- scoring: every cut of one image's dendrogram, once
K_ALL = tuple(range(1, 21))  # every cluster count the candidates can ask for
ZETAS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
OUT = ROOT / 'bench/out/auto_cut'

def scores(sets, name, id_, block) -> dict:
    "{'Z': linkage, k: score, ('zeta', z): score} of one image's ULTra_S maps at `block` (`image_score`: per-image U.mIoU, counts, segments), cached."
    p = OUT / 'scores' / name / f'{id_}_b{block}.pt'
    if p.exists(): return torch.load(p, weights_only=False)
    G = sets.maps(name, id_, block)
    gt, n_classes, ignore = sets.label(name, id_)
    Z = token_linkage(G)
    res, seen = {'Z': Z}, {}
    cuts = [(k, dict(k=k)) for k in K_ALL] + [(('zeta', z), dict(zeta=z)) for z in ZETAS]
    for key, cut in cuts:
        lab = cluster_tokens(G, Z=Z, **cut)
        sig = lab.tobytes()
        if sig not in seen: seen[sig] = image_score(segment_from_clusters(G, lab, size=gt.shape).numpy(), gt, n_classes, ignore)
        res[key] = seen[sig]
    p.parent.mkdir(parents=True, exist_ok=True); torch.save(res, p.with_suffix('.tmp')); p.with_suffix('.tmp').rename(p)
    return res

def baseline_score(sets, name, id_) -> dict:
    "`image_score` of the registry's spectral clustering of the last block's patch features at its own automatic cut (the eigengap), cached."
    p = OUT / 'scores' / name / f'{id_}_spectral.pt'
    if p.exists(): return torch.load(p, weights_only=False)
    if name in ('camvid-train', 'camvid-val', 'voc'): mat = S.vectors(sets.model, sets.ds(name), sets._index(name, id_))
    else: mat = image_material(sets.model, load_image(dict((i, ip) for i, ip, _ in O.items(sets.sh, name))[id_]))
    gt, n_classes, ignore = sets.label(name, id_)
    res = image_score(segment('spectral_features', mat, gt.shape, k='auto'), gt, n_classes, ignore)
    p.parent.mkdir(parents=True, exist_ok=True); torch.save(res, p)
    return res

def cut_score(res, cut) -> dict:
    "The score of one cut: ('zeta', z), ('k', k) or ('auto', rule, k_min, k_max)."
    if cut[0] == 'zeta': return res[cut]
    if cut[0] == 'k': return res[cut[1]]
    return res[auto_k(res['Z'], cut[2], cut[3], cut[1])]

def cut_name(cut, block) -> str:
    if block is None: return 'spectral clustering of the last block\'s patch features, k at the eigengap (the registry\'s `spectral_features`, k=\'auto\')'
    if cut[0] == 'zeta': return f'ζ {cut[1]} @ block {block}'
    if cut[0] == 'k': return f'k {cut[1]} @ block {block}'
    return f"auto ({cut[1]}, k {cut[2]}..{cut[3]}) @ block {block}"

# ---------------------------------------------------------------- selection on CamVid-train + horse-tune + DAVIS-tune
RULES, K_MINS, K_MAXS = ('gap', 'ratio'), (2, 3), (5, 6, 8, 10, 12, 15, 20)
SELECT_JSON = ROOT / 'bench/results/auto_cut_select.json'

def stage_select(args):
    """Two steps, because maps of block 9 may exist for fewer images than block 7's: the block on the images with maps of both
    blocks (each block's best candidate there), then the rule and range at that block on every image with its maps."""
    sets, t0 = Sets(), time.time()
    have = {b: {name: [i for i in sets.ids(name, N_SEL) if sets.has(name, i, b)] for name in SEL_SETS} for b in BLOCKS}
    both = {name: [i for i in have[BLOCKS[0]][name] if all(i in have[b][name] for b in BLOCKS)] for name in SEL_SETS}
    cands = lambda b: [('auto', r, lo, hi) for r in RULES for lo in K_MINS for hi in K_MAXS if hi > lo]
    refs = lambda b: [('zeta', z) for z in ZETAS] + [('k', k) for k in (2, 3, 4, 5, 6, 8, 10, 12, 15)]
    def row(cut, b, ids):
        per = {name: [cut_score(scores(sets, name, i, b), cut) for i in ids[name]] for name in SEL_SETS}
        m = {name: 100 * np.mean([s['miou'] for s in v]) for name, v in per.items()}
        return dict(cut=list(cut), block=b, name=cut_name(cut, b), per_set=m, mean=float(np.mean(list(m.values()))),
                    segs={name: float(np.mean([s['n'] for s in v])) for name, v in per.items()}, sizes={n: len(v) for n, v in ids.items()})
    step1 = [row(c, b, both) for b in BLOCKS for c in cands(b) + refs(b)]
    block = max((r for r in step1 if r['cut'][0] == 'auto'), key=lambda r: r['mean'])['block']
    rows = [row(c, b, have[b]) for b in BLOCKS for c in cands(b)]
    ref_rows = [row(c, b, have[b]) for b in BLOCKS for c in refs(b)]
    best = max((r for r in rows if r['block'] == block), key=lambda r: r['mean'])
    out = dict(chosen=best, sizes=best['sizes'], sizes_both=step1[0]['sizes'], seed=SEED, n_sel=N_SEL, block_step=step1,
               candidates=rows, references=ref_rows, criterion='mean per-image U.mIoU, the three sets weighted equally', secs=time.time() - t0)
    SELECT_JSON.write_text(json.dumps(out, indent=1))
    print(f"block {block} (on {step1[0]['sizes']} images with both blocks); chosen {best['name']}: {best['mean']:.1f} "
          f"({', '.join(f'{n} {v:.1f}' for n, v in best['per_set'].items())}), segments {', '.join(f'{n} {v:.1f}' for n, v in best['segs'].items())}, "
          f"on {best['sizes']}; {time.time() - t0:.0f} s", flush=True)
    for title, rr in (('both blocks', step1), ('each block on all its images', rows + ref_rows)):
        print(title)
        for r in sorted(rr, key=lambda r: -r['mean'])[:args.top]:
            print(f"  {r['name']:40s} {r['mean']:5.1f}  " + '  '.join(f"{n} {r['per_set'][n]:5.1f} ({r['segs'][n]:4.1f})" for n in SEL_SETS))

# ---------------------------------------------------------------- report on CamVid-val, VOC-14, horse-report, DAVIS-report
SET_LABEL = {'camvid-val': 'CamVid-val (11 classes)', 'voc': 'VOC-14 (21 classes)', 'horse-report': 'Weizmann horses, report half (object / background)',
             'davis-report': 'DAVIS-2016 val, report half (object / background)'}
PRESET_ROWS = (('street preset', ('zeta', 0.6), 7), ('objects preset', ('zeta', 0.9), 9))

def report_rows(sel):
    "(label, cut, block): the chosen auto cut, the best auto cut at the other block, the two fixed presets."
    ch = sel['chosen']
    other = max((r for r in sel['candidates'] if r['block'] != ch['block']), key=lambda r: r['mean'])
    return ([('auto (chosen)', tuple(ch['cut']), ch['block']), ('auto, other block', tuple(other['cut']), other['block'])] + list(PRESET_ROWS)
            + [('baseline', ('spectral', 'eigengap'), None)])

def table(sets, name, ids, rows, L, csv_rows, what):
    "One table: every row on the same images `ids`, paired against the first row."
    if len(ids) < 2: L.append(f'{what}: fewer than 2 images with maps, no table.\n'); return
    res = {lab: [baseline_score(sets, name, i) if b is None else cut_score(scores(sets, name, i, b), cut) for i in ids] for lab, cut, b in rows}
    idx = S.boot_idx(len(ids))
    Sm = {lab: S.summary(r, idx) for lab, r in res.items()}
    ref = rows[0][0]
    L += [what, '', f'| cut | mean segments | miou [95% CI] | pooled [95% CI] | {ref} − row [95% CI] | {ref} wins/N |', '|---|---|---|---|---|---|']
    for lab, cut, b in rows:
        s_ = Sm[lab]
        d = None if lab == ref else S.paired(Sm[ref], s_, idx)
        pd = '' if d is None else f"{d['diff']:+.1f} [{d['lo']:+.1f}, {d['hi']:+.1f}]"
        w = '' if d is None else f"{d['wins']}/{d['n']}" + (f" ({d['ties']} ties)" if d['ties'] else '')
        L.append(f"| {lab}: {cut_name(cut, b)} | {s_['segs']:.1f} | {S.fmt(s_['miou'], s_['miou_ci'])} | {S.fmt(s_['pooled'], s_['pooled_ci'])} | {pd} | {w} |")
        csv_rows.append(dict(dataset=name, images=len(ids), table=what.split(':')[0].strip('# '), row=lab, cut=cut_name(cut, b),
                             mean_segments=round(s_['segs'], 2), miou=round(s_['miou'], 2), miou_lo=round(s_['miou_ci'][0], 2),
                             miou_hi=round(s_['miou_ci'][1], 2), pooled=round(s_['pooled'], 2), pooled_lo=round(s_['pooled_ci'][0], 2),
                             pooled_hi=round(s_['pooled_ci'][1], 2), diff=None if d is None else round(d['diff'], 2),
                             diff_lo=None if d is None else round(d['lo'], 2), diff_hi=None if d is None else round(d['hi'], 2)))
    L.append('')

def stage_report(args):
    sets, t0 = Sets(), time.time()
    sel = json.loads(SELECT_JSON.read_text())
    rows, ch = report_rows(sel), sel['chosen']
    L = ['# An automatic per-image cut vs the fixed presets: `python bench/auto_cut.py report`', '',
         f"DeiT-tiny (real weights), ULTra_S maps of all 196 patch tokens, one 224x224 view per image; predictions at each label's size. "
         f"The auto cut (`cluster.auto_k`: the cluster count in k_min..k_max whose cut lies in the widest step of the dendrogram) and its block "
         f"were chosen by `python bench/auto_cut.py select` on {' + '.join(f'{n} {k}' for k, n in sel['sizes'].items())} images "
         f"(block 9 also on {' + '.join(str(n) for n in sel['sizes_both'].values())} of them) "
         f"(seeded subsets, numpy default_rng({sel['seed']}); never a report image): **{ch['name']}**, mean per-image U.mIoU over the three sets "
         f"{ch['mean']:.1f} ({', '.join(f'{k} {v:.1f}' for k, v in ch['per_set'].items())}). The presets: street ζ 0.6 at block 7 "
         '(`bench/results/selection.md`), objects ζ 0.9 at block 9 (`bench/results/objects.md`).', '',
         '**miou**: mean over images of the per-image U.mIoU (Hungarian match in each image); **pooled**: match per image, counts summed '
         'over images (the package\'s per-image protocol, as `bench/results/equal_granularity.md`). Object photos are scored as two classes, '
         'object and background, so every segment beyond two costs. [lo, hi]: percentile bootstrap 95% interval over images (2000 resamples); '
         'paired: the chosen auto cut minus the row, per image.', '']
    csv_rows = []
    for name in REPORT_SETS:
        ids = sets.ids(name)
        full = [i for i in ids if all(sets.has(name, i, b) for b in BLOCKS)]
        sub = '' if len(full) == len(ids) else (f' — a seeded random subset: the maps job runs each set in a seeded random order, and these '
                                                 f'are the images with maps of both blocks when the report ran')
        table(sets, name, full, rows, L, csv_rows, f'## {SET_LABEL[name]}: {len(full)} of {len(ids)} images{sub}')
        one = [i for i in ids if sets.has(name, i, ch['block']) and sets.has(name, i, 7)]
        if len(one) > len(full):
            part = [r for r in rows if r[2] in (ch['block'], 7)]
            table(sets, name, one, part, L, csv_rows, f'### {SET_LABEL[name]}, the rows of block{"s" if ch["block"] != 7 else ""} '
                  f'{ch["block"]}{"" if ch["block"] == 7 else " and 7"} on all {len(one)} images with those maps')
    L.append(f'Report scoring took {time.time() - t0:.0f} s (maps cached before).')
    S.save('auto_cut', csv_rows, L)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('stage', choices=('maps', 'select', 'report'))
    ap.add_argument('--select-only', action='store_true', help='maps: only the selection sets')
    ap.add_argument('--first-block', type=int, default=BLOCKS[0], choices=BLOCKS, help='maps: the report sets at this block first (the chosen one)')
    ap.add_argument('--report-sets', nargs='+', default=list(REPORT_SETS), choices=REPORT_SETS, help='maps: only these report sets')
    ap.add_argument('--top', type=int, default=20, help='select: print this many best rows')
    args = ap.parse_args()
    {'maps': stage_maps, 'select': stage_select, 'report': stage_report}[args.stage](args)
