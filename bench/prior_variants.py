"""Ways for the 'prior' rule to keep cluttered backgrounds out (issue 32: its DAVIS masks were too large), measured on the TUNE
halves only (the 40 + 40 images `bench/objects.py select` uses), from the cached block-7 maps and block-9 CLS attention:

    python bench/prior_variants.py      # -> bench/results/prior_variants.md (about 3 minutes here)

The ideas that lost stay in the table. The one that won (a bound on the CLS attention's mass) became `prior_share(bound=)` and
competed in `bench/objects.py select` with every other prior setting, which chose it (bench/results/objects_selection.json)."""
import sys, json, numpy as np, torch
from pathlib import Path
from scipy import ndimage
sys.path.insert(0, str(Path(__file__).parent))
import objects as O
from ultra_nb.objects import patch_keys
from ultra_nb.baselines import top_mass_mask
from ultra_nb.cluster import minmax
from ultra_nb.api import as_images
from ultra_nb.hooks import family_of
from ultra_nb.objects import fg_scores, upsample, prior_share
from ultra_nb.cluster import cluster_tokens
CACHE = O.OUT / 'att'
def att(name, i, ip, b):
    "The CLS token's attention to the patches at block b (14, 14), cached."
    p = CACHE / f"{name.split('-')[0]}_{i}_b{b}.pt"
    if p.exists(): return torch.load(p)
    x, _ = as_images(ip, fam); k, c = patch_keys(model, x, b); torch.save(c[0].reshape(14, 14).clone(), p); return c[0].reshape(14, 14)
def mass(score, size, xi):
    up = upsample(score, size).clamp_min(0); return top_mass_mask(up, xi).numpy(), minmax(up.flatten()).reshape(size).numpy()
ring = torch.ones(14, 14, dtype=torch.bool); ring[1:-1, 1:-1] = False
def otsu(pm, cnt):
    "The threshold on cluster means that maximises the between-class variance (clusters weighted by size)."
    o = pm.argsort(); v, w = pm[o], cnt[o]; best, t = -1, v[-1]
    for j in range(1, len(v)):
        w0, w1 = w[:j].sum(), w[j:].sum()
        m0, m1 = (v[:j] * w[:j]).sum() / w0, (v[j:] * w[j:]).sum() / w1
        b = w0 * w1 * (m0 - m1) ** 2
        if b > best: best, t = b, v[j]
    return pm >= t
