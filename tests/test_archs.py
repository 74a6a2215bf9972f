"""Architectures: shapes, save/load round trips, the partial non-local block's guarantees."""

from __future__ import annotations

import pytest
import torch

from oldphoto_cli.archs import mapping_arch, unet_arch, vae_arch
from oldphoto_cli.archs.discriminator_arch import (
    MultiscalePatchGAN,
    PatchGANConfig,
    latent_discriminator,
)
from oldphoto_cli.archs.mapping_arch import LatentMapping, MappingConfig, latent_mask
from oldphoto_cli.archs.nonlocal_arch import (
    PartialNonLocal,
    context_tokens,
    grid_shape,
    pool_context,
)
from oldphoto_cli.archs.unet_arch import UNet, UNetConfig, fuse_batchnorm, weighted_bce
from oldphoto_cli.archs.vae_arch import VAE, VAEConfig, pad_to_multiple
from oldphoto_cli.weights import WeightsError, load_model, save_weights

TINY_VAE = VAEConfig(base_channels=8, latent_channels=8, n_res=1)
TINY_MAP = MappingConfig(latent_channels=8, width=16, n_pre=1, n_local=1, n_post=1,
                         nonlocal_inner=8, max_grid=8)  # fmt: skip
TINY_UNET = UNetConfig(width=4, depth=3)


def test_vae_shapes_and_latent_is_spatial():
    vae = VAE(TINY_VAE).eval()
    x = torch.rand(2, 3, 32, 48) * 2 - 1
    recon, mu, logvar, z = vae(x)
    assert recon.shape == x.shape
    assert mu.shape == logvar.shape == z.shape == (2, 8, 8, 12)
    assert recon.abs().max() <= 1


def test_pad_to_multiple_handles_odd_sizes():
    x = torch.rand(1, 3, 37, 53)
    padded, size = pad_to_multiple(x, 4)
    assert padded.shape[-2:] == (40, 56) and size == (37, 53)
    assert torch.equal(padded[..., :37, :53], x)


def test_mapping_and_unet_shapes():
    mapping = LatentMapping(TINY_MAP).eval()
    z = torch.randn(1, 8, 10, 14)
    mask = torch.zeros(1, 1, 10, 14)
    mask[..., 3:5, :] = 1
    assert mapping(z, mask).shape == z.shape
    assert mapping(z, None).shape == z.shape
    unet = UNet(TINY_UNET).eval()
    assert unet(torch.rand(1, 1, 32, 40)).shape == (1, 1, 32, 40)
    assert latent_mask(torch.ones(1, 1, 16, 16)).shape == (1, 1, 4, 4)


def test_discriminators_shapes():
    d = MultiscalePatchGAN(PatchGANConfig(width=8))
    outs = d(torch.rand(1, 3, 64, 64))
    assert len(outs) == 2 and outs[0][-1].shape[1] == 1
    assert latent_discriminator(8, 8)(torch.rand(1, 8, 16, 16)).shape == (1, 1, 8, 8)


@pytest.mark.parametrize(
    ("build", "cfg_cls", "cfg", "arch", "shape"),
    [
        (VAE, VAEConfig, TINY_VAE, vae_arch.ARCH, (1, 3, 16, 16)),
        (UNet, UNetConfig, TINY_UNET, unet_arch.ARCH, (1, 1, 16, 16)),
        (LatentMapping, MappingConfig, TINY_MAP, mapping_arch.ARCH, (1, 8, 6, 6)),
    ],
)
def test_save_load_gives_identical_outputs(tmp_path, build, cfg_cls, cfg, arch, shape):
    torch.manual_seed(0)
    model = build(cfg).eval()
    x = torch.rand(shape)
    path = save_weights(tmp_path / "m.safetensors", model.state_dict(), arch, cfg,
                        {"steps": 1}, {"psnr": 1.0})  # fmt: skip
    loaded, meta = load_model(path, build, cfg_cls, arch)
    assert meta["training"] == {"steps": 1} and meta["metrics"] == {"psnr": 1.0}
    with torch.no_grad():
        a = model(x, sample=False)[0] if build is VAE else model(x)
        b = loaded(x, sample=False)[0] if build is VAE else loaded(x)
    assert torch.equal(a, b)


def test_load_refuses_other_architecture_and_garbage(tmp_path):
    path = save_weights(tmp_path / "v.safetensors", VAE(TINY_VAE).state_dict(), "vae", TINY_VAE)
    with pytest.raises(WeightsError, match="expected 'unet'"):
        load_model(path, UNet, UNetConfig, "unet")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file at all")
    with pytest.raises(WeightsError, match="bad.safetensors"):
        load_model(bad, VAE, VAEConfig, "vae")
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(WeightsError, match="cut.safetensors"):
        load_model(truncated, VAE, VAEConfig, "vae")


def test_weighted_bce_matches_hand_computation():
    # One image, 4 pixels, one scratch: alpha = 1/4; rare class gets weight 3/4.
    logits = torch.tensor([0.0, 0.0, 2.0, -1.0]).view(1, 1, 2, 2)
    target = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 2, 2)
    ln2 = torch.log(torch.tensor(2.0))
    softplus = torch.nn.functional.softplus
    expected = (0.75 * ln2 + 0.25 * (ln2 + softplus(torch.tensor(2.0))
                + softplus(torch.tensor(-1.0)))) / 4  # fmt: skip
    assert torch.allclose(weighted_bce(logits, target), expected)


