"""ULTra against the explainers users would pick instead (issue 21), on SmolLM2-135M summaries of TL;DR posts.

Every method gives a relevance per context token; every one is scored by `ultra_nb.faithfulness` (Comp_k, Suff_k, AOPC,
ABPC on the same removal grid). Posts: TL;DR validation, shuffled with random.Random(0) as bench/llm.py and
bench/llm_sinks.py do; posts[:6] chose llm_sinks' block and posts[6:106] are its report posts. Two stages:

    python bench/peers_text.py select [--select 6]
        # ULTra's text objective, on SELECTION posts only: the first --select posts after posts[:106] whose context is at most
        # SEL_MAX_TOKENS tokens (short, to keep 4 objectives affordable on this CPU); disjoint from every report post.
        # Criterion: mean over posts of the mean Comp_k over KS. -> peers_text_select.md, "llm_objective" in selection.json
    python bench/peers_text.py report [--posts 100] [--subset 3] [--shard K/N] [--written-only]
        # posts[6:6 + --posts] (never used for any selection), every method x metric x k -> peers_text.{csv,md},
        # nbs/images/peers_text_comp.png. captum's LIG and FeatureAblation (|y| x n_steps and |x| passes) only on the first
        # --subset report posts whose context is at most SUBSET_MAX_TOKENS tokens. --shard K/N splits the posts between N workers.

Every (post, method) result is appended to bench/results/peers_text_posts.jsonl (committed): a stopped run resumes where it
stopped. --written-only writes the tables from the records, computing nothing.
"""
import argparse, json, sys, time
import numpy as np, torch
from ultra_nb.material import shared_dir, smollm2, tldr_posts
from ultra_nb.llm import build_input, summary_maps, contribution_scores, merge_words, comprehensiveness
from ultra_nb.faithfulness import faithfulness, bootstrap, paired, fmt_ci, removal_grid
from ultra_nb.peers import peer_scores
from segmentation import ROOT, save

RECORD = ROOT / 'bench/results/peers_text_posts.jsonl'
SELECTION = ROOT / 'bench/results/selection.json'
KS, N_SEL_SKIP, REPORT0 = (10, 20, 50), 106, 6
SEL_MAX_TOKENS, SUBSET_MAX_TOKENS, LIG_STEPS = 250, 200, 4
DEFAULT = 'ultra:sum@18'  # the text preset before this benchmark (bench/llm_sinks.py select)
CANDIDATES = ('ultra:sum@18', 'ultra:energy@18', 'ultra:sum_nomassive@18', 'ultra:logprob@29')
LOGPROB = 'ultra:logprob@29'  # the objective the issue asks to measure: reported whatever the selection says
PEERS = ('attnlrp', 'input_x_grad', 'attention', 'rollout')
SUBSET = ('lig', 'ablation')

def known():
    if not RECORD.exists(): return {}
    return {(r['id'], r['method']): r for r in map(json.loads, RECORD.read_text().splitlines())}

def scores_of(method, model, tok, inp, post_id):
    "Relevance per context token for a method name: 'ultra:<objective>@<block>', a peer, or 'random'."
    if method == 'random': return torch.rand(inp.context.stop - inp.context.start, generator=torch.Generator().manual_seed(post_id))
    if method.startswith('ultra:'):
        obj, block = method[6:].split('@')
        return contribution_scores(summary_maps(model, inp, int(block), obj), inp.sinks)
    return peer_scores(method, model, tok, inp, **({'n_steps': LIG_STEPS} if method == 'lig' else {}))

