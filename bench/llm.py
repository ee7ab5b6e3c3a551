"""Token Contribution Scores of SmolLM2-135M summaries on real TL;DR posts: comprehensiveness of ULTra vs random.

Posts from ../shared/data/tldr/tldr_val_1945.csv (human TL;DRs as y), shuffled with seed 0. The first --select posts
choose the block (mean Comp over k of ULTra minus random); the next --posts are reported with that block only.
Results are cached per post in bench/out/llm/, so a run can be stopped and resumed. Writes bench/results/llm.{csv,md},
nbs/images/llm_comprehensiveness.png and nbs/images/llm_heatmap_{0,1,2}.png.

    python bench/llm.py [--select 4] [--posts 100] [--blocks 14 29]
"""
import argparse, json, sys, time
import numpy as np
from tqdm import tqdm
from ultra_nb.material import shared_dir, smollm2, tldr_posts
from ultra_nb.llm import build_input, summary_maps, contribution_scores, comprehensiveness, merge_words, heatmap_figure
from segmentation import ROOT, table, save

CACHE = ROOT / 'bench/out/llm'
KS = (5, 10, 15, 20, 30, 40, 50)
SEEDS = (0, 1, 2)

def post_result(model, tok, post, block):
    "Comp_k of ULTra and of random removal for one post at one block, cached."
    p = CACHE / f"{post['id']}_{block}.json"
    if p.exists(): return json.loads(p.read_text())
    inp = build_input(tok, post['context'], post['summary'], model=model, bos=False)
    t0 = time.time()
    lam = contribution_scores(summary_maps(model, inp, block=block))
    t_maps = time.time() - t0
    r = comprehensiveness(model, inp, lam, KS, SEEDS)
    res = dict(id=post['id'], block=block, n_tokens=inp.ids.shape[1], n_context=inp.context.stop, n_summary=inp.summary.stop - inp.summary.start,
               ultra=r['ultra'].tolist(), random=r['random'].tolist(), S=float(r['S']), lam=lam.tolist(),
               t_maps=t_maps, t_total=time.time() - t0)
    CACHE.mkdir(parents=True, exist_ok=True); p.write_text(json.dumps(res))
    return res

def main(n_select, n_posts, blocks):
    sh = shared_dir()
    if sh is None: sys.exit("bench/llm.py needs ../shared (SmolLM2 GGUF and the TL;DR posts)")
    (model, tok), posts = smollm2(), tldr_posts()
    select, report = posts[:n_select], posts[n_select:n_select + n_posts]
    gain = {}
    for b in blocks:
        rs = [post_result(model, tok, p, b) for p in tqdm(select, desc=f'select block {b}')]
        gain[b] = float(np.mean([np.mean(r['ultra']) - np.mean(r['random']) for r in rs]))
    block = max(gain, key=gain.get)
    res = [post_result(model, tok, p, block) for p in tqdm(report, desc=f'report block {block}')]
    write(res, gain, block, len(posts), n_select, top_tokens(res, posts, tok))
    figures(res, posts, tok, block)

FUNCTION_WORDS = set("the a an to of and in on for is was i my me it that this with at be have had but or as so you he she we they his her not are just".split())

def _function(piece):
    s = piece.strip().lower()
    return s in FUNCTION_WORDS or not any(c.isalnum() for c in s)

def top_tokens(res, posts, tok, frac=0.1):
    "What the top `frac` of context tokens by λ are (first token left out): share of function words / punctuation, and of content pieces that reappear in the summary, each vs all context tokens."
    by_id, rows = {p['id']: p for p in posts}, []
    for r in res:
        p = by_id[r['id']]; inp = build_input(tok, p['context'], p['summary'], bos=False)
        pieces, lam = list(inp.pieces[inp.context])[1:], np.array(r['lam'][1:])
        top = np.argsort(-lam)[:max(1, int(frac * len(lam)))]
        summ = {w.strip().lower() for w in inp.pieces[inp.summary] if not _function(w)}
        fn = np.array([_function(w) for w in pieces]); sm = np.array([w.strip().lower() in summ for w in pieces])
        rows.append((fn[top].mean(), fn.mean(), sm[top].mean(), sm.mean()))
    a = np.mean(rows, 0)
    return (f"Top {frac:.0%} of context tokens by λ (first token left out), mean over posts: {a[0]:.0%} are function words or punctuation "
            f"(vs {a[1]:.0%} of all context tokens); {a[2]:.1%} are content pieces that reappear in the summary (vs {a[3]:.1%}). "
            f"The first token alone carries {np.mean([r['lam'][0] / sum(r['lam']) for r in res]):.0%} of λ on average.")

