"""The fault table of issue 25: every file, folder, dataset, cache, device and model problem a new user meets, fed to the
installed `ultra-nb` command and to the API as a user would, with the exit code, the first line said and the seconds to fail;
then the 21 bad inputs of `bench/bad_inputs.py` (issue 11).

    PYTHONPATH=. python bench/faults.py          # every case -> bench/results/faults.md and faults.csv (about 15 min here)
    PYTHONPATH=. python bench/faults.py --fast   # only the cases that stop before any weights load

A case passes when it ends as expected and never in a traceback, a `nan` table or a silent success:
- `error`: exit 2 (CLI) with exactly one `ultra-nb: error:` line, or one `ValueError` / `TypeError` sentence (API);
- `skip`: exit 0, the bad item named in a warning and in OUT/skipped.txt (or the metrics' `skipped` column), the good ones done;
- `ok`: exit 0 (or a result), and the check written next to the case holds (right conversion, resumed, same maps, ...).
`tests/test_faults.py` runs the `--fast` cases (the CLI ones in-process) and one batch-with-a-bad-image case end to end.
"""
from __future__ import annotations
import contextlib, csv, io, json, os, pickle, re, signal, subprocess, sys, tempfile, time, warnings
from dataclasses import dataclass, field
from pathlib import Path
import numpy as np, torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / 'shared'
DEIT = ['--model', 'deit_tiny_patch16_224']

@dataclass
class Case:
    group: str
    name: str
    via: str  # 'cli' (the installed command) or 'api'
    expect: str  # 'error', 'skip' or 'ok'
    run: object  # cli: argv list; api: a callable
    check: object = None  # (result) -> None when right, else what is wrong
    env: dict = field(default_factory=dict)
    slow: bool = False  # loads weights (the CLI cases that do real work)
    need: str = ''  # 'shared' when it needs ../shared

# ---------------------------------------------------------------- running one case

