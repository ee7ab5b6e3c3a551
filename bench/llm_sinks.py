"""Token Contribution Scores of SmolLM2-135M summaries with and without attention-sink handling.

"with": the tokenizer's BOS first (build_input(bos=True)), sinks left out of λ (inp.sinks); "without": no BOS, sinks=()
(λ keeps the first context token, the old behaviour). Posts: TL;DR validation, shuffled with random.Random(0) as
bench/llm.py does. Two stages:

    python bench/llm_sinks.py select [--select 6] [--blocks 1 4 8 11 15 18 22 25 29] [--select-conds with]
        # the block, on the first --select posts (criterion: mean over k = SEL_KS of Comp_ULTra − Comp_random,
        # averaged over --select-conds) -> llm_select.md, "llm" in selection.json
    python bench/llm_sinks.py report [--posts 100]
        # the next --posts after the selection posts, at selection.json's block, both conditions with the same ks
        # and random seeds -> llm_sinks.{csv,md}, nbs/images/llm_sinks.png

Every (post, block, condition, ks) result is appended to bench/results/llm_posts.jsonl, which is committed: a stopped
run resumes where it stopped, on this machine or a fresh clone. A report with fewer posts than asked is written
from the posts done so far with --written-only (no new maps).
"""
import argparse, json, sys, time
import numpy as np, torch
from ultra_nb.material import shared_dir, smollm2, tldr_posts
from ultra_nb.llm import build_input, summary_maps, contribution_scores, comprehensiveness
from segmentation import ROOT, save

RECORD = ROOT / 'bench/results/llm_posts.jsonl'
SELECTION = ROOT / 'bench/results/selection.json'
SEL_KS, KS, SEEDS = (10, 20, 40), (5, 10, 20, 30, 50), (0, 1, 2)
CONDITIONS = {'with': dict(bos=True, keep=False), 'without': dict(bos=False, keep=True)}

def _key(r): return r['id'], r['block'], r['cond'], tuple(r['ks'])

def known():
    "Results recorded so far, by (post id, block, condition, ks)."
    if not RECORD.exists(): return {}
    return {_key(r): r for r in map(json.loads, RECORD.read_text().splitlines())}

def post_result(model, tok, post, block, cond, ks, done):
    "Comp_k of ULTra and of random removal for one post, block and condition; read from / appended to the record."
    k = (post['id'], block, cond, tuple(ks))
    if k in done: return done[k]
    c, t0 = CONDITIONS[cond], time.time()
    inp = build_input(tok, post['context'], post['summary'], model=model, bos=c['bos'])
    lam = contribution_scores(summary_maps(model, inp, block=block), sinks=() if c['keep'] else inp.sinks)
    t_maps = time.time() - t0
    rnd = next((r['random'] for (i, _, cd, kk), r in done.items() if (i, cd, kk) == (post['id'], cond, tuple(ks))), None)
    r = comprehensiveness(model, inp, lam, ks, SEEDS if rnd is None else ())  # random removal does not depend on the block
    res = dict(id=post['id'], block=block, cond=cond, ks=list(ks), n_context=inp.context.stop - inp.context.start,
               ultra=[round(float(v), 6) for v in r['ultra']],
               random=rnd if rnd is not None else [[round(float(v), 6) for v in s] for s in r['random']],
               first_share=round(float(lam[0] / lam.sum()), 6), t_maps=round(t_maps, 1), t_total=round(time.time() - t0, 1))
    with open(RECORD, 'a') as f: f.write(json.dumps(res) + '\n')
    done[k] = res
    print(f"  post {post['id']} block {block} {cond}: {res['t_total']:.0f} s", flush=True)
    return res

def gain(r): return float(np.mean(r['ultra']) - np.mean(r['random']))

def boot(d, n_boot=2000, seed=0):
    "Mean and percentile bootstrap 95% interval over posts."
    d = np.asarray(d, dtype=float)
    i = np.random.default_rng(seed).integers(0, len(d), (n_boot, len(d)))
    return d.mean(), *np.percentile(d[i].mean(1), [2.5, 97.5])

def fmt(t): return f'{t[0]:+.3f} [{t[1]:+.3f}, {t[2]:+.3f}]'

