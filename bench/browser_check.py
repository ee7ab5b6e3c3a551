#!/usr/bin/env python
"""Real-browser check of `ultra_nb.explore.explore`, with the real DeiT-tiny, in headless Chromium driving JupyterLab.

Starts JupyterLab on 127.0.0.1 (a free port, a one-time token, a temporary folder and settings), opens a notebook that
shows `explore` on a VOC image, runs it, clicks two patches (the second after a change of block), moves the cut slider,
and checks that each action changed the image the browser shows. Saves screenshots to nbs/images/explore_*.png and the
time of each action (browser round trip, and the Python side as the widget's status line reports it) to
bench/results/explore.md. JupyterLab is stopped at the end, whatever happens.

Install what it needs: `. .ci/install && . .ci/browser`. Run: `python bench/browser_check.py`.
Prints one line and exits 0 when Chromium, chromedriver, selenium, JupyterLab or the real weights are missing
(`--require` makes that a failure)."""
from __future__ import annotations
import argparse, io, json, os, secrets, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def missing(shared) -> str|None:
    "What this check lacks on this machine, or None."
    for exe in ('chromium', 'chromedriver', 'jupyter-lab'):
        if not shutil.which(exe): return f"{exe} is not on PATH (install with `. .ci/browser`)"
    try: import selenium  # noqa: F401
    except ImportError: return "selenium is not installed (install with `. .ci/browser`)"
    if shared is None: return "the real DeiT-tiny weights are not here (ultra_nb.material.shared_dir() is None)"
    return None

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def write_notebook(path:Path, weights:Path, image:Path):
    "The notebook the browser runs: the real model, then the explorer on one image."
    cells = [f"from ultra_nb.models import load_timm\nfrom ultra_nb.explore import explore\n"
             f"model = load_timm('deit_tiny_patch16_224', {str(weights)!r})",
             f"ex = explore(model, {str(image)!r})\nex"]
    nb = dict(nbformat=4, nbformat_minor=5, metadata=dict(kernelspec=dict(name='python3', display_name='Python 3', language='python')),
              cells=[dict(cell_type='code', id=f'c{i}', metadata={}, source=s, outputs=[], execution_count=None)
                     for i, s in enumerate(cells)])
    path.write_text(json.dumps(nb))

def start_lab(folder:Path, port:int, token:str, log) -> subprocess.Popen:
    "JupyterLab on 127.0.0.1:`port`, its own process group, settings kept in `folder` (no news, no update checks)."
    settings = folder / '.settings'
    (settings / '@jupyterlab' / 'apputils-extension').mkdir(parents=True)
    (settings / '@jupyterlab' / 'apputils-extension' / 'notification.jupyterlab-settings').write_text(
        json.dumps(dict(fetchNews='false', checkForUpdates=False)))
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(folder / '.workspaces'),
               JUPYTER_RUNTIME_DIR=str(folder / '.runtime'))
    return subprocess.Popen(['jupyter-lab', '--no-browser', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}',
                             '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={folder}']
                            + (['--allow-root'] if os.geteuid() == 0 else []),
                            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

def wait_lab(url:str, proc, until:float):
    while time.time() < until:
        if proc.poll() is not None: raise RuntimeError(f"JupyterLab exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2): return
        except OSError: time.sleep(0.5)
    raise TimeoutError("JupyterLab did not answer in time")

def stop(proc):
    "End JupyterLab's process group (it and its kernels), politely first."
    if proc.poll() is not None: return
    os.killpg(proc.pid, signal.SIGTERM)
    try: proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL); proc.wait(5)

def pixels(el):
    "What the browser shows of an element, as an array."
    import numpy as np
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(el.screenshot_as_png)).convert('RGB')).astype(float)

def changed(a, b) -> float:
    "Mean absolute pixel difference (0-255) of two screenshots; different sizes count as changed."
    return 255. if a.shape != b.shape else float(abs(a - b).mean())

