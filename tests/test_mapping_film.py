"""The mapping's global conditioning (``MappingConfig.global_film``): off, or switched on
over trained weights, it changes nothing; on, every tile sees the whole image's summary."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import write_tiny_weights
from test_pipeline import photo

from oldphoto_cli.archs import mapping_arch
from oldphoto_cli.archs.mapping_arch import LatentMapping, MappingConfig
from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline
from oldphoto_cli.weights import save_weights, write_manifest

CFG = MappingConfig(latent_channels=8, width=16, n_pre=1, n_local=1, n_post=1,
                    nonlocal_inner=8, max_grid=8)  # fmt: skip


def test_switching_film_on_over_trained_weights_changes_nothing():
    torch.manual_seed(0)
    plain = LatentMapping(CFG).eval()
    film = LatentMapping(dataclasses.replace(CFG, global_film=True)).eval()
    missing, unexpected = film.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("film.") for k in missing)
    z, mask = torch.randn(2, 8, 12, 15), torch.zeros(2, 1, 12, 15)
    mask[:, :, 5:7] = 1
    with torch.no_grad():
        assert torch.equal(plain(z, mask), film(z, mask))
        torch.nn.init.normal_(film.film[2].weight, std=0.5)  # trained: now it acts
        assert not torch.allclose(plain(z, mask), film(z, mask))


@pytest.fixture(scope="module")
def film_weights(tmp_path_factory):
    """Tiny weights whose mapping has a non-zero global FiLM."""
    directory = write_tiny_weights(tmp_path_factory.mktemp("film_weights"))
    torch.manual_seed(1)
    cfg = dataclasses.replace(CFG, global_film=True)
    mapping = LatentMapping(cfg)
    torch.nn.init.normal_(mapping.film[2].weight, std=2.0)
    save_weights(directory / "mapping.safetensors", mapping.state_dict(), mapping_arch.ARCH, cfg)
    write_manifest(directory)
    return directory


@pytest.mark.parametrize("holes", [True, False])
def test_film_tiles_see_the_whole_image(film_weights, holes):
    """Tiles get the summary of the whole latent from prepare(): a tile's own mean would
    differ from tile to tile and from the whole image's."""
    pipeline = RestorePipeline(RestoreOptions(device="cpu", weights_dir=str(film_weights),
                                              face_enhancer="none", with_scratch="on"))  # fmt: skip
    rgb = photo(90, 400)  # wide enough that a translate tile and its halo see part of it
    rgb[:, :120] *= 0.3  # a dark side: its tiles' means are far from the image's
    mask = np.zeros(rgb.shape[:2], np.uint8)
    if holes:
        mask[40:44, :] = 1
    whole = pipeline.restore_core(rgb, mask)
    enc, tr = pipeline.encoder, pipeline.translator
    pipeline.tile, enc.tile, enc.overlap, tr.tile = 9, 40, 8, 9
    tiled = pipeline.restore_core(rgb, mask)
    assert np.abs(whole - tiled).max() < 2e-6
    # and the summary is what makes them equal: without it, each tile uses its own mean
    tr.prepare = lambda z, m: None
    assert np.abs(whole - pipeline.restore_core(rgb, mask)).max() > 50 * 2e-6