def result(model, tok, post, method, stage, done, full=True):
    k = (post['id'], method)
    if k in done: return done[k]
    inp = build_input(tok, post['context'], post['summary'], model=model)
    t0 = time.time()
    s = scores_of(method, model, tok, inp, post['id']).double()
    t = time.time() - t0
    if full: f = faithfulness(model, inp, s, KS)
    else:  # selection: Comp_k only (the criterion), one forward per k
        c = comprehensiveness(model, inp, s, KS, seeds=())
        f = dict(comp=np.asarray(c['ultra']), suff=np.full(len(KS), np.nan), Q=list(KS), most=np.asarray(c['ultra']), least=np.full(len(KS), np.nan),
                 aopc=float(np.mean(c['ultra'])), abpc=float('nan'), S=float(c['S']))
    words = [w.strip() for w, v in sorted((w for w in merge_words(inp.pieces[inp.context], s.numpy()) if not np.isnan(w[1])), key=lambda w: -w[1])[:5]]
    r = dict(id=post['id'], method=method, stage=stage, n_context=inp.context.stop - inp.context.start, n_summary=inp.summary.stop - inp.summary.start,
             ks=list(KS), comp=f['comp'].round(6).tolist(), suff=f['suff'].round(6).tolist(), Q=f['Q'], most=f['most'].round(6).tolist(),
             least=f['least'].round(6).tolist(), aopc=round(f['aopc'], 6), abpc=round(f['abpc'], 6), S=round(f['S'], 4),
             seconds=round(t, 1), t_metrics=round(time.time() - t0 - t, 1), top5=words, scores=[float(f'{v:.4g}') for v in s.tolist()])
    with open(RECORD, 'a') as fh: fh.write(json.dumps(r) + '\n')
    done[k] = r
    print(f"  post {post['id']} {method}: {t:.0f} s + metrics {r['t_metrics']:.0f} s, mean Comp {np.mean(r['comp']):+.3f}", flush=True)
    return r

def setup(need_model=True):
    sh = shared_dir()
    if sh is None: sys.exit("bench/peers_text.py needs ../shared (SmolLM2 GGUF and the TL;DR posts)")
    torch.set_num_threads(1)
    model, tok = smollm2(weights=need_model)
    return model, tok, tldr_posts()

def selection_posts(tok, posts, n):
    return [p for p in posts[N_SEL_SKIP:] if len(tok(p['context'], add_special_tokens=False)['input_ids']) <= SEL_MAX_TOKENS][:n]

def crit(r): return float(np.mean(r['comp']))

def select(n_select, written_only=False):
    model, tok, posts = setup(not written_only)
    sel, done = selection_posts(tok, posts, n_select), known()
    methods = CANDIDATES
    res = {m: [] for m in methods}
    for p in sel:
        if written_only and not all((p['id'], m) in done for m in methods): break
        for m in methods: res[m].append(result(model, tok, p, m, 'select', done, full=False))
    n = len(res[DEFAULT])
    best = max(CANDIDATES, key=lambda m: np.mean([crit(r) for r in res[m]]))
    L = ['# ULTra text objective, chosen on selection posts, SmolLM2-135M-Instruct (GGUF, fp32), `bench/peers_text.py select`', '',
         f'Selection posts: TL;DR validation shuffled with random.Random(0); the first {n} posts after posts[:{N_SEL_SKIP}] whose context is at most '
         f'{SEL_MAX_TOKENS} tokens (ids {[p["id"] for p in sel[:n]]}) — none is a report post of `peers_text.md` or `llm_sinks.md` (posts[6:106]). '
         f'Criterion (fixed before the run): mean over posts of the mean Comp_k over k = {KS} % (only Comp_k is computed here). '
         'Cells: mean [bootstrap 95% interval over posts]; per post in the last column.', '',
         '| method | ' + ' | '.join(f'Comp {k}%' for k in KS) + ' | mean Comp_k (criterion) | paired vs ULTra sum@18 | per post |', '|---|' + '---|' * (len(KS) + 3)]
    for m in methods:
        c = [crit(r) for r in res[m]]
        L.append(f"| {m} | " + ' | '.join(fmt_ci(bootstrap([r['comp'][j] for r in res[m]])) for j in range(len(KS)))
                 + f" | {fmt_ci(bootstrap(c))} | {fmt_ci(paired(c, [crit(r) for r in res[DEFAULT]])) if m != DEFAULT else '—'} | {', '.join(f'{v:+.3f}' for v in c)} |")
    obj, block = best[6:].split('@')
    L += ['', f'→ **{best}** has the highest criterion among ULTra\'s objectives. Selection compute: '
          f"{sum(r['seconds'] + r['t_metrics'] for m in methods for r in res[m]):.0f} s on this shared 2-core CPU, one thread."]
    (ROOT / 'bench/results/peers_text_select.md').write_text('\n'.join(L) + '\n'); print('\n'.join(L))
    js = json.loads(SELECTION.read_text())
    js['llm_objective'] = dict(model='SmolLM2-135M-Instruct', objective=obj, block=int(block), n_blocks=30, select_posts=[p['id'] for p in sel[:n]],
                               criterion=f'mean Comp_k over k {list(KS)}%', candidates=list(CANDIDATES),
                               split=f'TL;DR val shuffled with random.Random(0); the first {n} posts after posts[:{N_SEL_SKIP}] with context <= {SEL_MAX_TOKENS} tokens',
                               source=f'python bench/peers_text.py select --select {n_select}', date=time.strftime('%Y-%m-%d'))
    SELECTION.write_text(json.dumps(js, indent=1) + '\n')

