"""Token Contribution Scores of SmolLM2-135M summaries with and without attention-sink handling.

"with": the tokenizer's BOS first (build_input(bos=True)), sinks left out of λ (inp.sinks); "without": no BOS, sinks=()
(λ keeps the first context token, the old behaviour). Posts shuffled with seed 0 as bench/llm.py does; the first
--select posts choose the block (mean over k of Comp_ULTra − Comp_random, averaged over the --select-conds conditions); the next
--posts are reported at that block under both conditions with the same ks and random seeds. Cached per post / block /
condition in bench/out/llm_sinks/. Writes bench/results/llm_sinks.{csv,md} and adds "llm" to bench/results/selection.json.

    python bench/llm_sinks.py [--select 4] [--posts 20] [--blocks 5 11 17 23 29] [--select-conds with without]
"""
import argparse, json, random, sys, time
import numpy as np, torch
from ultra_nb.hooks import shared_dir, load_causal_lm
from ultra_nb.llm import read_tldr, build_input, summary_maps, contribution_scores, comprehensiveness
from segmentation import ROOT, save

CACHE = ROOT / 'bench/out/llm_sinks'
SEL_KS, KS, SEEDS = (10, 20, 40), (5, 10, 20, 30, 50), (0, 1, 2)
CONDITIONS = {'with': dict(bos=True, keep=False), 'without': dict(bos=False, keep=True)}

def post_result(model, tok, post, block, cond, ks):
    "Comp_k of ULTra and of random removal for one post, block and condition, cached."
    p = CACHE / f"{post['id']}_{block}_{cond}_{'-'.join(map(str, ks))}.json"
    if p.exists(): return json.loads(p.read_text())
    c = CONDITIONS[cond]
    t0 = time.time()
    inp = build_input(tok, post['context'], post['summary'], model=model, bos=c['bos'])
    lam = contribution_scores(summary_maps(model, inp, block=block), sinks=() if c['keep'] else inp.sinks)
    t_maps = time.time() - t0
    r = comprehensiveness(model, inp, lam, ks, SEEDS)
    res = dict(id=post['id'], block=block, cond=cond, n_context=inp.context.stop - inp.context.start,
               ultra=r['ultra'].tolist(), random=r['random'].tolist(), first_share=float(lam[0] / lam.sum()),
               t_maps=t_maps, t_total=time.time() - t0)
    CACHE.mkdir(parents=True, exist_ok=True); p.write_text(json.dumps(res))
    print(f"  post {post['id']} block {block} {cond}: {res['t_total']:.0f} s", flush=True)
    return res

def gain(r): return float(np.mean(r['ultra']) - np.mean(r['random']))

def boot(d, n_boot=2000, seed=0):
    "Mean and percentile bootstrap 95% interval over posts."
    i = np.random.default_rng(seed).integers(0, len(d), (n_boot, len(d)))
    return d.mean(), *np.percentile(d[i].mean(1), [2.5, 97.5])

def main(n_select, n_posts, blocks, sel_conds):
    sh = shared_dir()
    if sh is None: sys.exit("bench/llm_sinks.py needs ../shared (SmolLM2 GGUF and the TL;DR posts)")
    torch.set_num_threads(2)
    model, tok = load_causal_lm(sh / 'models', gguf_file='SmolLM2-135M-Instruct.Q4_1.gguf')
    posts = read_tldr(sh / 'data/tldr/tldr_val_1945.csv')
    random.Random(0).shuffle(posts)
    select, report = posts[:n_select], posts[n_select:n_select + n_posts]
    sweep, t_sel = {}, 0.
    for b in blocks:
        for cond in sel_conds:
            rs = [post_result(model, tok, p, b, cond, SEL_KS) for p in select]
            sweep[b, cond], t_sel = [gain(r) for r in rs], t_sel + sum(r['t_total'] for r in rs)
    block = max(blocks, key=lambda b: np.mean(sum((sweep[b, c] for c in sel_conds), [])))
    res = {cond: [] for cond in CONDITIONS}
    for p in report:  # post by post, both conditions: a stopped run leaves equal numbers of each in the cache
        for cond in CONDITIONS: res[cond].append(post_result(model, tok, p, block, cond, KS))
    write(res, sweep, blocks, block, n_select, len(posts), t_sel, sum(r['t_total'] for c in res for r in res[c]), sel_conds)