def run_cli(argv, env=None, inprocess=False, timeout=900, until=None, until_file=None) -> dict:
    "Run `ultra-nb ARGV`; `until` (a regex on stdout), or a .pt file appearing under `until_file`, ends it with SIGINT. -> code, out, err, secs."
    argv = [str(a) for a in argv]
    env = {k: str(v) for k, v in (env or {}).items()}
    t0 = time.perf_counter()
    if inprocess:
        from ultra_nb.cli import main
        out, err, old = io.StringIO(), io.StringIO(), {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
                warnings.simplefilter('always')
                try: main(argv); code = 0
                except SystemExit as e: code = e.code
                except BaseException as e:
                    import traceback; traceback.print_exc(); code = f'{type(e).__name__}'
        finally:
            for k, v in old.items():
                if v is None: os.environ.pop(k, None)
                else: os.environ[k] = v
        return dict(code=code, out=out.getvalue(), err=err.getvalue(), secs=time.perf_counter() - t0)
    full_env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', **env}
    if until_file is not None:
        p = subprocess.Popen(['ultra-nb', *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
        while p.poll() is None and not any(Path(until_file).rglob('*.pt')): time.sleep(0.2)
        if p.poll() is None: p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=timeout)
        return dict(code=p.returncode, out=out, err=err, secs=time.perf_counter() - t0)
    if until is None:
        try: r = subprocess.run(['ultra-nb', *argv], capture_output=True, text=True, env=full_env, timeout=timeout)
        except subprocess.TimeoutExpired as e: return dict(code='timeout', out=e.stdout or '', err=e.stderr or '', secs=time.perf_counter() - t0)
        return dict(code=r.returncode, out=r.stdout, err=r.stderr, secs=time.perf_counter() - t0)
    p = subprocess.Popen(['ultra-nb', *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
    out = []
    for line in p.stdout:  # read until the pattern shows, then interrupt
        out.append(line)
        if re.search(until, line): p.send_signal(signal.SIGINT); break
    rest, err = p.communicate(timeout=timeout)
    return dict(code=p.returncode, out=''.join(out) + rest, err=err, secs=time.perf_counter() - t0)

def run_api(fn) -> dict:
    "Call `fn`; an exception is the result ('error'), as is what it returns."
    t0, said = time.perf_counter(), io.StringIO()
    with warnings.catch_warnings(record=True) as w, contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter('always')
        try: value, code, err = fn(), 0, ''
        except SystemExit as e: value, code, err = None, e.code, said.getvalue().strip()  # a CLI call made in-process
        except (ValueError, TypeError, FileExistsError) as e: value, code, err = None, type(e).__name__, f'{type(e).__name__}: {e}'
        except Exception as e:
            import traceback
            value, code, err = None, type(e).__name__, 'Traceback (unexpected)\n' + traceback.format_exc()
    return dict(code=code, out='', err=err, value=value, warnings=[str(x.message) for x in w], secs=time.perf_counter() - t0)

def _short(v) -> str:
    "A result in a few words, for the table."
    if isinstance(v, dict): return 'result: ' + ', '.join(f'{k} {x}' for k, x in v.items() if not isinstance(x, (list, str)) or len(str(x)) < 40)
    if isinstance(v, np.ndarray): return f'(H, W, 3) {v.dtype} array, mean {v.mean():.1f}'
    if isinstance(v, float): return f'max difference {v:.2g}'
    return '' if v is None else f'result: {v}'

def judge(c:Case, r:dict) -> tuple:
    "(verdict, first line) of a case's result."
    text = r['out'] + r['err']
    lines = [l for l in r['err'].splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith('ultra-nb: error:')]
    warns = [l for l in lines if l.startswith('ultra-nb: warning:')] + [f'warning: {w}' for w in r.get('warnings', [])]
    v = r.get('value')
    said = [l for l in (r['out'] + (v['out'] + v['err'] if isinstance(v, dict) and 'out' in v else '')).splitlines() if l.startswith('ultra-nb:')]
    first = (errors or (r['err'].splitlines() if c.expect == 'error' else []) or warns or said or [l for l in r['out'].splitlines() if l.strip()]
             or [_short(v)])[0]
    if 'Traceback' in text: return 'FAIL: traceback', first
    if re.search(r'\bnan\b', r['out']): return 'FAIL: nan in the output', first
    if c.expect == 'error':
        if r['code'] in (0, None) and not r['err']: return 'FAIL: silent success', first
        if c.via == 'cli' and (r['code'] != 2 or len(errors) != 1 or len([l for l in lines if not l.startswith('ultra-nb: warning:')]) != 1):
            return f"FAIL: exit {r['code']}, {len(lines)} stderr lines", first
        if c.via == 'api' and r['err'].count('\n') > 0: return 'FAIL: more than one line', first
    else:
        if r['code'] not in (0, None) and not (c.expect == 'ok' and r['code'] == 130): return f"FAIL: exit {r['code']}", first
        if c.expect == 'skip' and not warns: return 'FAIL: nothing said about the skipped item', first
        if c.expect == 'skip': first = warns[0]
    if c.check is not None:
        try: why = c.check(r)
        except Exception as e: why = f'check raised {type(e).__name__}: {e}'
        if why: return f'FAIL: {why}', first
    return 'pass', first

def run_case(c:Case, inprocess=False, both=False) -> dict:
    "Run one case and judge it; `both`: a CLI case that loads no weights also runs in-process, timing the checks without the start-up."
    r = run_cli(c.run, c.env, inprocess=inprocess) if c.via == 'cli' else run_api(c.run)
    verdict, first = judge(c, r)
    row = dict(group=c.group, case=c.name, via=c.via + (' (in-process)' if inprocess and c.via == 'cli' else ''), expect=c.expect,
               exit=r['code'], seconds=round(r['secs'], 2))
    if both:
        r2 = run_cli(c.run, c.env, inprocess=True) if c.via == 'cli' and not c.slow else None
        v2 = judge(c, r2)[0] if r2 else 'pass'
        if v2 != 'pass' and verdict == 'pass': verdict = f'{v2} (in-process)'
        row['checks_s'] = round(r2['secs'], 3) if r2 else ''
    return row | dict(first_line=first.strip()[:300], verdict=verdict)

# ---------------------------------------------------------------- the hand-made bad files

def make_files(d:Path) -> dict:
    "Every bad (and good) file the cases use, made in `d`."
    f = {}
    voc = SHARED / 'data/voc2012-val-14'
    rng = np.random.default_rng(0)
    good = [voc / f'JPEGImages/vainf_{i:04d}.jpg' for i in (20, 60, 23)] if SHARED.is_dir() else []
    f['img'] = d / 'cat.png'; Image.fromarray((rng.random((64, 80, 3)) * 255).astype(np.uint8)).save(f['img'])
    f['cut'] = d / 'truncated.jpg'
    src = good[2].read_bytes() if good else _jpeg_bytes(rng)
    f['cut'].write_bytes(src[:len(src) // 2])
    f['cut_header'] = d / 'header_only.jpg'; f['cut_header'].write_bytes(src[:300])
    f['notimg'] = d / 'notes.jpg'; f['notimg'].write_text('this is text, not a JPEG')
    f['dir_img'] = d / 'folder.png'; f['dir_img'].mkdir()
    f['big'] = d / 'big_14000.png'; Image.new('1', (14000, 14000)).save(f['big'])
    f['big10'] = d / 'big_10000.png'; Image.new('1', (10000, 10000)).save(f['big10'])
    ramp = (np.add.outer(np.arange(64), np.arange(64)) * 512).astype(np.uint16)  # 0..64512: a 16-bit grey ramp
    f['g16'] = d / 'grey16.png'; Image.fromarray(ramp).save(f['g16'])
    f['g8'] = d / 'grey8.png'; Image.fromarray(np.round(ramp / 65535 * 255).astype(np.uint8)).save(f['g8'])
    pal = Image.fromarray((np.arange(64 * 64) % 4).reshape(64, 64).astype(np.uint8), 'P')
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0]); f['pal'] = d / 'palette.png'; pal.save(f['pal'])
    f['pal_rgb'] = d / 'palette_as_rgb.png'; pal.convert('RGB').save(f['pal_rgb'])
    up = np.zeros((48, 96, 3), np.uint8); up[:, :48] = 255
    ex = Image.Exif(); ex[0x0112] = 6
    f['exif'] = d / 'exif_rotated.jpg'; Image.fromarray(up).save(f['exif'], exif=ex, quality=95)
    f['text'] = d / 'notes.txt'; f['text'].write_text('not weights')
    f['pickle'] = d / 'obj.pkl'; pickle.dump({'a': [1, 2]}, open(f['pickle'], 'wb'))
    f['empty'] = d / 'empty.pth'; f['empty'].write_bytes(b'')
    f['wrong_sd'] = d / 'wrong.pth'; torch.save({'w': torch.ones(3)}, f['wrong_sd'])
    f['afile'] = d / 'afile'; f['afile'].write_text('')
    (d / 'models').mkdir(); f['bad_gguf'] = d / 'models/bad.gguf'; f['bad_gguf'].write_text('not a gguf')
    f['cut_gguf'] = d / 'models/cut.gguf'; f['cut_gguf'].write_bytes(b'GGUF\x03\x00\x00\x00' + bytes(20))
    f['latin1'] = d / 'latin1.txt'; f['latin1'].write_bytes('Un café très noir, à Zürich.'.encode('latin-1'))
    f['post'] = d / 'post.txt'; f['post'].write_text('I moved to a new city last month and I still know nobody here. '
                                                     'Work is fine but evenings are lonely. How do adults make friends?')
    f['long'] = d / 'long_post.txt'; f['long'].write_text(' '.join(['the evenings here are long and quiet'] * 800))
    # issue 35: damaged-but-decodable JPEGs, valid ones with trailing data, far-from-square shapes, other text encodings
    f['cut_eoi'] = d / 'cut_eoi.jpg'; f['cut_eoi'].write_bytes(src[:len(src) // 2] + b'\xff\xd9')
    f['holed'] = d / 'holed.jpg'; f['holed'].write_bytes(src[:len(src) // 3] + src[2 * len(src) // 3:])
    f['clean_jpg'] = d / 'clean.jpg'; f['clean_jpg'].write_bytes(src)
    f['motion'] = d / 'motion.jpg'; f['motion'].write_bytes(src + b'\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42' + bytes(rng.integers(0, 256, 50_000, dtype=np.uint8)))
    f['zpad'] = d / 'zero_padded.jpg'; f['zpad'].write_bytes(src + bytes(8192))
    f['strip'] = d / 'strip.png'; Image.fromarray((rng.random((200, 20000, 3)) * 255).astype(np.uint8)).save(f['strip'])
    f['dot'] = d / 'dot.png'; Image.new('RGB', (1, 1), (200, 30, 30)).save(f['dot'])
    f['utf16'] = d / 'post_utf16.txt'; f['utf16'].write_text(f['post'].read_text(), encoding='utf-16')
    f['cp1252'] = d / 'post_cp1252.txt'; f['cp1252'].write_bytes('“I moved to a new city” – and I still know nobody.'.encode('cp1252'))
    if good:  # VOC-like trees: good, empty split, missing id, missing label, label of another size, Latin-1 split file
        for name in ('voc_ok', 'voc_empty', 'voc_missing_id', 'voc_missing_label', 'voc_size', 'voc_latin1', 'voc_all_bad'):
            r = d / name; (r / 'JPEGImages').mkdir(parents=True); (r / 'SegmentationClass').mkdir()
            for g in good[:2]:
                (r / 'JPEGImages' / g.name).write_bytes(g.read_bytes())
                (r / 'SegmentationClass' / f'{g.stem}.png').write_bytes((voc / f'SegmentationClass/{g.stem}.png').read_bytes())
            (r / 'val.txt').write_text('\n'.join(g.stem for g in good[:2]) + '\n')
            f[name] = r
        (d / 'voc_empty/val.txt').write_text('')
        (d / 'voc_missing_id/val.txt').write_text('vainf_0020\nvainf_0060\nno_such_id\n')
        (d / f'voc_missing_label/SegmentationClass/{good[1].stem}.png').unlink()
        lab = Image.open(voc / f'SegmentationClass/{good[1].stem}.png'); lab.transpose(Image.Transpose.TRANSPOSE).crop((0, 0, 200, 100)).save(
            d / f'voc_size/SegmentationClass/{good[1].stem}.png')
        (d / 'voc_latin1/val.txt').write_bytes('vainf_0020\ncafé\n'.encode('latin-1'))
        (d / 'voc_all_bad/val.txt').write_text('nope1\nnope2\n')
        f['good'] = good
    return f

def _jpeg_bytes(rng):
    b = io.BytesIO(); Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(b, 'JPEG'); return b.getvalue()

# ---------------------------------------------------------------- the cases

def cases(d:Path, f:dict) -> list:
    from ultra_nb import ULTra
    from ultra_nb.api import Maps
    from ultra_nb.fam_timm import tiny_vit
    from ultra_nb.inputs import read_rgb
    from ultra_nb.maps import ultra_maps, ultra_rows
    from ultra_nb.llm import summary_maps
    from ultra_nb.cache import MapCache
    from ultra_nb.evaluate import SegScore
    shared = {'ULTRA_NB_WEIGHTS': SHARED / 'models', 'ULTRA_NB_CACHE': d / 'cache'}
    out = lambda name: d / 'out' / name
    vit, x = tiny_vit(), torch.randn(1, 3, 32, 32)
    u = ULTra(vit, verbose=False)
    C = []
    def cli(group, name, argv, expect='error', check=None, env=None, slow=False, need=''):
        C.append(Case(group, name, 'cli', expect, argv, check, {**shared, **(env or {})}, slow, need))
    def api(group, name, fn, expect='error', check=None):
        C.append(Case(group, name, 'api', expect, fn, check))

    # files
    cli('files', 'truncated JPEG (half the bytes)', ['maps', f['cut'], '--out', out('a')])
    cli('files', 'truncated JPEG (header only)', ['segment', f['cut_header'], '--out', out('a')])
    cli('files', 'a text file named .jpg', ['maps', f['notimg'], '--out', out('a')])
    cli('files', 'a folder named as an image', ['maps', f['dir_img'], '--out', out('a')])
    cli('files', 'missing image', ['maps', d / 'nope.png', '--out', out('a')])
    cli('files', '14,000² image (was DecompressionBombError)', ['maps', f['big'], '--out', out('a')])
    cli('files', '10,000² image (was 4 minutes at 3 GB)', ['segment', f['big10'], '--out', out('a')])
    cli('files', 'bad image among good ones, --on-bad stop', ['maps', f['img'], f['cut'], '--on-bad', 'stop', '--out', out('a')])
    cli('files', 'text file as --checkpoint', ['maps', f['img'], *DEIT, '--checkpoint', f['text'], '--out', out('a')])
    cli('files', 'pickle of a dict of lists as --checkpoint', ['maps', f['img'], *DEIT, '--checkpoint', f['pickle'], '--out', out('a')], slow=True)
    cli('files', 'empty file as --checkpoint', ['maps', f['img'], *DEIT, '--checkpoint', f['empty'], '--out', out('a')])
    cli('files', 'state dict of another model as --checkpoint', ['maps', f['img'], *DEIT, '--checkpoint', f['wrong_sd'], '--out', out('a')], slow=True)
    cli('files', '--weights-dir names a file', ['maps', f['img'], *DEIT, '--weights-dir', f['afile'], '--out', out('a')], env={'ULTRA_NB_WEIGHTS': ''})
    g8 = lambda: read_rgb(f['g8'])
    api('files', '16-bit grey PNG is scaled, not clipped to white', lambda: read_rgb(f['g16']), 'ok',
        lambda r: None if np.abs(r['value'].astype(int) - g8().astype(int)).max() <= 1 else 'differs from the 8-bit image')
    api('files', '16-bit grey PNG gives the maps of its 8-bit copy', lambda: (u.maps(f['g16']).grid_maps - u.maps(f['g8']).grid_maps).abs().max().item(), 'ok',
        lambda r: None if r['value'] < 1e-3 else f"max difference {r['value']:.3g}")
    api('files', 'palette PNG reads as its colours', lambda: read_rgb(f['pal']), 'ok',
        lambda r: None if (r['value'] == read_rgb(f['pal_rgb'])).all() else 'colours differ')
    api('files', 'EXIF-rotated JPEG is read upright', lambda: u.maps(f['exif']).sizes[0], 'ok',
        lambda r: None if tuple(r['value']) == (96, 48) else f"size {r['value']} (sideways)")
    # output and cache folders
    cli('folders', '--out under /sys', ['maps', f['img'], '--out', '/sys/ultra_out'])
    cli('folders', '--out under /proc (read-only)', ['segment', f['img'], '--out', '/proc/ultra_out'])
    cli('folders', '--out is a file', ['maps', f['img'], '--out', f['afile']])
    cli('folders', '--out is inside a file', ['maps', f['img'], '--out', f['afile'] / 'sub'])
    if 'voc_ok' in f:
        ev = ['eval', f['voc_ok'], '--dataset', 'voc', *DEIT, '--k', 3]
        cli('folders', '$ULTRA_NB_CACHE names a file (eval)', [*ev, '--out', out('c1')], env={'ULTRA_NB_CACHE': f['afile']})
        cli('folders', '$ULTRA_NB_CACHE is not writable (eval)', [*ev, '--out', out('c2')], env={'ULTRA_NB_CACHE': '/proc/ultra_cache'})
        cli('folders', 'eval --out under /sys (checked before any work)', [*ev, '--out', '/sys/m'])
    api('folders', 'ULTra(model, cache=<a file>)', lambda: ULTra(vit, cache=f['afile']))
    def swapped():
        c = MapCache(d / 'swap'); x1, x2 = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)
        comp = lambda x: (lambda: ultra_maps(vit, x, size=None))
        m1 = c.get_or_compute(vit, x1, comp(x1), block=-1); c.get_or_compute(vit, x2, comp(x2), block=-1)
        p1, p2 = c.path(vit, x1, block=-1), c.path(vit, x2, block=-1)
        b1, b2 = p1.read_bytes(), p2.read_bytes(); p1.write_bytes(b2); p2.write_bytes(b1)
        return (c.get_or_compute(vit, x1, comp(x1), block=-1) - m1).abs().max().item()
    api('folders', 'cache entries swapped between two images', swapped, 'ok',
        lambda r: None if r['value'] == 0 and any('another model, input or settings' in w for w in r['warnings']) else f"{r['value']}, {r['warnings']}")
    def wrong_shape():
        c = MapCache(d / 'shape'); uc = ULTra(vit, cache=c, verbose=False); m = uc.maps(x).grid_maps
        p = next((d / 'shape').rglob('*.pt')); e = torch.load(p); e['maps'] = torch.zeros(1, 5, 5); torch.save(e, p)
        return (uc.maps(x).grid_maps - m).abs().max().item()
    api('folders', 'cache entry of the wrong shape (was a scipy error)', wrong_shape, 'ok',
        lambda r: None if r['value'] == 0 and any('holds maps of shape' in w for w in r['warnings']) else f"{r['value']}, {r['warnings']}")
    def unreadable():
        c = MapCache(d / 'junk'); uc = ULTra(vit, cache=c, verbose=False); m = uc.maps(x).grid_maps
        next((d / 'junk').rglob('*.pt')).write_bytes(b'junk'); return (uc.maps(x).grid_maps - m).abs().max().item()
    api('folders', 'cache entry that does not load', unreadable, 'ok',
        lambda r: None if r['value'] == 0 and any('cannot be read' in w for w in r['warnings']) else f"{r['value']}, {r['warnings']}")
    fp = "import torch; torch.set_num_threads({}); from ultra_nb.models import load_timm; from ultra_nb.cache import fingerprint; print(fingerprint(load_timm('deit_tiny_patch16_224', {!r})))"
    if SHARED.is_dir():
        ck = str(SHARED / 'models/deit_tiny_patch16_224.pth')
        api('folders', 'fingerprint of real DeiT-tiny on 1 and 2 threads', lambda: {subprocess.run([sys.executable, '-c', fp.format(n, ck)], capture_output=True, text=True,
            env={**os.environ, 'PYTHONPATH': str(ROOT)}).stdout.strip() for n in (1, 2)}, 'ok', lambda r: None if len(r['value']) == 1 else f"differ: {r['value']}")
    # datasets
    if 'voc_ok' in f:
        e = lambda root, *a: ['eval', root, '--dataset', 'voc', *DEIT, '--k', 3, *a]
        cli('datasets', 'VOC split file empty (was exit 0 and a nan table)', [*e(f['voc_empty']), '--out', out('e1')])
        cli('datasets', 'split names a missing id, --on-bad stop', [*e(f['voc_missing_id']), '--on-bad', 'stop', '--out', out('e2')])
        cli('datasets', 'a label is missing, --on-bad stop', [*e(f['voc_missing_label']), '--on-bad', 'stop', '--out', out('e3')])
        cli('datasets', 'a label of another size, --on-bad stop', [*e(f['voc_size']), '--on-bad', 'stop', '--out', out('e4')])
        cli('datasets', 'split file in Latin-1', [*e(f['voc_latin1']), '--out', out('e5')])
        cli('datasets', 'every id missing (nothing left to score)', [*e(f['voc_all_bad']), '--out', out('e6')])
        cli('datasets', '--dataset camvid on a VOC folder', ['eval', f['voc_ok'], '--dataset', 'camvid', *DEIT, '--out', out('e7')])
        cli('datasets', '--dataset cityscapes27 on a VOC folder', ['eval', f['voc_ok'], '--dataset', 'cityscapes27', *DEIT, '--out', out('e8')])
        cli('datasets', 'no split file at all', ['eval', f['dir_img'], '--dataset', 'voc', *DEIT, '--out', out('e9')])
        def md_has(path, *parts):
            return lambda r: None if Path(path).is_file() and all(p in Path(path).read_text() for p in parts) else f'{path} lacks {parts}'
        cli('datasets', 'split names a missing id: skipped, counted, the rest scored', [*e(f['voc_missing_id']), '--out', out('e10')], 'skip',
            md_has(out('e10') / 'metrics.md', '| voc | 2 |', '| 1 |'), slow=True, need='shared')
        cli('datasets', 'a label of another size: skipped, never resized to', [*e(f['voc_size']), '--out', out('e11')], 'skip',
            md_has(out('e11') / 'skipped.txt', 'is 100x200 but its image is'), slow=True, need='shared')
    api('datasets', 'SegScore of zero images', lambda: SegScore(21).dataset())
    api('datasets', 'SegScore where every pixel is ignored', lambda: SegScore(21).add(np.zeros((4, 4), int), np.full((4, 4), 255)).per_image())
    s2 = lambda: u.maps(torch.randn(1, 3, 32, 32)).segment(k=3)
    api('datasets', 'Segmentation.score with a 1x1 label (was mIoU 1.0)', lambda: s2().score([np.zeros((1, 1), int)], n_classes=3))
    api('datasets', 'Segmentation.score with a transposed label (was 0.48)', lambda: s2().score([np.zeros((32, 16), int)], n_classes=3))
    # models: checkpoint files of the wrong kind, and a hub id with no hub (issue 35)
    from ultra_nb.fam_crate import tiny_crate
    from ultra_nb.models import load_model, parse_model
    import timm
    ck = d / 'ckpt35'; ck.mkdir(exist_ok=True)
    torch.save(tiny_crate(dim=384, heads=6, depth=1).state_dict(), ck / 'crate.pth')
    (ck / 'crate_cut.pth').write_bytes((ck / 'crate.pth').read_bytes()[:(ck / 'crate.pth').stat().st_size // 2])
    torch.save(tiny_crate(dim=384, heads=6, depth=1), ck / 'crate_module.pth')  # the pickled model object, not its state dict
    class _Crafted:
        def __reduce__(self): return (os.system, ('echo crafted pickle ran',))
    torch.save({'cls_token': _Crafted()}, ck / 'crafted.pth')
    torch.save(timm.create_model('vit_small_patch16_224', pretrained=False).state_dict(), ck / 'vit_small.pth')
    no_wo = lambda r: "quotes torch's weights_only advice" if 'weights_only' in r['out'] + r['err'] else None
    cli('models', 'CRATE checkpoint cut short (was a traceback)', ['maps', f['img'], '--model', 'crate', '--checkpoint', ck / 'crate_cut.pth', '--out', out('a')],
        check=lambda r: None if 'cannot be read' in r['err'] and 'crate_cut.pth' in r['err'] else 'file or cause not named')
    cli('models', 'CRATE checkpoint that is the pickled model (was a traceback)', ['maps', f['img'], '--model', 'crate', '--checkpoint', ck / 'crate_module.pth', '--out', out('a')],
        check=lambda r: no_wo(r) or (None if 'not a plain state dict' in r['err'] and 'torch.save(model.state_dict()' in r['err'] else 'no fix named'))
    cli('models', 'ViT-small state dict as the DeiT-tiny checkpoint (was "Error(s) in loading state_dict")', ['maps', f['img'], *DEIT, '--checkpoint', ck / 'vit_small.pth', '--out', out('a')],
        check=lambda r: None if 'cls_token is (1, 1, 384) in the file' in r['err'] and 'vit_small_patch16_224' in r['err'] and 'pass the checkpoint made for' in r['err'] else 'key or fix not named', slow=True)
    cli('models', 'crafted pickle as --checkpoint (was torch\'s advice to load it unsafely)', ['maps', f['img'], *DEIT, '--checkpoint', ck / 'crafted.pth', '--out', out('a')],
        check=lambda r: no_wo(r) or (None if 'pickled Python objects (posix.system)' in r['err'] or 'pickled Python objects (nt.system)' in r['err'] else 'the object is not named'))
    def unreachable_hub():  # HF_HUB_OFFLINE unset: the hub is tried, and this machine has no route to it
        old = os.environ.pop('HF_HUB_OFFLINE', None)
        try: return load_model(parse_model('facebook/dinov2-small'))
        finally:
            if old is not None: os.environ['HF_HUB_OFFLINE'] = old
    api('models', 'hub id with the hub out of reach, HF_HUB_OFFLINE unset (was 12 lines of retries, 42 s)', unreachable_hub,
        check=lambda r: None if 'not in the hub cache here' in r['err'] and r['secs'] < 5 else f"{r['secs']:.1f} s: {r['err'][:80]}")
    cli('models', 'hub id with the hub out of reach, HF_HUB_OFFLINE unset (CLI)', ['maps', f['img'], '--model', 'facebook/dinov2-small', '--out', out('a')],
        check=lambda r: None if 'hub cannot be reached and facebook/dinov2-small is not in the hub cache here' in r['err'] else 'not said', env={'HF_HUB_OFFLINE': ''})
    if 'voc_ok' in f:  # a VOC tree whose second label holds 40 (VOC has 21 classes), and one whose second label is RGB
        import shutil
        g1 = f['good'][1].stem
        for name in ('voc_label_range', 'voc_label_rgb'): shutil.copytree(f['voc_ok'], d / name, dirs_exist_ok=True)
        lab = np.array(Image.open(d / f'voc_label_range/SegmentationClass/{g1}.png')); lab[:8, :8] = 40
        Image.fromarray(lab.astype(np.uint8), 'L').save(d / f'voc_label_range/SegmentationClass/{g1}.png')
        Image.open(d / f'voc_label_rgb/SegmentationClass/{g1}.png').convert('RGB').save(d / f'voc_label_rgb/SegmentationClass/{g1}.png')
        cli('datasets', 'a label holds 40 (was the whole eval stopped, no file named): skipped, named, the rest scored', [*e(d / 'voc_label_range'), '--out', out('e12')], 'skip',
            md_has(out('e12') / 'skipped.txt', f'{g1}.png holds labels [40] that are neither classes'), slow=True, need='shared')
        cli('datasets', 'a label saved as an RGB image: skipped, named', [*e(d / 'voc_label_rgb'), '--out', out('e13')], 'skip',
            md_has(out('e13') / 'skipped.txt', f'{g1}.png is an RGB image: labels must be one channel of class ids'), slow=True, need='shared')
    # devices and models
    for dev, why in [('mps', 'not built here'), ('meta', 'holds no data'), ('cuda:7', 'no such GPU'), ('banana', 'not a device')]:
        cli('devices', f'--device {dev} ({why})', ['maps', f['img'], '--device', dev, '--out', out('a')])
    if not torch.cuda.is_available(): cli('devices', '--device cuda on a machine without a GPU', ['segment', f['img'], '--device', 'cuda', '--out', out('a')])
    api('devices', "ULTra(model, device='meta')", lambda: ULTra(vit, device='meta'))
    cli('models', 'invalid GGUF (text)', ['summary', '--context', f['post'], '--summary', 'x', '--model', d / 'models', '--gguf', 'bad.gguf', '--out', out('s')])
    cli('models', 'invalid GGUF (magic, then garbage)', ['summary', '--context', f['post'], '--summary', 'x', '--model', d / 'models', '--gguf', 'cut.gguf', '--out', out('s')])
    cli('models', 'Latin-1 context file (was decoded with replacement characters)', ['summary', '--context', f['latin1'], '--summary', 'x', '--model', d / 'models', '--gguf', 'bad.gguf'])
    api('models', 'ULTra(model, cache=False)', lambda: ULTra(vit, cache=False, verbose=False).maps(x).grid_maps.shape, 'ok', lambda r: None if r['value'] == (1, 16, 4, 4) else r['value'])
    api('models', "ULTra(model, cache='/path')", lambda: ULTra(vit, cache=d / 'c3', verbose=False).maps(x).grid_maps.shape, 'ok',
        lambda r: None if any((d / 'c3').rglob('*.pt')) else 'nothing cached')
    api('models', 'ULTra(model, cache=3)', lambda: ULTra(vit, cache=3))
    ref = ultra_maps(vit, x, block=u.block, size=None)
    def nograd():
        with torch.no_grad(): return (u.maps(x).grid_maps - ref).abs().max().item()
    def infer():
        with torch.inference_mode(): return (u.maps(x).grid_maps - ref).abs().max().item()
    api('models', '.maps() inside torch.no_grad()', nograd, 'ok', lambda r: None if r['value'] < 1e-6 else r['value'])
    api('models', '.maps() inside torch.inference_mode()', infer, 'ok', lambda r: None if r['value'] < 1e-6 else r['value'])
    for dt in (torch.float16, torch.bfloat16):
        api('models', f'{dt} vision model', lambda dt=dt: (ULTra(tiny_vit().to(dt), verbose=False).maps(x).grid_maps.float() - ref).abs().max().item(), 'ok',
            lambda r: None if r['value'] < 1e-3 else r['value'])
    api('models', 'ULTra(model, block=1.5)', lambda: ULTra(vit, block=1.5))
    api('models', 'ultra_maps on a 1-channel tensor', lambda: ultra_maps(vit, torch.randn(1, 1, 32, 32)))
    api('models', 'ultra_maps on a uint8 tensor', lambda: ultra_maps(vit, torch.zeros(1, 3, 32, 32, dtype=torch.uint8)))
    api('models', 'ultra_rows on a 1-channel tensor', lambda: ultra_rows(vit, torch.randn(1, 1, 32, 32)))
    api('models', 'summary_maps on an image tensor instead of a SummaryInput', lambda: summary_maps(vit, torch.randn(1, 3, 32, 32)))
    # silently wrong, elsewhere
    def lie():
        m = u.maps(x); p, = m.save(d / 'm.npz', overwrite=True); z = dict(np.load(p)); meta = json.loads(str(z['meta'])); meta['grid'] = [2, 8]
        z['meta'] = json.dumps(meta); np.savez(d / 'lie.npz', **z); return Maps.load(d / 'lie.npz')
    api('silent', 'Maps.load of a file with a false grid', lie)
    try:
        from ultra_nb.explore import explore
        for bad in (dict(k=0), dict(k=50), dict(zeta=5), dict(zeta=-1)):
            api('silent', f"explorer {', '.join(f'{k}={v}' for k, v in bad.items())} (was clamped)", lambda bad=bad: explore(vit, x, verbose=False, **bad))
    except ImportError: pass
    # issue 35: images decoded strictly, trailing data accepted, shapes far from the model's said
    def same_maps(o, a, b):
        def chk(r):
            za, zb = np.load(o / f'{a.stem}_maps.npz'), np.load(o / f'{b.stem}_maps.npz')
            diff = [k for k in za.files if k != 'meta' and not np.array_equal(za[k], zb[k])]
            return f'maps differ in {diff}' if diff else None
        return chk
    said = lambda *parts: (lambda r: None if all(p in r['out'] + r['err'] for p in parts) else f'missing {parts}')
    cli('files', 'JPEG cut short, end marker added back (was grey rows)', ['maps', f['cut_eoi'], '--out', out('a')], check=said('is damaged (', 'cut short'))
    cli('files', 'JPEG with a third of its middle missing (was grey rows)', ['maps', f['holed'], '--out', out('a')], check=said('is damaged (', 're-download it'))
    cli('files', 'JPEG + trailing MP4 (motion photo): the maps of the clean file', ['maps', f['clean_jpg'], f['motion'], *DEIT, '--out', out('t1')], 'ok',
        same_maps(out('t1'), f['clean_jpg'], f['motion']), slow=True, need='shared')
    cli('files', 'JPEG + zero padding: the maps of the clean file', ['maps', f['clean_jpg'], f['zpad'], *DEIT, '--out', out('t2')], 'ok',
        same_maps(out('t2'), f['clean_jpg'], f['zpad']), slow=True, need='shared')
    cli('files', '20000x200 strip: run, with one warning', ['maps', f['strip'], *DEIT, '--out', out('t3')], 'ok',
        said('strip.png is 20000x200 (width x height)', 'more than 4:1'), slow=True, need='shared')
    cli('files', '1x1 image: run, with one warning', ['maps', f['dot'], *DEIT, '--out', out('t4')], 'ok',
        said('dot.png is 1x1', 'patch grid'), slow=True, need='shared')
    cli('models', 'UTF-16 context file (with BOM) is decoded: it reaches the GGUF check', ['summary', '--context', f['utf16'], '--summary', 'x', '--model', d / 'models', '--gguf', 'bad.gguf', '--out', out('s')],
        check=lambda r: None if 'GGUF' in r['err'] and 'UTF' not in r['err'] else 'refused for its encoding')
    cli('models', 'Windows-1252 context file: the encoding and the iconv command named', ['summary', '--context', f['cp1252'], '--summary', 'x', '--model', d / 'models', '--gguf', 'bad.gguf'],
        check=said('most likely Windows-1252', 'iconv -f WINDOWS-1252 -t UTF-8'))
    cli('files', '--max-pixels -5 (was "over the -0-megapixel limit")', ['maps', f['img'], '--max-pixels', -5, '--out', out('a')], check=said('--max-pixels'))
    api('files', 'read_rgb(max_pixels=-5)', lambda: read_rgb(f['img'], -5))
    # issue 35: result files, every field checked at load against the others and the model spec the file records
    from ultra_nb.api import Segmentation, ObjectMask, SummaryExplanation
    def tamper(p, name, arrays={}, **meta):
        "A copy of result file `p` as d/name, with `arrays` replaced and `meta` merged in (a dict key by key)."
        z = dict(np.load(p)); mt = json.loads(str(z.pop('meta')))
        for k, v in meta.items(): mt[k] = mt[k] | v if isinstance(v, dict) and isinstance(mt.get(k), dict) else v
        np.savez(d / name, **(z | arrays), meta=json.dumps(mt)); return d / name
    def m224():  # a 12-block, 224², 16-pixel-patch ViT; two tokens' maps keep it quick
        m = ULTra(tiny_vit(img_size=224, patch_size=16, depth=12), verbose=False).maps(torch.randn(1, 3, 224, 224), tokens=[0, 1])
        return m, m.save(d / 'm224.npz', overwrite=True)[0]
    def grid728():
        m, p = m224(); return Maps.load(tamper(p, 'g728.npz', dict(grid_maps=m.grid_maps.numpy().reshape(1, 2, 7, 28)), grid=[7, 28]))
    said_err = lambda *parts: (lambda r: None if all(s in r['err'] for s in parts) else r['err'])
    api('silent', 'Maps file with grid 7x28 for a 224² image of 16-pixel patches (agrees with its own maps)', grid728,
        check=said_err('g728.npz', 'its grid is 7x28, where 224x224 images of 16x16 patches make a 14x14 grid'))
    api('silent', 'Maps file with block 99 of a 12-block model', lambda: Maps.load(tamper(m224()[1], 'b99.npz', settings=dict(block=99))),
        check=said_err('b99.npz', 'its block is 99, where the 12-block model it names has blocks 0..11'))
    def small_images():
        m = u.maps(x); p, = m.save(d / 'm32.npz', overwrite=True)
        return Maps.load(tamper(p, 'img16.npz', dict(images=m.images.numpy()[..., :16, :16])))
    api('silent', 'Maps file whose image array is of the wrong size', small_images, check=said_err('its images are 16x16, where the model it names takes 32x32 images'))
    def seg_labels():
        s = u.maps(x).segment(k=3); p, = s.save(d / 'seg.npz', overwrite=True)
        return Segmentation.load(tamper(p, 'seg_bad.npz', dict(token_clusters=np.stack([np.asarray(c) for c in s.token_clusters]) + 5)))
    api('silent', 'Segmentation file with cluster labels out of range', seg_labels, check=said_err('its token_clusters of image 0 hold ids 5..7, where its cut k=3 numbers clusters 0..2'))
    def mask_shape():
        o = u.maps(x).foreground(rule='ncut'); p, = o.save(d / 'obj.npz', overwrite=True)
        return ObjectMask.load(tamper(p, 'obj_bad.npz', dict(mask_0=o.masks[0][:16])))
    api('silent', 'ObjectMask file whose mask shape differs from the image', mask_shape,
        check=said_err("its mask_0 is bool of shape (16, 32), where it should be bool at image 0's original size 32x32"))
    def summary_ids():
        from transformers import PreTrainedTokenizerFast
        from tokenizers import Tokenizer, models, pre_tokenizers, decoders
        from ultra_nb.api import explain_summary
        from ultra_nb.fam_hf_text import tiny_llama
        chars = ['<s>', '</s>'] + [chr(c) for c in range(32, 92)]
        t = Tokenizer(models.WordLevel({c: i for i, c in enumerate(chars)}, unk_token='?'))
        t.pre_tokenizer, t.decoder = pre_tokenizers.Split('', 'isolated'), decoders.Fuse()
        tok = PreTrainedTokenizerFast(tokenizer_object=t, bos_token='<s>', eos_token='</s>', unk_token='?')
        e = explain_summary(tiny_llama(), tok, 'THE CAT SAT. ON THE MAT', 'CAT ON MAT', block=-1, verbose=False)
        p, = e.save(d / 'post.npz', overwrite=True)
        return SummaryExplanation.load(tamper(p, 'post_bad.npz', dict(ids=e.inp.ids.numpy() + 40)))
    api('silent', 'SummaryExplanation file with token ids out of the vocabulary', summary_ids, check=said_err("where the model's vocabulary has ids 0..63"))
    for dt in (torch.float16, torch.bfloat16):
        def half(dt=dt):
            m = ULTra(tiny_vit().to(dt), verbose=False).maps(x); back = Maps.load(m.save(d / f'{dt}.npz', overwrite=True)[0])
            return m.made_by['dtype'], back.made_by['dtype'], str(back.grid_maps.dtype)
        name = str(dt).removeprefix('torch.')
        api('models', f'{dt} vision model: made_by says {name}, saved and loaded (was float32)', half, 'ok',
            lambda r, n=name: None if r['value'] == (n, n, f'torch.{n}') else f"made_by / loaded: {r['value']}")
    api('folders', 'Maps.save into a missing folder (made, as --out)', lambda: u.maps(x).save(d / 'no/such/folder/m.npz', overwrite=True), 'ok',
        lambda r: None if (d / 'no/such/folder/m.npz').is_file() else 'not written')
    api('folders', 'Maps.save to a path that is a folder', lambda: u.maps(x).save(d), check=said_err('is a folder: name a file inside it'))
    api('datasets', 'Segmentation.score with one RGB label image (was "32 label images")', lambda: s2().score(np.zeros((32, 32, 3), np.uint8), n_classes=3),
        check=said_err('labels must be an (H, W) array of class ids per image'))
    # issue 35: the CLI's edges (outputs keyed by content, one --at per image, records that do not clobber each other)
    (out('fold') / 'cat_maps.png').mkdir(parents=True, exist_ok=True)  # a folder where an output file goes
    (d / 'at_bad.csv').write_text('cat,10,10\ncat,5\n')
    C += [
        Case('folders', '--overwrite where an output name is a folder (was an error after the work)', 'cli', 'error',
             ['maps', f['img'], *DEIT, '--out', out('fold'), '--overwrite'], lambda r: None if 'cat_maps.png is a folder where an output file goes' in r['err'] else 'folder not named', shared),
        Case('files', '--w names a text file (was "pop from empty list")', 'cli', 'error', ['maps', f['img'], *DEIT, '--w', f['text'], '--out', out('a')],
             lambda r: None if 'is a text file, not a ULTra_W file' in r['err'] else 'not said', shared),
        Case('files', '--at file with a malformed line', 'cli', 'error', ['select', f['img'], '--at', d / 'at_bad.csv', *DEIT, '--out', out('a')],
             lambda r: None if "line 2 ('cat,5') is not name,y,x" in r['err'] else 'line not named', shared),
        Case('models', 'summary --model names a .gguf file that is not one', 'cli', 'error',
             ['summary', '--context', f['post'], '--summary', 'x', '--model', f['bad_gguf'], '--out', out('s')],
             lambda r: None if 'is a text file, not a GGUF model' in r['err'] else 'not said', shared),
    ]
    if SHARED.is_dir() and f.get('good'):
        g = f['good']
        def replaced():
            p = d / 'replaced.jpg'; p.write_bytes(g[0].read_bytes())
            argv = ['maps', p, *DEIT, '--tokens', 0, '--out', out('r1')]
            first = run_cli(argv, shared); p.write_bytes(g[1].read_bytes()); second = run_cli(argv, shared)
            return dict(first=first['code'], second=second['code'], said=f'{p} changed since the last run: recomputed' in second['out'])
        portrait = d / 'portrait.jpg'; Image.open(g[0]).crop((100, 0, 400, 500)).save(portrait)  # 300 wide, 500 high
        def view_aspect(r):
            vw, vh = Image.open(out('v1') / 'portrait_object_view.png').size
            return None if abs(vw - vh * 300 / 500) <= 1 else f'view {vw}x{vh} for a 300x500 photo'
        (d / 'at_two.csv').write_text(f"{g[0].stem},100,200\n{g[1].name},250,250\n")
        def shared_out():
            a, b = (['maps', p, *DEIT, '--tokens', t, '--out', out('so')] for p, t in ((g[0], 0), (g[1], 5)))
            codes = [run_cli(x, shared)['code'] for x in (a, b)]
            again = run_cli(a, shared)
            return dict(codes=codes, again=again['code'], resumed='resuming: 1 of 1' in again['out'] and 'ultra-nb: block' not in again['out'])
        C += [
            Case('batch', 'image replaced in place, then the same command again: recomputed, and said', 'api', 'ok', replaced,
                 lambda r: None if r['value'] == dict(first=0, second=0, said=True) else f"{r['value']}", slow=True, need='shared'),
            Case('seen', "select on a portrait photo: the view at the photo's aspect ratio", 'cli', 'ok',
                 ['select', portrait, *DEIT, '--out', out('v1')], view_aspect, shared, slow=True, need='shared'),
            Case('batch', '--at file: a pixel for each of two images', 'cli', 'ok',
                 ['select', g[0], g[1], '--at', d / 'at_two.csv', *DEIT, '--out', out('at1')],
                 lambda r: None if all((out('at1') / f'{p.stem}_object.png').is_file() for p in g[:2]) else 'masks missing', shared, slow=True, need='shared'),
            Case('batch', 'two commands sharing an --out, then the first again: it resumes', 'api', 'ok', shared_out,
                 lambda r: None if r['value'] == dict(codes=[0, 0], again=0, resumed=True) else f"{r['value']}", slow=True, need='shared'),
            Case('models', 'summary --model path/to/file.gguf (the folder and --gguf in one)', 'cli', 'ok',
                 ['summary', '--model', SHARED / 'models/SmolLM2-135M-Instruct.Q4_1.gguf', '--context', f['post'],
                  '--summary', 'Lonely in a new city: how to make friends?', '--out', out('s3')],
                 lambda r: None if (out('s3') / 'post.json').is_file() and 'top words' in r['out'] else 'no result', shared, slow=True, need='shared'),
        ]
    # what a user sees
    if SHARED.is_dir() and f.get('good'):
        g = f['good']
        def batch_check(r):
            o = out('b1')
            done = all((o / f'{p.stem}_maps.{s}').is_file() for p in g[:2] for s in ('png', 'npz'))
            png = Image.open(o / f'{g[0].stem}_maps.png').size
            listed = f['cut'].name in (o / 'skipped.txt').read_text()
            return None if done and listed and png != (196, 196) else f'done {done}, listed {listed}, png {png}'
        cli('batch', 'one truncated JPEG among good ones: the good finish, the bad is named', ['maps', g[0], f['cut'], g[1], *DEIT, '--out', out('b1')], 'skip',
            batch_check, slow=True, need='shared')
        cli('batch', 'the same command again resumes (nothing recomputed)', ['maps', g[0], f['cut'], g[1], *DEIT, '--out', out('b1')], 'skip',
            lambda r: None if 'resuming: 2 of 2' in r['out'] and 'ultra-nb: block' not in r['out'] else 'no resume', slow=True, need='shared')
        cli('batch', 'a rerun with other settings refuses to overwrite', ['maps', g[0], *DEIT, '--block', 3, '--out', out('b1')], slow=True, need='shared')
        def one_line(r):
            said = [l for l in r['out'].splitlines() if l.startswith('ultra-nb:')]
            return None if len(said) == 1 and len(said[0]) < 100 and 'cut k 3' in said[0] else f'settings lines: {said}'
        cli('seen', 'segment --k 3: one short settings line naming the cut', ['segment', g[0], *DEIT, '--k', 3, '--out', out('b2')], 'ok', one_line, slow=True, need='shared')
        def interrupted():
            argv = ['eval', f['voc_ok'], '--dataset', 'voc', *DEIT, '--k', 3, '--out', out('i1')]
            env = {**shared, 'ULTRA_NB_CACHE': d / 'icache'}
            first = run_cli(argv, env, until_file=d / 'icache')  # Ctrl-C once the first image's maps are in the cache
            kept = {q: q.stat().st_mtime_ns for q in (d / 'icache').rglob('*.pt')}
            after_first = (out('i1') / 'metrics.md').exists()
            second = run_cli(argv, env)  # the same command, no --overwrite
            return dict(first_exit=first['code'], cached_before=len(kept), metrics_after_interrupt=after_first,
                        partial_files=len(list(out('i1').glob('.*partial*'))), second_exit=second['code'],
                        cached_after=len(list((d / 'icache').rglob('*.pt'))), recomputed=sum(q.stat().st_mtime_ns != t for q, t in kept.items()),
                        images='| voc | 2 |' in (out('i1') / 'metrics.md').read_text() if (out('i1') / 'metrics.md').exists() else False)
        C.append(Case('batch', 'eval interrupted by Ctrl-C after its first image, then the same command again', 'api', 'ok', interrupted,
                      lambda r: None if (v := r['value'])['first_exit'] == 130 and v['cached_before'] == 1 and not v['metrics_after_interrupt']
                      and not v['partial_files'] and v['second_exit'] == 0 and v['cached_after'] == 2 and v['recomputed'] == 0 and v['images']
                      else f"{r['value']}", slow=True, need='shared'))
        sm = ['summary', '--model', SHARED / 'models', '--gguf', 'SmolLM2-135M-Instruct.Q4_1.gguf']
        cli('seen', 'summary: tokens, passes and memory said before the maps', [*sm, '--context', f['post'], '--summary', 'Lonely in a new city: how to make friends?', '--out', out('s1')],
            'ok', lambda r: None if 0 <= r['out'].find('memory up to about') < r['out'].find('top words') else 'no plan line before the result', slow=True, need='shared')
        def long_plan(r):
            said = [l for l in r['out'].splitlines() if 'memory up to about' in l] + [l for l in r['err'].splitlines() if 'memory up to about' in l]
            return None if said else 'no plan line before the work'
        C.append(Case('seen', 'summary of a 5.6k-token post: the plan (or the refusal with the numbers) comes first', 'api', 'ok',
                      lambda: run_cli([*sm, '--context', f['long'], '--summary', 'quiet evenings', '--out', out('s2')], shared, until='memory up to about'),
                      lambda r: long_plan(r['value']), slow=True, need='shared'))
    for v in ('maps', 'segment', 'eval', 'summary'):
        cli('seen', f'{v} --help names the defaults' + (' and dataset layouts' if v == 'eval' else ''), [v, '--help'], 'ok',
            lambda r, v=v: None if 'default' in r['out'] and (v != 'eval' or all(k in r['out'] for k in ('JPEGImages', 'camvid', 'cityscapes27'))) else 'missing')
    return C

def bad_input_cases(d:Path) -> list:
    "The cases of bench/bad_inputs.py (issue 11: its 21, and 2 added since), in-process, as it runs them."
    sys.path.insert(0, str(ROOT / 'bench'))
    import bad_inputs
    ok = {'float image in [0, 1] to load_image'}
    return [Case('issue 11', name, 'api', 'ok' if name in ok else 'error', fn) for name, fn in bad_inputs.cases(d)]

def main():
    import argparse
    a = argparse.ArgumentParser(); a.add_argument('--fast', action='store_true', help='only the cases that stop before any weights load')
    a.add_argument('--only', help='rerun the cases whose name contains this, keeping the other rows of bench/results/faults.csv')
    a = a.parse_args()
    torch.set_num_threads(1)
    d = Path(tempfile.mkdtemp(prefix='faults_'))
    f = make_files(d)
    t0 = time.perf_counter()
    subprocess.run(['ultra-nb', '--help'], capture_output=True, env={**os.environ, 'PYTHONPATH': str(ROOT)})
    startup = time.perf_counter() - t0
    todo = [c for c in cases(d, f) if not (a.fast and c.slow) and not (c.need == 'shared' and not SHARED.is_dir()) and (not a.only or a.only in c.name)]
    rows = []
    run_cli(['maps', '--help'], inprocess=True)  # the imports, once, before the in-process timings
    for c in todo:
        rows.append(run_case(c, both=True))
        print(f"{rows[-1]['verdict']:>6} {rows[-1]['seconds']:7.2f}s  {c.group}: {c.name} -> {rows[-1]['first_line'][:120]}", flush=True)
    bd = d / 'issue11'; bd.mkdir()
    os.environ.update(ULTRA_NB_WEIGHTS=str(bd), HF_HUB_OFFLINE='1')
    for c in ([] if a.only else bad_input_cases(bd)):
        rows.append(run_case(c, both=True))
        print(f"{rows[-1]['verdict']:>6} {rows[-1]['seconds']:7.2f}s  {c.group}: {c.name} -> {rows[-1]['first_line'][:120]}", flush=True)
    for r in rows:
        r['first_line'] = r['first_line'].replace(str(d), 'D').replace(str(SHARED), 'SHARED').replace('|', '\\|')
    if a.only:  # merge into the committed table: a rerun case replaces the row whose name begins as its own does
        old = list(csv.DictReader(open(ROOT / 'bench/results/faults.csv')))
        for r in old: r['seconds'], r['checks_s'] = float(r['seconds']), float(r['checks_s']) if r['checks_s'] else ''
        new = list(rows)
        rows = [next((n for n in new if n['case'][:25] == r['case'][:25]), r) for r in old]
        rows += [n for n in new if n not in rows]
        startup = float(re.search(r'took ([0-9.]+) s for `ultra-nb --help`', (ROOT / 'bench/results/faults.md').read_text()).group(1))
    n_pass = sum(r['verdict'] == 'pass' for r in rows)
    pre = [r for r in rows if r['expect'] == 'error' and r['via'] == 'cli']
    lines = ["# Faults at the edges, `bench/faults.py` (issue 25)", "",
             f"{len(rows)} cases{' (--fast: no case that loads weights)' if a.fast else ''}: **{n_pass} pass**, {len(rows) - n_pass} fail. "
             f"CLI cases run the installed `ultra-nb` in a fresh process (PYTHONPATH = this worktree, one thread); their seconds include "
             f"the interpreter and torch start-up, which took {startup:.1f} s for `ultra-nb --help` on this shared 2-core machine at this time. "
             f"The {len(pre)} CLI refusals took median {np.median([r['seconds'] for r in pre]):.1f} s, max {max(r['seconds'] for r in pre):.1f} s. "
             f"The same refusals run in-process (`checks_s`: the checks alone, imports done) took median "
             f"{np.median([r['checks_s'] for r in pre if r['checks_s'] != '']):.2f} s, max {max(r['checks_s'] for r in pre if r['checks_s'] != ''):.2f} s. API cases run in one process. "
             "`error`: one line, exit 2 (CLI) or one ValueError/TypeError sentence (API); `skip`: exit 0, the bad item named in a warning "
             "and listed in the results; `ok`: works, and the check beside the case holds. A case fails on any traceback, `nan` in the "
             "output, silent success, or a failed check.", "",
             '| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])]
    lines += ['| ' + ' | '.join(str(v) for v in r.values()) + ' |' for r in rows]
    out = ROOT / 'bench/results'
    name = 'faults_fast' if a.fast else 'faults'
    with open(out / f'{name}.csv', 'w', newline='') as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
    (out / f'{name}.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines[:3]))

if __name__ == '__main__': main()