def report_methods():
    "ULTra's default, ULTra with the log-probability objective, the selected objective (when selection chose a third), the peers, random."
    ch = json.loads(SELECTION.read_text()).get('llm_objective')
    chosen = f"ultra:{ch['objective']}@{ch['block']}" if ch else None
    if chosen == LOGPROB: chosen = None
    return (DEFAULT,) + tuple(m for m in (LOGPROB, chosen) if m and m != DEFAULT) + PEERS + ('random',)

def report(n_posts, n_subset, written_only, shard=(0, 1), first=0):
    model, tok, posts = setup(not written_only)
    done, methods = known(), report_methods()
    rep = posts[REPORT0:REPORT0 + n_posts]
    sub = [p['id'] for p in rep if len(tok(p['context'], add_special_tokens=False)['input_ids']) <= SUBSET_MAX_TOKENS][:n_subset]
    for i, p in enumerate(rep):
        if written_only: break
        if i < first or i % shard[1] != shard[0]: continue  # another worker's post
        methods = report_methods()  # the selected objective joins as soon as `select` has written it, also on the posts done before
        for q in [q for j, q in enumerate(rep[:i + 1]) if j >= first and j % shard[1] == shard[0]]:
            for m in methods: result(model, tok, q, m, 'report', done)
        if p['id'] in sub:
            for m in SUBSET: result(model, tok, p, m, 'report', done)
    write(rep, done, report_methods(), tok)

def write(rep, done, methods, tok):
    full = [p for p in rep if all((p['id'], m) in done for m in methods)]
    n = len(full)
    if not n: sys.exit('no report post has every method yet')
    ALL = methods + SUBSET
    R = {m: [done[p['id'], m] for p in rep if (p['id'], m) in done] for m in ALL}  # every post where the method is done
    subset = [p for p in rep if all((p['id'], m) in done for m in methods + SUBSET)]
    rows, L = [], ['# ULTra and its peers on summaries, SmolLM2-135M-Instruct (GGUF, fp32), `bench/peers_text.py report`', '',
         f'Report posts: TL;DR validation shuffled with random.Random(0), posts[{REPORT0}:{REPORT0}+N] in order (never used for selection; the '
         f'objective was chosen on other posts, `peers_text_select.md`). **{n} posts** have every method (a method\'s row uses every report post '
         'where it was computed — its own post count — and Δ pairs it with the default on the posts both have)'
         + (f' (the issue asks 100; the run is resumable: `python bench/peers_text.py report --posts 100` extends it)' if n < 100 else '')
         + f"; captum's LIG (n_steps {LIG_STEPS}) and FeatureAblation on **{len(subset)}** of them (the first with at most {SUBSET_MAX_TOKENS} context tokens: "
         'one pass per summary token and step, one forward per context token). The human TL;DR is the summary; every method explains it over the context; '
         'the BOS and separator stay in every cut input. Metrics (`ultra_nb.faithfulness`): Comp_k (remove the top k %, higher is better), '
         'Suff_k (keep only the top k %, lower is better), AOPC (mean most-relevant-first drop over Q = '
         f'{removal_grid(KS)} %), ABPC (mean over Q of most-first minus least-first drop), all relative to |S(x, y)|. '
         'Cells: mean [bootstrap 95% interval over posts]; Δ: paired difference against ULTra\'s default (`' + DEFAULT + '`, the preset before this run). '
         'Seconds: the method alone (metrics excluded), median over posts, one thread on a shared 2-core CPU (other jobs running). Per-post records: `peers_text_posts.jsonl`.', '']
    L += ['| method | posts | ' + ' | '.join(f'Comp {k}%' for k in KS) + ' | ' + ' | '.join(f'Suff {k}%' for k in KS) + ' | AOPC | ABPC | Δ AOPC vs default | Δ ABPC vs default | s / post |',
          '|---|---|' + '---|' * (2 * len(KS) + 5)]
    for m in ALL:
        rs = R[m]
        if not rs: continue
        base = {r['id']: r for r in R[DEFAULT]}
        both = [r for r in rs if r['id'] in base]
        cells = [fmt_ci(bootstrap([r['comp'][j] for r in rs])) for j in range(len(KS))] + [fmt_ci(bootstrap([r['suff'][j] for r in rs])) for j in range(len(KS))]
        dA = '—' if m == DEFAULT or not both else fmt_ci(paired([r['aopc'] for r in both], [base[r['id']]['aopc'] for r in both]))
        dB = '—' if m == DEFAULT or not both else fmt_ci(paired([r['abpc'] for r in both], [base[r['id']]['abpc'] for r in both]))
        L.append(f'| {m} | {len(rs)} | ' + ' | '.join(cells) + f" | {fmt_ci(bootstrap([r['aopc'] for r in rs]))} | {fmt_ci(bootstrap([r['abpc'] for r in rs]))} | {dA} | {dB} | {np.median([r['seconds'] for r in rs]):.1f} |")
        for j, k in enumerate(KS):
            rows.append(dict(method=m, k=k, posts=len(rs), comp=round(np.mean([r['comp'][j] for r in rs]), 4), suff=round(np.mean([r['suff'][j] for r in rs]), 4),
                             aopc=round(np.mean([r['aopc'] for r in rs]), 4), abpc=round(np.mean([r['abpc'] for r in rs]), 4), seconds=round(float(np.median([r['seconds'] for r in rs])), 1)))
    # what ULTra's λ puts first: correlation with AttnLRP, share on the first context token
    corr = lambda a, b: [np.corrcoef(done[p['id'], a]['scores'], done[p['id'], b]['scores'])[0, 1] for p in full]
    L += [''] + [f"Pearson correlation of {a}'s relevance with {b}'s, per post: mean {np.mean(c):+.2f} (range {min(c):+.2f} … {max(c):+.2f})."
                 for a, b in ((DEFAULT, 'attnlrp'), (LOGPROB, 'attnlrp'), (DEFAULT, LOGPROB)) for c in [corr(a, b)]] + ['',
          '![Comp_k](../../nbs/images/peers_text_comp.png)', '', '## Top-5 words of each method, first 3 report posts', '']
    for p in full[:3]:
        L.append(f"**Post {p['id']}** — summary: “{p['summary'][:160]}”"); L.append('')
        L += ['| method | top-5 context words |', '|---|---|'] + [f"| {m} | {', '.join(done[p['id'], m]['top5'])} |" for m in ALL if (p['id'], m) in done] + ['']
    save('peers_text', rows, L)
    figure(R, ALL, n)