def setup(need_model=True):
    sh = shared_dir()
    if sh is None: sys.exit("bench/llm_sinks.py needs ../shared (SmolLM2 GGUF and the TL;DR posts)")
    torch.set_num_threads(2)
    return (smollm2() if need_model else (None, None)), tldr_posts()

def select(n_select, blocks, sel_conds):
    (model, tok), posts = setup()
    done, sweep, t_sel = known(), {}, 0.
    for b in blocks:
        for cond in sel_conds:
            rs = [post_result(model, tok, p, b, cond, SEL_KS, done) for p in posts[:n_select]]
            sweep[b, cond], t_sel = [gain(r) for r in rs], t_sel + sum(r['t_total'] for r in rs)
    block = max(blocks, key=lambda b: np.mean(sum((sweep[b, c] for c in sel_conds), [])))
    L = ['# LLM block selection, SmolLM2-135M-Instruct (GGUF, fp32), `bench/llm_sinks.py select`', '',
         f'On the first {n_select} posts (TL;DR validation, {len(posts)} kept, shuffled with random.Random(0)); blocks {list(blocks)}, '
         f'k = {SEL_KS}%, random seeds {SEEDS}. Cell: mean over posts of (mean over k of Comp_ULTra − Comp_random) [bootstrap 95% '
         f"interval over posts]; the block maximises the mean over {' and '.join(sel_conds)} (— not run).", '',
         '| block | with | without |', '|---|---|---|']
    L += ['| ' + ' | '.join([str(b)] + [fmt(boot(sweep[b, c])) if (b, c) in sweep else '—' for c in CONDITIONS]) + ' |' for b in blocks]
    L += ['', f'→ **block {block}** (0-based; 29 is the last). Selection compute: {t_sel:.0f} s (sum of the per-post times when first computed).']
    (ROOT / 'bench/results/llm_select.md').write_text('\n'.join(L) + '\n'); print('\n'.join(L))
    js = json.loads(SELECTION.read_text())
    js['llm'] = dict(model='SmolLM2-135M-Instruct', block=int(block), sinks='excluded', select_posts=n_select,
                     split=f'TL;DR val posts shuffled with random.Random(0); the first {n_select} posts, blocks {list(blocks)}, '
                           f"k {list(SEL_KS)}%, conditions {' and '.join(sel_conds)}", date=time.strftime('%Y-%m-%d'))
    SELECTION.write_text(json.dumps(js, indent=1) + '\n')

def report(n_posts, written_only):
    sel = json.loads(SELECTION.read_text())['llm']
    block, n_sel = sel['block'], sel['select_posts']
    (model, tok), posts = setup(not written_only)
    done, res = known(), {c: [] for c in CONDITIONS}
    for p in posts[n_sel:n_sel + n_posts]:  # post by post, both conditions: a stopped run leaves whole posts behind
        if written_only and not all((p['id'], block, c, KS) in done for c in CONDITIONS): break
        for c in CONDITIONS: res[c].append(post_result(model, tok, p, block, c, KS, done))
    write(res, block, sel, len(posts))