def main():
    global model, sh, fam
    torch.set_num_threads(1)
    model, sh = O.material(); fam = family_of(model)
    CACHE.mkdir(parents=True, exist_ok=True)
    recs = []
    for name in ('horse-tune', 'davis-tune'):
        for i, ip, mp in O.items(sh, name, 40):
            G = torch.load(O.map_path(name, i, 7)).double()
            gt, valid = O.ground_truth(name, mp); size = gt.shape
            a = att(name, i, ip, 9).double().flatten()
            r = {}
            lab = torch.as_tensor(cluster_tokens(G, k=30, metric='euclidean', method='ward'))
            n = int(lab.max()) + 1
            S = torch.zeros(n, 14, 14, dtype=torch.float64).index_add_(0, lab, G)
            P = S / S.sum(0).clamp_min(1e-12)
            cnt = torch.bincount(lab, minlength=n).double()
            pm = torch.zeros(n, dtype=torch.float64).index_add_(0, lab, a) / cnt
            bord = torch.zeros(n, dtype=torch.float64).index_add_(0, lab, ring.flatten().double()) / cnt
            amask = (a.reshape(14, 14) > 0)
            def score(fg, key, th=(0.5,)):
                if not fg.any(): fg = pm == pm.max()
                sh_ = P[fg].sum(0)
                for t in th:
                    r[f'{key} th{t}'] = fg_scores((upsample(sh_, size) > t).numpy(), gt, None, valid)['iou']
                return sh_
            base = score(pm > 0.75 * a.mean(), 'prior c0.75', (0.4, 0.5, 0.6, 0.7))
            score(otsu(pm, cnt), 'otsu', (0.5,))
            for c in (0.2, 0.3, 0.4, 0.5): score(pm > c * pm.max(), f'max c{c}')
            for beta in (0.3, 0.5, 0.7):
                score((pm > 0.75 * a.mean()) & ((bord <= beta) | (pm == pm.max())), f'prior c0.75 border<={beta}')
                score(otsu(pm, cnt) & ((bord <= beta) | (pm == pm.max())), f'otsu border<={beta}')
            for xi in (0.8, 0.9, 0.95):  # the prior mask, trimmed to CLS-mass's
                cm = torch.as_tensor(mass(a.reshape(14, 14).float(), size, xi)[0])
                r[f'prior & CLSmass xi{xi}'] = fg_scores(((upsample(base, size) > 0.5) & cm).numpy(), gt, None, valid)['iou']
            # connected components of the patch mask that hold the top-attention patch, or most of the prior's mass
            m = (base > 0.5).numpy(); cc, ncc = ndimage.label(m)
            if ncc:
                am = a.reshape(14, 14).numpy()
                share = np.array([am[cc == j].sum() for j in range(1, ncc + 1)]) / max(am[m].sum(), 1e-12)
                for q in (0.1, 0.2, 0.3):
                    keep = np.isin(cc, 1 + np.where(share >= q)[0])
                    r[f'prior cc share>={q}'] = fg_scores((upsample(torch.as_tensor(keep.astype(float)), size) > 0.5).numpy(), gt, None, valid)['iou']
            for kk in (60, 98, 196):  # finer clusters, down to one per token (small objects share a cluster of 30 with background)
                for cc in (0.75, 1.0):
                    r[f'prior k{kk} c{cc} bound0.95'] = fg_scores((upsample(prior_share(G, a, k=kk, c=cc, bound=0.95), size) > 0.5).numpy(), gt, None, valid)['iou']
            v = a.sort(descending=True).values
            n50 = int((v.cumsum(0) / v.sum() < 0.5).sum()) + 1  # the fewest patches holding half the attention: small when the object is
            for n_small in (12, 16, 20):  # finer clusters only for a concentrated prior
                for kk in (60, 196):
                    r[f'prior k{kk} if half the attention is on <= {n_small} patches, else k30'] = fg_scores((upsample(prior_share(
                        G, a, k=kk if n50 <= n_small else 30, c=0.75, bound=0.95), size) > 0.5).numpy(), gt, None, valid)['iou']
            r['prior k30 c0.75 bound0.95 (the chosen rule)'] = fg_scores((upsample(prior_share(G, a, k=30, c=0.75, bound=0.95), size) > 0.5).numpy(), gt, None, valid)['iou']
            r['CLSmass9 xi0.8'] = fg_scores(mass(a.reshape(14, 14).float(), size, 0.8)[0], gt, None, valid)['iou']
            recs.append((name, r))
    tab = []
    for k in recs[0][1]:
        v = [(nm, r[k]) for nm, r in recs if k in r]
        per = [np.mean([x for nm, x in v if nm == s]) for s in ('horse-tune', 'davis-tune')]
        tab.append((float(np.mean(per)), per, k, len(v)))
    L = ['# Variants of the prior rule on the tune halves (issue 32), `bench/prior_variants.py`', '',
         'DeiT-tiny, maps of all tokens at block 7, CLS attention at block 9, Ward clusters k 30; mean IoU over 40 Weizmann-horse and 40 DAVIS '
         'tune images (the two sets weighted equally). Tune halves only: nothing here saw a report image. "prior c0.75 th0.5" is the rule as it was; '
         '"th" is the threshold on the object share; "prior cc" keeps connected parts of the mask holding at least that share of the attention '
         '(scored on the images where the mask has a part: n). The bound on the attention\'s mass won ("prior & CLSmass": the mask kept inside CLS-mass\'s pixels); the package bounds it at the patch grid instead (`prior_share(bound=)`), which `bench/objects.py select` chose among 256 prior settings: bound 0.95, 53.1 on these images (`objects_selection.json`).'
         ' Finer clusters (k 60, 98 and 196, one cluster per token; or only where half the attention sits on a few patches) were added after the report\'s DAVIS gap was traced to one video whose small object shares its clusters with the ground (`objects.md`, per video); on these tune images they lose to k 30, so k 30 stays.', '',
         '| variant | mean IoU | horses | DAVIS | n |', '|---|---|---|---|---|']
    L += [f'| {k} | {100 * m:.1f} | {100 * p[0]:.1f} | {100 * p[1]:.1f} | {n} |' for m, p, k, n in sorted(tab, reverse=True)]
    (Path(__file__).parents[1] / 'bench/results/prior_variants.md').write_text('\n'.join(L) + '\n')
    print('\n'.join(L))

if __name__ == '__main__': main()