def write(res, sweep, blocks, block, n_select, n_kept, t_sel, t_rep, sel_conds):
    L = ['# Attention sinks in Token Contribution Scores, SmolLM2-135M-Instruct (GGUF, fp32), `bench/llm_sinks.py`', '',
         f'Posts: TL;DR validation, {n_kept} kept, shuffled with seed 0 (as bench/llm.py). **with**: BOS first, sinks left out of λ '
         '(`build_input(bos=True)`, `contribution_scores(maps, sinks=inp.sinks)`); **without**: no BOS, λ keeps the first context token '
         '(`bos=False`, `sinks=()`, the old behaviour). Comp_k = (S(x,y) − S(x∖R_k,y)) / |S(x,y)|; random: seeds '
         f'{SEEDS} averaged per post. The BOS stays in every perturbed input (`comprehensiveness` as of commit 0c4f88d).', '',
         f'## Block selection on the first {n_select} posts (subsampled: blocks {blocks}, k = {SEL_KS}%)', '',
         f"Mean over posts of (mean over k of Comp_ULTra − Comp_random), per condition; the block maximises the mean over {' and '.join(sel_conds)} (— not run).", '',
         '| block | with | without |', '|---|---|---|']
    L += ['| ' + ' | '.join([str(b)] + [f"{np.mean(sweep[b, c]):+.4f}" if (b, c) in sweep else '—' for c in CONDITIONS]) + ' |' for b in blocks]
    n = len(res['with'])
    L += ['', f'→ **block {block}** (0-based; 29 is the last). Selection compute: {t_sel:.0f} s (sum of the per-post times recorded when first computed).', '',
          f'## Comp_k on the next {n} posts (not used for selection), block {block}', '',
          'mean [bootstrap 95% interval over posts]; wins: posts where ULTra beats random at that k.', '',
          '| k | ULTra with | random with | ULTra − random, with | wins | ULTra without | random without | ULTra − random, without | wins | ULTra with − ULTra without |',
          '|---|---|---|---|---|---|---|---|---|---|']
    rows, A = [], {}
    for cond in CONDITIONS:
        A[cond] = (np.array([r['ultra'] for r in res[cond]]), np.array([np.mean(r['random'], 0) for r in res[cond]]))
    f = lambda t: f'{t[0]:.3f} [{t[1]:.3f}, {t[2]:.3f}]'
    for j, k in enumerate(KS):
        cells = []
        for cond in CONDITIONS:
            U, R = A[cond]
            cells += [f(boot(U[:, j])), f(boot(R[:, j])), f(boot(U[:, j] - R[:, j])), f'{int((U[:, j] > R[:, j]).sum())}/{n}']
            rows.append(dict(k=k, condition=cond, ultra=round(U[:, j].mean(), 4), random=round(R[:, j].mean(), 4),
                             diff=round((U[:, j] - R[:, j]).mean(), 4), wins=int((U[:, j] > R[:, j]).sum()), n=n))
        cells.append(f(boot(A['with'][0][:, j] - A['without'][0][:, j])))
        L.append(f'| {k}% | ' + ' | '.join(cells) + ' |')
    gw = np.array([gain(r) for r in res['with']]); go = np.array([gain(r) for r in res['without']])
    L += ['', f"Mean over k of (ULTra − random): with {f(boot(gw))}, without {f(boot(go))}; paired with − without: {f(boot(gw - go))} "
          f"(with ahead on {int((gw > go).sum())}/{n} posts). Share of λ on the first context token: with {np.mean([r['first_share'] for r in res['with']]):.1%}, "
          f"without {np.mean([r['first_share'] for r in res['without']]):.1%}. Report compute: {t_rep:.0f} s summed over posts and conditions "
          f"(median per post and condition {np.median([r['t_total'] for c in res for r in res[c]]):.0f} s)."]
    L += ['', f'Default this measurement supports (the condition with the larger mean over k of ULTra − random, paired difference above): '
          f'sinks {"excluded, BOS first" if np.mean(gw) >= np.mean(go) else "kept, no BOS"}.']
    save('llm_sinks', rows, L)
    p = ROOT / 'bench/results/selection.json'
    js = json.loads(p.read_text())
    js['llm'] = dict(model='SmolLM2-135M-Instruct', block=int(block), sinks='excluded' if np.mean(gw) >= np.mean(go) else 'kept',
                     split=f'TL;DR val posts shuffled with random.Random(0); the first {n_select} posts, blocks {list(blocks)}, k {list(SEL_KS)}%, '
                           f"conditions {' and '.join(sel_conds)}")
    p.write_text(json.dumps(js, indent=1) + '\n')

if __name__ == '__main__':
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--select', type=int, default=4); a.add_argument('--posts', type=int, default=20)
    a.add_argument('--blocks', type=int, nargs='+', default=[5, 11, 17, 23, 29])
    a.add_argument('--select-conds', nargs='+', choices=list(CONDITIONS), default=list(CONDITIONS), help='conditions the block is chosen on')
    a = a.parse_args()
    main(a.select, a.posts, a.blocks, a.select_conds)