def test_partial_nonlocal_ignores_masked_keys():
    torch.manual_seed(0)
    block = PartialNonLocal(channels=8, inner=8, max_grid=16).eval()
    x = torch.randn(1, 8, 12, 12)
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., 1:3, 2:10] = 1  # hole A
    mask[..., 7:10, 4:8] = 1  # hole B
    out = block(x, mask)
    changed = x.clone()
    changed[..., 7:10, 4:8] = torch.randn(1, 8, 3, 4) * 50  # rewrite hole B only
    out2 = block(changed, mask)
    holes = mask.bool().expand_as(x)
    assert torch.equal(out[~holes], x[~holes])  # identity outside holes
    assert not torch.allclose(out[..., 1:3, 2:10], x[..., 1:3, 2:10])  # holes do change
    # Hole A attends to intact context only: damaged B never served as a key or value.
    assert torch.allclose(out[..., 1:3, 2:10], out2[..., 1:3, 2:10], atol=1e-5)
    # Changing intact context does change hole A (the test would catch a no-op block).
    changed[..., 5, :] += 5
    assert not torch.allclose(block(changed, mask)[..., 1:3, 2:10], out[..., 1:3, 2:10])


def test_pooled_context_is_exact_without_pooling_and_tiles_add_up():
    torch.manual_seed(0)
    f = torch.randn(1, 4, 10, 14)
    mask = (torch.rand(1, 1, 10, 14) > 0.7).float()
    grid = grid_shape(10, 14, 64)  # no pooling: one cell per position
    tokens, valid = context_tokens(*pool_context(f, mask, grid))
    assert torch.equal(valid[0], mask.flatten() < 0.5)
    assert torch.allclose(tokens[0][valid[0]], f.flatten(2)[0].T[valid[0]])
    # Sums over two tiles equal the whole map's sums on a coarse grid.
    grid = (3, 4)
    whole = pool_context(f, mask, grid)
    top = pool_context(f[..., :6, :], mask[..., :6, :], grid, (10, 14), (0, 0))
    bottom = pool_context(f[..., 6:, :], mask[..., 6:, :], grid, (10, 14), (6, 0))
    assert torch.allclose(whole[0], top[0] + bottom[0], atol=1e-5)
    assert torch.allclose(whole[1], top[1] + bottom[1])


# Peak RSS of the fresh interpreter's own memory map (VmHWM). Not ru_maxrss: Linux carries
# that across fork + exec, so under pytest it starts at the parent's (large) peak and hides
# the growth being measured.
_PEAK_SCRIPT = """
import sys, torch
from oldphoto_cli.archs.nonlocal_arch import PartialNonLocal

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

torch.set_num_threads(1)
side = int(sys.argv[1])
block = PartialNonLocal(channels=8, inner=8, max_grid=64).eval()
x = torch.randn(1, 8, side, side)
mask = torch.zeros(1, 1, side, side)
mask[..., :, side // 2 : side // 2 + 4] = 1   # a long scratch: holes grow with the side
mask[..., side // 3 : side // 3 + 4, :] = 1
with torch.no_grad():  # warm-up at a tiny size: one-time allocator/thread-pool costs
    block(x[..., :32, :32], mask[..., :32, :32])
before = hwm_kib()
with torch.no_grad():
    block(x, mask)
print(hwm_kib() - before)
"""


def _peak_kib(side: int) -> int:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(side)], check=True,
                         capture_output=True, text=True)  # fmt: skip
    return int(out.stdout.strip())


def test_partial_nonlocal_peak_memory_stays_flat():
    """A dense (HW x HW) block at 512x512 latent positions would need ~275 GB. Ours holds
    one chunk of attention (1024 queries x 64^2 pooled keys, 16 MiB) plus maps linear in
    the area, so quadrupling the area at most quadruples the extra memory."""
    small, large = _peak_kib(256), _peak_kib(512)
    assert large < 128 * 1024  # < 128 MiB extra for 262k positions
    assert large <= 4.5 * max(small, 1024)  # 4x the area: at most linear growth


@pytest.mark.parametrize("side", [64])
def test_partial_nonlocal_attention_bounded(side):
    block = PartialNonLocal(channels=8, inner=8, max_grid=16).eval()
    x = torch.randn(1, 8, 4 * side, 4 * side)
    mask = torch.zeros(1, 1, 4 * side, 4 * side)
    mask[..., 10:12, :] = 1
    calls = []
    original = torch.nn.functional.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None):
        calls.append((q.shape[1], k.shape[1]))
        return original(q, k, v, attn_mask=attn_mask)

    torch.nn.functional.scaled_dot_product_attention = spy
    try:
        block.chunk = 128
        with torch.no_grad():
            block(x, mask)
    finally:
        torch.nn.functional.scaled_dot_product_attention = original
    assert calls, "holes must be attended"
    assert max(q for q, _ in calls) <= 128  # chunked queries
    assert max(k for _, k in calls) <= 16 * 16  # keys pooled to the bounded grid


def test_fused_batchnorm_unet_matches():
    torch.manual_seed(0)
    unet = UNet(TINY_UNET)
    unet.train()
    for _ in range(3):  # give BatchNorm non-trivial running statistics
        unet(torch.rand(2, 1, 32, 32))
    unet.eval()
    x = torch.rand(1, 1, 40, 48)
    with torch.no_grad():
        expected = unet(x)
        fused = fuse_batchnorm(unet)(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in unet.modules())
    assert torch.allclose(expected, fused, atol=1e-4)