def python_timings(weights:Path, image:Path, blocks:list) -> str:
    "The widget's costs without a browser: maps of one block (the first view of a block), a click, a cut (medians)."
    import statistics, torch
    from ultra_nb.models import load_timm
    from ultra_nb.api import ULTra
    from ultra_nb.explore import explore
    torch.set_num_threads(os.cpu_count() or 1)
    model = load_timm('deit_tiny_patch16_224', weights)
    u, out = ULTra(model, verbose=False), []
    for b in blocks:
        t = time.perf_counter(); u.maps(str(image), block=b); out.append((f'maps of all 196 tokens, block {b}', time.perf_counter() - t))
    ex = explore(model, str(image), block=blocks[-1], verbose=False)
    clicks, cuts = [], []
    for r in range(14):
        t = time.perf_counter(); ex.select(r, 13 - r); clicks.append(time.perf_counter() - t)
    for z in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.9):
        t = time.perf_counter(); ex.zeta.value = z; cuts.append(time.perf_counter() - t)
    out += [('a click: pick a kept map and draw it (median of 14)', statistics.median(clicks)),
            ('a move of the cut: cluster, segments, dendrogram, legend (median of 7, ζ 0.2..0.9)', statistics.median(cuts))]
    return ("\nThe same costs from Python, without a browser (`python_timings`), same machine:\n\n| action | seconds |\n|---|---|\n"
            + ''.join(f"| {n} | {t:.2f} |\n" for n, t in out))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--require', action='store_true', help='fail, not skip, when something is missing')
    ap.add_argument('--timeout', type=float, default=420, help='seconds for the whole check')
    ap.add_argument('--images', default=str(ROOT / 'nbs' / 'images'), help='where the screenshots go')
    ap.add_argument('--results', default=str(ROOT / 'bench' / 'results' / 'explore.md'), help='the timings table')
    ap.add_argument('--blocks', type=int, nargs='*', default=[0, 3, 7, 11], help='blocks to time from Python (none: skip)')
    a = ap.parse_args(argv)
    from ultra_nb.material import shared_dir
    shared = shared_dir()
    why = missing(shared)
    if why:
        print(f"browser check skipped: {why}")
        return 1 if a.require else 0
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    load0, t_end = os.getloadavg()[0], time.time() + a.timeout
    left = lambda: max(1., t_end - time.time())
    weights = shared / 'models' / 'deit_tiny_patch16_224.pth'
    image = shared / 'data' / 'voc2012-val-14' / 'JPEGImages' / 'vainf_0000.jpg'
    images, rows, diffs = Path(a.images), [], {}
    images.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='ultra_browser_') as tmp:
        tmp = Path(tmp)
        write_notebook(tmp / 'explore_check.ipynb', weights, image)
        port, token = free_port(), secrets.token_hex(16)
        log = open(tmp / 'lab.log', 'w')
        lab, driver = start_lab(tmp, port, token, log), None
        try:
            base = f'http://127.0.0.1:{port}'
            wait_lab(f'{base}/api/status?token={token}', lab, time.time() + min(90, left()))
            opts = webdriver.ChromeOptions()
            opts.binary_location = shutil.which('chromium')
            for o in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1500,2000', '--hide-scrollbars'):
                opts.add_argument(o)
            driver = webdriver.Chrome(service=Service(shutil.which('chromedriver')), options=opts)
            wait = lambda s=None: WebDriverWait(driver, min(s or left(), left()), poll_frequency=0.05)
            driver.get(f'{base}/lab/tree/explore_check.ipynb?token={token}')
            wait(120).until(lambda d: d.find_elements(By.CSS_SELECTOR, '.jp-Notebook .jp-Cell'))
            def accept_dialogs(seconds):
                "Accept any dialog JupyterLab opens (the kernel choice), for up to `seconds`."
                until = time.time() + seconds
                while time.time() < until:
                    for b in driver.find_elements(By.CSS_SELECTOR, '.jp-Dialog .jp-mod-accept'): b.click()
                    time.sleep(0.25)
            accept_dialogs(5)
            menu = lambda label, cls: wait(30).until(lambda d: d.find_element(
                By.XPATH, f"//div[contains(@class,'{cls}') and normalize-space(text())='{label}']"))
            menu('Run', 'lm-MenuBar-itemLabel').click()
            menu('Run All Cells', 'lm-Menu-itemLabel').click()
            t0 = time.time()
            accept_dialogs(2)
            status = wait(300).until(lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, '.ultra-status')
                                                if 'display' in e.text])[0]
            rows.append(('notebook run: load DeiT-tiny, first maps, first display (browser)', f'{time.time() - t0:.1f} s', status.text))
            find = lambda c: driver.find_element(By.CSS_SELECTOR, f'.ultra-{c}')
            panel, picker = find('explorer'), find('picker')
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", panel)
            time.sleep(1)
            (images / 'explore_start.png').write_bytes(panel.screenshot_as_png)

            def act(name, do, watch, shot=None, check=()):
                "Do one action, wait until the watched image's src changes; record the times and how much each image changed."
                src, before = find(watch).get_attribute('src'), {c: pixels(find(c)) for c in (watch, *check)}
                t = time.perf_counter()
                do()
                wait(300).until(lambda d: find(watch).get_attribute('src') != src)
                dt = time.perf_counter() - t
                time.sleep(0.3)  # let the status line and the other images settle
                for c, b in before.items(): diffs[f'{name.split(":")[0]} ({c})'] = changed(b, pixels(find(c)))
                rows.append((name, f'{1000 * dt:.0f} ms', find('status').text))
                if shot: (images / shot).write_bytes(find('explorer').screenshot_as_png)

            def click_patch(r, c, grid=(14, 14)):
                w, h = picker.size['width'], picker.size['height']
                x, y = (c + 0.5) * w / grid[1] - w / 2, (r + 0.5) * h / grid[0] - h / 2
                return lambda: ActionChains(driver).move_to_element_with_offset(picker, round(x), round(y)).click().perform()

            act('click patch (row 3, col 4): display only', click_patch(3, 4), 'map', 'explore_click1.png')
            block = Select(find('block').find_element(By.TAG_NAME, 'select'))
            now = block.first_selected_option.text
            other = 'block 5' if now != 'block 5' else 'block 8'
            act(f'change to {other}: maps of all 196 tokens for that block', lambda: block.select_by_visible_text(other), 'map')
            act('click patch (row 10, col 9): display only', click_patch(10, 9), 'map', 'explore_click2.png')
            handle = find('zeta').find_element(By.CSS_SELECTOR, '.noUi-handle')
            track = find('zeta').find_element(By.CSS_SELECTOR, '.noUi-target').size['width']
            act('move the ζ slider down by a tenth of its range: clustering and drawing only',
                lambda: ActionChains(driver).drag_and_drop_by_offset(handle, -round(track / 10), 0).perform(),
                'dendrogram', 'explore_cut.png', ['segments'])
        except Exception:
            if driver:
                (ROOT / 'bench' / 'out').mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(ROOT / 'bench' / 'out' / 'browser_check_failure.png'))
                print('the page at the failure: bench/out/browser_check_failure.png', file=sys.stderr)
            log.flush()
            print('JupyterLab log, last lines:\n' + ''.join((tmp / 'lab.log').read_text().splitlines(True)[-15:]), file=sys.stderr)
            raise
        finally:
            if driver: driver.quit()
            stop(lab)
            log.close()
    bad = [n for n, d in diffs.items() if d < 0.5]
    py = python_timings(weights, image, a.blocks) if a.blocks else ''
    Path(a.results).write_text(
        "# Explorer in a real browser (`bench/browser_check.py`)\n\n"
        "DeiT-tiny/16 (real weights), VOC image `vainf_0000` at 224x224, JupyterLab + headless Chromium on this machine "
        f"({os.cpu_count()} CPU cores; 1-minute load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end — other "
        "jobs share the cores, so a quiet machine is faster). *Round trip*: from the browser event to the new image in the page. "
        "*Status line*: the widget's own report of the Python side.\n\n| action | round trip | status line |\n|---|---|---|\n"
        + ''.join(f"| {n} | {t} | {s} |\n" for n, t, s in rows)
        + "\nMean absolute pixel change of the watched image per action: "
        + ', '.join(f"{n} {d:.1f}" for n, d in diffs.items()) + " (0-255).\n" + py)
    for n, t, s in rows: print(f'{n}: {t} | {s}')
    if bad: print(f"FAILED: the displayed image did not change after: {', '.join(bad)}"); return 1
    print(f"browser check passed; screenshots in {images}, timings in {a.results}")
    return 0

if __name__ == '__main__': sys.exit(main())