def write(res, gain, block, n_kept, n_select, kinds=''):
    U = np.array([r['ultra'] for r in res]); R = np.array([np.mean(r['random'], 0) for r in res])
    Rall = np.concatenate([np.array(r['random']) for r in res])
    rows = [dict(k=k, ultra_mean=round(float(U[:, j].mean()), 4), ultra_sem=round(float(U[:, j].std(ddof=1) / np.sqrt(len(U))), 4),
                 random_mean=round(float(R[:, j].mean()), 4), random_sem=round(float(R[:, j].std(ddof=1) / np.sqrt(len(R))), 4),
                 random_seed_sd=round(float(Rall[:, j].std(ddof=1)), 4), ultra_wins=f'{int((U[:, j] > R[:, j]).sum())}/{len(U)}')
            for j, k in enumerate(KS)]
    t = np.array([r['t_total'] for r in res]); tm = np.array([r['t_maps'] for r in res]); n = np.array([r['n_tokens'] for r in res])
    lines = ["# Comprehensiveness of Token Contribution Scores, SmolLM2-135M-Instruct (GGUF, fp32), `bench/llm.py`", "",
             f"Input: post ⊕ '\\n\\nTL;DR:' ⊕ ' ' human TL;DR. {n_kept} of 1945 posts kept (post body ≥ 20 words, summary not empty), "
             f"shuffled with seed 0. Block chosen on the first {n_select} posts (mean over k of Comp_ULTra − Comp_random): "
             + ', '.join(f'block {b}: {g:+.4f}' for b, g in gain.items()) + f" → **block {block}** (0-based; 29 is the last). "
             f"Reported on the next {len(res)} posts. Comp_k = (S(x,y) − S(x∖R_k,y)) / |S(x,y)|: positive when removing R_k "
             f"lowers the summary's likelihood. Random: {len(SEEDS)} seeds per post, averaged per post; sem = standard error over posts; "
             "random_seed_sd = spread of single random draws.", ""]
    lines += table(rows)
    lines += ["", f"Tokens per post: median {int(np.median(n))} (range {n.min()}–{n.max()}). Time per post on this CPU: "
              f"maps {np.median(tm):.1f} s median, maps + comprehensiveness {np.median(t):.1f} s median ({t.max():.1f} s max).", ""]
    D = np.array([np.mean(r['ultra']) for r in res]) - R.mean(1)
    lines += ["Paired difference ULTra − random per k (mean ± sem over posts): " + ', '.join(
              f"{k}%: {(U - R)[:, j].mean():+.3f} ± {(U - R)[:, j].std(ddof=1) / np.sqrt(len(U)):.3f}" for j, k in enumerate(KS))
              + f". ULTra's mean over k is below random's on {int((D < 0).sum())} of {len(D)} posts.", "", kinds]
    save('llm', rows, lines)

def figures(res, posts, tok, block):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    U = np.array([r['ultra'] for r in res]); R = np.array([np.mean(r['random'], 0) for r in res])
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, A, c in (('ULTra (TCS)', U, 'C3'), ('random', R, 'C7')):
        m, s = A.mean(0), A.std(0, ddof=1) / np.sqrt(len(A))
        ax.plot(KS, m, marker='o', color=c, label=name); ax.fill_between(KS, m - s, m + s, color=c, alpha=0.2)
    ax.axhline(0, color='k', lw=0.5); ax.set_xlabel('context tokens removed (%)'); ax.set_ylabel('comprehensiveness')
    ax.set_title(f'SmolLM2-135M, {len(U)} TL;DR posts, block {block}', fontsize=9); ax.legend(fontsize=8)
    fig.tight_layout(); fig.savefig(ROOT / 'nbs/images/llm_comprehensiveness.png', dpi=90)
    by_id = {p['id']: p for p in posts}
    short = sorted(res, key=lambda r: r['n_context'])[:3]
    figs = []
    for r in short:
        p = by_id[r['id']]
        inp = build_input(tok, p['context'], p['summary'], bos=False)
        words = merge_words(inp.pieces[inp.context], r['lam'])
        figs.append(heatmap_figure(words, title=f"TL;DR: {p['summary']}"))
    for i, f in enumerate(figs): f.savefig(ROOT / f'nbs/images/llm_heatmap_{i}.png', dpi=80, bbox_inches='tight')

if __name__ == '__main__':
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--select', type=int, default=4); a.add_argument('--posts', type=int, default=100)
    a.add_argument('--blocks', type=int, nargs="+", default=[14, 29])
    a = a.parse_args()
    main(a.select, a.posts, a.blocks)