def write(res, block, sel, n_kept):
    n = len(res['with'])
    L = ['# Attention sinks in Token Contribution Scores, SmolLM2-135M-Instruct (GGUF, fp32), `bench/llm_sinks.py report`', '',
         f'Posts: TL;DR validation, {n_kept} kept, shuffled with random.Random(0); the first {sel["select_posts"]} chose the block '
         f'({sel["split"]}; `llm_select.md`): **block {block}**. Reported here: the next **{n}** posts, none used for selection. '
         '**with**: BOS first, sinks left out of λ (`build_input(bos=True)`, `contribution_scores(maps, sinks=inp.sinks)`); **without**: '
         'no BOS, λ keeps the first context token (`bos=False`, `sinks=()`, the old behaviour). Comp_k = (S(x,y) − S(x∖R_k,y)) / |S(x,y)|; '
         f'random: seeds {SEEDS} averaged per post; the BOS stays in every perturbed input. Per-post values: `llm_posts.jsonl`.', '',
         'mean [bootstrap 95% interval over posts]; wins: posts where ULTra beats random at that k.', '',
         '| k | ULTra with | random with | ULTra − random, with | wins | ULTra without | random without | ULTra − random, without | wins | ULTra with − ULTra without |',
         '|---|---|---|---|---|---|---|---|---|---|']
    rows, A = [], {}
    for cond in CONDITIONS:
        A[cond] = (np.array([r['ultra'] for r in res[cond]]), np.array([np.mean(r['random'], 0) for r in res[cond]]))
    for j, k in enumerate(KS):
        cells = []
        for cond in CONDITIONS:
            U, R = A[cond][0][:, j], A[cond][1][:, j]
            cells += [fmt(boot(U)), fmt(boot(R)), fmt(boot(U - R)), f'{int((U > R).sum())}/{n}']
            rows.append(dict(k=k, condition=cond, ultra=round(U.mean(), 4), random=round(R.mean(), 4),
                             diff=round((U - R).mean(), 4), wins=int((U > R).sum()), n=n))
        cells.append(fmt(boot(A['with'][0][:, j] - A['without'][0][:, j])))
        L.append(f'| {k}% | ' + ' | '.join(cells) + ' |')
    gw = np.array([gain(r) for r in res['with']]); go = np.array([gain(r) for r in res['without']])
    t = [r['t_total'] for c in res for r in res[c]]
    L += ['', f"Mean over k of (ULTra − random): with {fmt(boot(gw))} (ULTra ahead on {int((gw > 0).sum())}/{n} posts), "
          f"without {fmt(boot(go))} ({int((go > 0).sum())}/{n}); paired with − without: {fmt(boot(gw - go))} "
          f"(with ahead on {int((gw > go).sum())}/{n} posts). Share of λ on the first context token: with {np.mean([r['first_share'] for r in res['with']]):.1%}, "
          f"without {np.mean([r['first_share'] for r in res['without']]):.1%}. Report compute on this 2-core CPU, as recorded when first computed (other jobs may have shared it): {sum(t):.0f} s summed over posts and "
          f"conditions (median per post and condition {np.median(t):.0f} s: maps {np.median([r['t_maps'] for c in res for r in res[c]]):.0f} s, the rest Comp_k's 21 forward passes)."]
    save('llm_sinks', rows, L)
    figure(A, block, n)

def figure(A, block, n):
    "Comp_k against k (means), and ULTra − random paired per post with its bootstrap interval, both conditions: nbs/images/llm_sinks.png."
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.6))
    for cond, color in zip(CONDITIONS, ('C0', 'C1')):
        U, R = A[cond]
        ax.plot(KS, U.mean(0), '-o', color=color, label=f'ULTra, {cond} sink handling')
        ax.plot(KS, R.mean(0), ':', color=color, label=f'random, {cond} sink handling')
        t = np.array([boot(U[:, i] - R[:, i]) for i in range(len(KS))])
        bx.plot(KS, t[:, 0], '-o', color=color, label=f'{cond} sink handling'); bx.fill_between(KS, t[:, 1], t[:, 2], color=color, alpha=0.2)
    bx.axhline(0, color='k', lw=0.8)
    ax.set(xlabel='context removed, k (%)', ylabel='Comp_k (mean over posts)'); ax.legend(fontsize=7)
    bx.set(xlabel='context removed, k (%)', ylabel='Comp_k: ULTra − random'); bx.legend(fontsize=7)
    fig.suptitle(f'SmolLM2-135M, block {block}, {n} TL;DR posts not used for selection (right: 95% bootstrap intervals)', fontsize=10)
    fig.tight_layout(); fig.savefig(ROOT / 'nbs/images/llm_sinks.png', dpi=110); plt.close(fig)

if __name__ == '__main__':
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('stage', choices=['select', 'report'])
    a.add_argument('--select', type=int, default=6, help='selection posts (select)')
    a.add_argument('--blocks', type=int, nargs='+', default=[1, 4, 8, 11, 15, 18, 22, 25, 29], help='blocks swept (select)')
    a.add_argument('--select-conds', nargs='+', choices=list(CONDITIONS), default=['with'], help='conditions the block is chosen on (select)')
    a.add_argument('--posts', type=int, default=100, help='report posts after the selection posts (report)')
    a.add_argument('--written-only', action='store_true', help='report the posts already in llm_posts.jsonl, computing nothing (report)')
    a = a.parse_args()
    if a.stage == 'select': select(a.select, a.blocks, a.select_conds)
    else: report(a.posts, a.written_only)