def figure(R, methods, n):
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, m in enumerate(methods):
        rs = R[m]
        if not rs: continue
        t = np.array([bootstrap([r['comp'][j] for r in rs]) for j in range(len(KS))])
        x = np.array(KS) + (i - len(methods) / 2) * 0.35
        ax.errorbar(x, t[:, 0], yerr=[t[:, 0] - t[:, 1], t[:, 2] - t[:, 0]], fmt='-o', ms=3, capsize=2, label=f'{m} ({len(rs)})',
                    lw=2.2 if m.startswith('ultra') else 1, ls=':' if m == 'random' else '-')
    ax.set(xlabel='context removed, k (%)', ylabel='Comp_k (mean, 95% bootstrap interval)', xticks=KS,
           title=f'SmolLM2-135M, {n} TL;DR report posts (posts per method in brackets)')
    ax.legend(fontsize=7); fig.tight_layout(); fig.savefig(ROOT / 'nbs/images/peers_text_comp.png', dpi=110); plt.close(fig)

if __name__ == '__main__':
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('stage', choices=['select', 'report'])
    a.add_argument('--select', type=int, default=6, help='selection posts (select)')
    a.add_argument('--posts', type=int, default=100, help='report posts (report)')
    a.add_argument('--subset', type=int, default=3, help="report posts that also get captum's LIG and FeatureAblation")
    a.add_argument('--shard', default='0/1', help='K/N: this worker takes report posts i with i %% N == K (run N workers at once)')
    a.add_argument('--first', type=int, default=0, help='this worker starts at report post index FIRST (another worker takes the earlier ones)')
    a.add_argument('--written-only', action='store_true', help='write the tables from the records, computing nothing')
    a = a.parse_args()
    if a.stage == 'select': select(a.select, a.written_only)
    else: report(a.posts, a.subset, a.written_only, tuple(map(int, a.shard.split('/'))), a.first)
