"""`ultra-nb` for every supported family: `--model` takes a timm name, a Hugging Face folder (vision or causal LM), an
open_clip `name:pretrained` or a CRATE checkpoint; depth and grid come from the family adapter (tiny random-init models
written to disk as a user would have them)."""
import json, os, subprocess
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image

def ultra_nb(*args):
    return subprocess.run(['ultra-nb', *map(str, args)], capture_output=True, text=True, env={**os.environ, 'HF_HUB_OFFLINE': '1'})

@pytest.fixture
def image(tmp_path):
    p = tmp_path / 'photo.png'
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(p)
    return p

def char_tokenizer():
    "A real `PreTrainedTokenizerFast` over single characters, with a BOS token: no downloads."
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast
    chars = ['<s>', '</s>'] + [chr(c) for c in range(32, 92)]
    t = Tokenizer(models.WordLevel({c: i for i, c in enumerate(chars)}, unk_token='?'))
    t.pre_tokenizer, t.decoder = pre_tokenizers.Split('', 'isolated'), decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=t, bos_token='<s>', eos_token='</s>', unk_token='?')

def test_maps_from_a_hugging_face_dinov2_folder(tmp_path, image):
    from ultra_nb.fam_hf_vision import tiny_hf_vision
    tiny_hf_vision('Dinov2Model').save_pretrained(tmp_path / 'dinov2')
    r = ultra_nb('maps', image, '--model', tmp_path / 'dinov2', '--out', tmp_path / 'out', '--block', '1')
    assert r.returncode == 0, r.stderr
    m = np.load(tmp_path / 'out/photo_maps.npz')
    assert m['grid_maps'].shape == (1, 30, 5, 6)  # 40x48 at patch 8: DINOv2 keeps the image's own grid
    bad = ultra_nb('maps', image, '--model', tmp_path / 'dinov2', '--out', tmp_path / 'out2', '--block', '2')
    assert bad.returncode == 2 and 'out of range' in bad.stderr and len(bad.stderr.strip().splitlines()) == 1

def test_segment_from_a_crate_checkpoint(tmp_path, image):
    from ultra_nb.fam_crate import tiny_crate
    torch.save(tiny_crate(dim=384, heads=6, depth=2).state_dict(), tmp_path / 'crate.pth')
    r = ultra_nb('segment', image, '--model', 'crate', '--checkpoint', tmp_path / 'crate.pth', '--out', tmp_path / 'out', '--k', '2')
    assert r.returncode == 0, r.stderr
    assert np.asarray(Image.open(tmp_path / 'out/photo_segmentation.png')).shape == (40, 48)

def test_summary_with_a_gpt2_folder_and_block(tmp_path):
    from ultra_nb.fam_hf_text import tiny_causal_lm
    tok = char_tokenizer()
    tiny_causal_lm('GPT2', vocab=len(tok), layers=3).save_pretrained(tmp_path / 'gpt2'); tok.save_pretrained(tmp_path / 'gpt2')
    (tmp_path / 'post.txt').write_text('THE CAT SAT ON THE MAT. IT WAS WARM.')
    r = ultra_nb('summary', '--context', tmp_path / 'post.txt', '--summary', 'CAT ON MAT', '--model', tmp_path / 'gpt2',
                 '--block', '1', '--out', tmp_path / 'out')
    assert r.returncode == 0, r.stderr
    j = json.loads((tmp_path / 'out/post.json').read_text())
    assert (j['block'], j['objective']) == (1, 'sum')  # a chosen block alone: the paper's f_s there
    r = ultra_nb('summary', '--context', tmp_path / 'post.txt', '--summary', 'CAT ON MAT', '--model', tmp_path / 'gpt2',
                 '--objective', 'logprob', '--out', tmp_path / 'lp')
    assert r.returncode == 0, r.stderr
    assert 'block 2 of 3, objective logprob' in r.stdout and json.loads((tmp_path / 'lp/post.json').read_text())['objective'] == 'logprob'
    bad = ultra_nb('summary', '--context', tmp_path / 'post.txt', '--summary', 'CAT', '--model', tmp_path / 'gpt2', '--block', '3',
                   '--out', tmp_path / 'out3')
    assert bad.returncode == 2 and 'out of range' in bad.stderr

def test_unknown_model_names_every_form(tmp_path, image):
    r = ultra_nb('maps', image, '--model', 'no_such_model', '--out', tmp_path / 'out')
    assert r.returncode == 2 and 'open_clip name:pretrained' in r.stderr and 'Hugging Face' in r.stderr
