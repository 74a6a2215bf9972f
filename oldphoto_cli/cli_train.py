"""``oldphoto train vae1|vae2|mapping|detector|restorer|face``: thin wrappers over oldphoto_cli.train."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click


def common_options(func):
    """Options every trainer shares; they fill :class:`TrainOptions`."""

    @click.option("--out", "out_dir", default=None, help="Run folder (checkpoint, log, export).")
    @click.option("--device", default="cpu", show_default=True, help="cpu, cuda, auto.")
    @click.option("--batch-size", default=8, show_default=True, help="Global batch size.")
    @click.option("--crop", default=128, show_default=True, help="Training crop size (px).")
    @click.option("--steps", default=1000, show_default=True, help="Stop at this step.")
    @click.option("--max-minutes", type=float, default=None, help="Stop after this wall time.")
    @click.option("--lr", default=2e-4, show_default=True)
    @click.option("--seed", default=0, show_default=True)
    @click.option(
        "--resume/--no-resume",
        default=True,
        show_default=True,
        help="Continue from the run folder's checkpoint when there is one.",
    )
    @click.option("--val-every", default=500, show_default=True)
    @click.option("--checkpoint-every", default=200, show_default=True)
    @click.option("--threads", type=int, default=None, help="torch threads per process.")
    @click.option("--workers", default=0, show_default=True,
                  help="Processes that synthesize batches ahead of the step (for GPUs).")
    @click.option("--warmup-steps", default=0, show_default=True,
                  help="Linear learning-rate warm-up when the optimizer starts without saved "
                  "moments (a new run, or one continued from --export or --grow-from).")  # fmt: skip
    @click.option("--bf16/--no-bf16", default=False, show_default=True,
                  help="bfloat16 autocast (worth it on GPUs and on CPUs with AMX or "
                  "AVX512-BF16: lscpu lists amx_bf16 or avx512_bf16).")  # fmt: skip
    @click.option("--export", default=None, help="Where to write the safetensors export.")
    @functools.wraps(func)
    def wrapper(*args, out_dir, export, **kwargs):
        from oldphoto_cli.train.common import TrainOptions  # imports torch: only when training

        names = ("device", "batch_size", "crop", "steps", "max_minutes", "lr", "seed", "resume",
                 "val_every", "checkpoint_every", "threads", "workers", "bf16", "warmup_steps")  # fmt: skip
        values = {k: kwargs.pop(k) for k in names}
        opts = TrainOptions(out_dir=out_dir or f"runs/{func.__name__}", extra={"export": export},
                            **values)  # fmt: skip
        return func(*args, opts=opts, **kwargs)

    return wrapper


pixel_skip_option = click.option(
    "--pixel-skip/--no-pixel-skip", default=True, show_default=True,
    help="Linear pixel-unshuffle path around the VAE (reconstruction is not the bottleneck).",
)  # fmt: skip


def mask_dropout_option(default: float):
    """``--mask-dropout`` (the restorers): its default differs per network."""
    return click.option(
        "--mask-dropout", default=default, show_default=True, type=click.FloatRange(0, 1),
        help="Leave each defect out of the mask the network is given with this probability "
        "(it learns to repair what a detector misses).",
    )  # fmt: skip


@click.group()
def train() -> None:
    """Train the networks (runs unchanged under torchrun for DDP)."""


def check_spectrum(clean_share: float, mild_share: float, **more: float) -> None:
    """Intact, mild (and the restorer's damage-only and recoverable) shares are parts of
    one sample stream: together at most all of it."""
    if clean_share + mild_share + sum(more.values()) > 1:
        names = ["clean", "mild", *(name.replace("_", "-") for name in more)]
        listed = " + ".join(f"--{name}-share" for name in names)
        raise click.BadParameter(f"{listed} must be at most 1")


@train.command()
@click.option("--clean", "clean_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--real-old", "real_old_dir", required=True,
              type=click.Path(exists=True, file_okay=False))  # fmt: skip
@click.option("--init-from", default=None, help="Start from these VAE weights (e.g. VAE2).")
@click.option("--gan-weight", default=0.0, show_default=True)
@click.option("--latent-gan-weight", default=0.1, show_default=True)
@pixel_skip_option
@common_options
def vae1(clean_dir, real_old_dir, init_from, gan_weight, latent_gan_weight, pixel_skip, opts):
    """VAE1 on real old photos R and synthetic old photos X (made on the fly)."""
    from oldphoto_cli.archs.vae_arch import VAEConfig
    from oldphoto_cli.train.vae import VAELosses, VAETrainer

    losses = VAELosses(gan_weight=gan_weight, latent_gan_weight=latent_gan_weight)
    trainer = VAETrainer(opts, "old", clean_dir, real_old_dir, VAEConfig(pixel_skip=pixel_skip),
                         losses=losses, init_from=init_from)  # fmt: skip
    click.echo(json.dumps(trainer.run()))


@train.command()
@click.option("--clean", "clean_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--gan-weight", default=0.0, show_default=True)
@pixel_skip_option
@common_options
def vae2(clean_dir, gan_weight, pixel_skip, opts):
    """VAE2 on clean photos Y."""
    from oldphoto_cli.archs.vae_arch import VAEConfig
    from oldphoto_cli.train.vae import VAELosses, VAETrainer

    trainer = VAETrainer(opts, "clean", clean_dir, vae_cfg=VAEConfig(pixel_skip=pixel_skip),
                         losses=VAELosses(gan_weight=gan_weight))  # fmt: skip
    click.echo(json.dumps(trainer.run()))


@train.command()
@click.option("--clean", "clean_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--vae1", "vae1_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--vae2", "vae2_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--width", default=128, show_default=True, help="Mapping width (official: 512).")
@click.option(
    "--blocks",
    default=(2, 1, 3),
    nargs=3,
    type=int,
    show_default=True,
    help="Residual blocks before the branches, in the local branch, after fusion.",
)
@click.option(
    "--residual/--no-residual",
    default=True,
    show_default=True,
    help="Output z + T(z), starting as the identity (intact photos pass through).",
)
@click.option(
    "--clean-share",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of intact crops (target = input).",
)
@click.option(
    "--mild-share",
    default=0.4,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of mildly damaged crops; the rest get the full damage mix.",
)
@click.option(
    "--keep-tone/--no-keep-tone",
    default=True,
    show_default=True,
    help="Grey and toned samples keep their tone in the target.",
)
@click.option("--gan-weight", default=0.0, show_default=True)
@click.option("--latent-l1", default=60.0, show_default=True, help="lambda1 (official: 60).")
@click.option("--image-l1", default=10.0, show_default=True, help="L1 on the decoded image.")
@click.option("--grow-from", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Start from this narrower/shallower mapping export, grown to --width and "
              "--blocks so that it computes exactly what the export computes (new channels "
              "and blocks start as no-ops); ignored when the run folder resumes.")  # fmt: skip
@common_options
def mapping(clean_dir, vae1_path, vae2_path, width, blocks, residual, clean_share, mild_share,
            keep_tone, gan_weight, latent_l1, image_l1, grow_from, opts):  # fmt: skip
    """Latent mapping T_Z (VAEs frozen) on synthetic pairs with structured defects."""
    from oldphoto_cli.archs.mapping_arch import MappingConfig
    from oldphoto_cli.train.mapping import MappingLosses, MappingTrainer, Spectrum

    check_spectrum(clean_share, mild_share)
    n_pre, n_local, n_post = blocks
    cfg = MappingConfig(width=width, n_pre=n_pre, n_local=n_local, n_post=n_post,
                        residual=residual)  # fmt: skip
    trainer = MappingTrainer(opts, clean_dir, vae1_path, vae2_path, cfg,
                             MappingLosses(latent_l1=latent_l1, image_l1=image_l1,
                                           gan_weight=gan_weight),
                             Spectrum(clean_share, mild_share, keep_tone))  # fmt: skip
    if grow_from and trainer.step == 0:
        trainer.grow_from(grow_from)
    click.echo(json.dumps(trainer.run()))


@train.command()
@click.option("--clean", "clean_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--width", default=16, show_default=True, help="U-Net width (official: 64).")
@click.option("--depth", default=4, show_default=True)
@click.option("--real-old", "real_old_dir", default=None,
              type=click.Path(exists=True, file_okay=False),
              help="Real old photos used as weak all-clean negatives.")  # fmt: skip
@click.option("--negative-weight", default=0.1, show_default=True,
              help="Weight of the real-negative BCE term.")  # fmt: skip
@click.option("--graphics", default=0.3, show_default=True, type=click.FloatRange(0, 1),
              help="Share of training crops given printed text/frames/shapes (labelled "
                   "clean: hard negatives).")  # fmt: skip
@click.option("--thin-content", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of training crops given thin-line content (wires, hair, fences, "
                   "small text, lace; labelled clean: hard negatives).")  # fmt: skip
@click.option("--dot-prints", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of training crops given dotted fabric prints (polka dots on a "
                   "lattice; labelled clean: hard negatives against taking them for dust).")  # fmt: skip
@click.option("--wide-damage/--no-wide-damage", default=False, show_default=True,
              help="Train on the wider damage mix: varied scratches (1-6 px, soft, faint, "
                   "tinted), film-transport scratches across the frame, wider cracks, hairs, "
                   "flaking, JPEG after damage.")  # fmt: skip
@click.option("--clean-share", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of intact, undamaged crops (empty mask): against marking the "
                   "crisp edges of sharp photos.")  # fmt: skip
@click.option("--mild-share", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of crops damaged on a mildly degraded base (sharper, more "
                   "contrasted, like real old photos); the rest get the full mix.")  # fmt: skip
@click.option("--intact-weight", default=0.2, show_default=True,
              help="Weight of the -log(1-p) penalty on marks in intact crops (the "
                   "class-balanced BCE gives them no weight at all).")  # fmt: skip
@click.option("--held-out", "held_out_dir", default=None,
              type=click.Path(exists=True, file_okay=False),
              help="Real old photos named by the files of this folder (e.g. the hand-traced "
                   "masks, benchmarks/real_masks) are never used as negatives.")  # fmt: skip
@click.option("--real-damage/--no-real-damage", default=False, show_default=True,
              help="The wide mix plus real film-damage overlays ($OLDPHOTO_DAMAGE_OVERLAYS or "
                   "shared/data/damage_overlays), print crack networks and tears.")  # fmt: skip
@click.option("--colour/--grey", default=False, show_default=True,
              help="Colour input (RGB) instead of luma: a crack's neutral paper white on a "
                   "toned print is a colour cue.")  # fmt: skip
@click.option("--grow-from", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Start from this detector export, grown to this run's network: a grey "
                   "one spread over R, G and B (with --colour), a narrower one widened by "
                   "copying its channels (a larger --width), so that it "
                   "computes exactly what the export computes; ignored when the run folder "
                   "resumes.")  # fmt: skip
@click.option("--tversky-beta", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="The overlap loss: soft Tversky with this weight on misses (0.5 is soft "
                   "Dice; above it recall counts more than precision).")  # fmt: skip
@click.option("--real-masks", "real_masks_dir", default=None,
              type=click.Path(exists=True, file_okay=False),
              help="Folder of hand-traced damage masks of real old photos (<stem>.png: 255 "
                   "damage, 0 intact, 128 unlabelled) whose photos are in --real-old: real "
                   "crops with real labels in every batch (e.g. research/real_traces).")  # fmt: skip
@click.option("--aged-intact-share", default=0.0, show_default=True,
              type=click.FloatRange(0, 1),
              help="Share of crops aged by the mild mix (grain, blur, JPEG, fading) with no "
                   "defect and an empty mask: ageing that is not damage.")  # fmt: skip
@click.option("--sparse-share", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of crops with sparse damage: mild ageing and one defect, mostly a "
                   "lone crack (data.SPARSE_GROUP_P), as most real prints carry it.")  # fmt: skip
@click.option("--drawn-on-traced", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of the traced real crops that also get one synthetic defect drawn "
                   "on (labelled): real photos must not become a domain the detector "
                   "never marks.")  # fmt: skip
@click.option("--traced-per-batch", default=0, show_default=True, type=click.IntRange(0),
              help="Traced real crops added to each batch (0: a quarter of the batch, at "
                   "least 2).")  # fmt: skip
@click.option("--transplanted-per-batch", default=0, show_default=True,
              type=click.IntRange(0),
              help="Crops (of the traced photos and of clean ones) with real damage cut from "
                   "the traced photos (--real-masks) pasted on, added to each batch: real "
                   "damage on content it was not traced on.")  # fmt: skip
@common_options
def detector(clean_dir, width, depth, real_old_dir, negative_weight, graphics, thin_content,
             dot_prints, wide_damage, clean_share, mild_share, intact_weight, held_out_dir,
             real_damage, colour, grow_from, tversky_beta, real_masks_dir, aged_intact_share,
             sparse_share, drawn_on_traced, traced_per_batch, transplanted_per_batch,
             opts):  # fmt: skip
    """U-Net scratch detector on synthetic structured defects."""
    check_spectrum(clean_share, mild_share, sparse=sparse_share, aged_intact=aged_intact_share)
    from oldphoto_cli.archs.unet_arch import UNetConfig
    from oldphoto_cli.train.detector import DetectorTrainer

    if real_masks_dir and not real_old_dir:
        raise click.BadParameter("the traced masks' photos come from --real-old",
                                 param_hint="--real-masks")  # fmt: skip
    if transplanted_per_batch and not real_masks_dir:
        raise click.BadParameter("the damage to transplant comes from --real-masks",
                                 param_hint="--transplanted-per-batch")  # fmt: skip
    cfg = UNetConfig(in_channels=3 if colour else 1, width=width, depth=depth)
    trainer = DetectorTrainer(opts, clean_dir, cfg,
                              real_old_dir=real_old_dir, negative_weight=negative_weight,
                              graphics=graphics, thin_content=thin_content,
                              wide_damage=wide_damage, dot_prints=dot_prints,
                              clean_share=clean_share, mild_share=mild_share,
                              intact_weight=intact_weight, real_damage=real_damage,
                              held_out=frozenset(p.stem for p in Path(held_out_dir).iterdir())
                              if held_out_dir else frozenset(),
                              tversky_beta=tversky_beta, real_masks_dir=real_masks_dir,
                              traced_per_batch=traced_per_batch,
                              sparse_share=sparse_share, aged_intact_share=aged_intact_share,
                              drawn_on_traced=drawn_on_traced,
                              transplanted_per_batch=transplanted_per_batch)  # fmt: skip
    if grow_from and trainer.step == 0:
        trainer.grow_from(grow_from)
    click.echo(json.dumps(trainer.run()))


def parse_group_probabilities(text: str) -> dict[str, float]:
    """``soft_blur=0.6,jpeg_strong=0.7`` -> {group: probability}, checked against the
    lost-detail groups (:func:`oldphoto_cli.data.check_detail_groups`)."""
    from oldphoto_cli.data import check_detail_groups

    groups = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            groups[name.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"{item!r}: expected GROUP=P", param_hint="--detail-mix") from None
    try:
        return check_detail_groups(groups)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--detail-mix") from None


@train.command()
@click.option("--clean", "clean_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--width", default=32, show_default=True,
              help="Channels of the first (half-resolution) level; doubled per level below.")  # fmt: skip
@click.option("--blocks", default="2,2,2", show_default=True,
              help="Residual blocks per level, finest first (comma-separated).")  # fmt: skip
@click.option("--noise-estimate", default="laplacian_median", show_default=True,
              type=click.Choice(["laplacian_median", "flat_blocks"]),
              help="How the noise level that sets NL-means and the network's noise plane is "
                   "measured: the whole image's median Laplacian response, or the flattest "
                   "16 px blocks' (texture does not read as grain). Restore uses the "
                   "weights' own.")  # fmt: skip
@click.option("--nlm-min-sigma", default=0.0, show_default=True, type=click.FloatRange(0),
              help="NL-means makes the first estimate only from this noise level up (0-255 "
                   "scale); below it the network starts from the photo itself. Restore "
                   "uses the weights' own.")  # fmt: skip
@click.option("--clean-share", default=0.3, show_default=True, type=click.FloatRange(0, 1),
              help="Share of intact crops (target = input: do no harm, and fine detail is "
                   "not taken for texture to remove).")  # fmt: skip
@click.option("--damage-only-share", default=0.15, show_default=True, type=click.FloatRange(0, 1),
              help="Share of intact crops with damage alone (scratches on a sharp print: "
                   "the pixels around the holes stay as they are).")  # fmt: skip
@click.option("--mild-share", default=0.4, show_default=True, type=click.FloatRange(0, 1),
              help="Share of mildly damaged crops.")  # fmt: skip
@click.option("--recoverable-share", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of crops with recoverable ageing (soft blur, resampling, noise, "
                   "strong JPEG).")  # fmt: skip
@click.option("--detail-share", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of crops that lost detail alone (soft blur, resampling, strong JPEG; "
                   "no noise, tone loss or damage); the rest get the full damage mix.")  # fmt: skip
@click.option("--detail-mix", default=None, metavar="GROUP=P,...",
              help="Probabilities of the lost-detail crops' groups (soft_blur, resample, "
                   "jpeg_strong), e.g. jpeg_strong=0.7; unnamed groups keep "
                   "data.DETAIL_GROUP_P's.")  # fmt: skip
@click.option("--real-damage/--no-real-damage", default=True, show_default=True,
              help="Damage includes real film-damage overlays, print cracks and tears.")  # fmt: skip
@click.option("--hole-weight", default=1.0, show_default=True,
              help="Weight of the L1 loss on the holes alone (the masked pixels).")  # fmt: skip
@click.option("--gradient-weight", default=0.5, show_default=True,
              help="Weight of the L1 loss on image gradients (against smoothing).")  # fmt: skip
@click.option("--keep-weight", default=0.0, show_default=True,
              help="Weight of an L1 loss on the pixels that need no repair (outside the "
                   "mask, already at their target): leave them alone.")  # fmt: skip
@mask_dropout_option(0.0)
@click.option("--false-alarms", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of samples whose given mask also marks some of the crop's own "
                   "content (thin lines, edges, compact features, as a detector's false "
                   "alarms do), to keep; with --photo-under-mask the network sees it.")  # fmt: skip
@click.option("--false-alarm-weight", default=0.0, show_default=True,
              help="Weight of an L1 loss on the false alarms alone (told, intact pixels: "
                   "content to keep).")  # fmt: skip
@click.option("--thin-content", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of crops with thin-line content drawn in before the damage (wires, "
                   "hair, fences, text, lace: lines to keep, not repair).")  # fmt: skip
@click.option("--photo-under-mask/--no-photo-under-mask", default=False, show_default=True,
              help="The network also sees the photo with its holes unfilled (what lies under "
                   "the mask), to keep content a detector marked by mistake.")  # fmt: skip
@click.option("--grow-from", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Start from this narrower restorer export, grown to --width and --blocks "
                   "(and to --photo-under-mask) so that it computes exactly what the export "
                   "computes (new channels, blocks and inputs start as no-ops); ignored when "
                   "the run folder resumes.")  # fmt: skip
@common_options
def restorer(clean_dir, width, blocks, noise_estimate, nlm_min_sigma, clean_share,
             damage_only_share, mild_share, recoverable_share, detail_share, detail_mix,
             real_damage, hole_weight, gradient_weight, keep_weight, mask_dropout, false_alarms,
             false_alarm_weight, thin_content, photo_under_mask, grow_from, opts):  # fmt: skip
    """Image-space restorer: a residual over Telea + NL-means, toward re-toned targets."""
    check_spectrum(clean_share, mild_share, damage_only=damage_only_share,
                   recoverable=recoverable_share, detail=detail_share)  # fmt: skip
    from oldphoto_cli.archs.restorer_arch import RestorerConfig
    from oldphoto_cli.train.restorer import RestorerLosses, RestorerTrainer

    try:
        levels = tuple(int(b) for b in blocks.split(","))
    except ValueError:
        raise click.BadParameter(f"{blocks!r}: expected integers like 2,2,2",
                                 param_hint="--blocks") from None  # fmt: skip
    detail_groups = parse_group_probabilities(detail_mix) if detail_mix else None
    cfg = RestorerConfig(width=width, blocks=levels, noise_estimate=noise_estimate,
                         nlm_min_sigma=nlm_min_sigma, photo_under_mask=photo_under_mask)  # fmt: skip
    trainer = RestorerTrainer(opts, clean_dir, cfg,
                              RestorerLosses(hole_l1=hole_weight, gradient=gradient_weight,
                                             keep_l1=keep_weight,
                                             false_alarm_l1=false_alarm_weight),  # fmt: skip
                              clean_share=clean_share, damage_only_share=damage_only_share,
                              mild_share=mild_share, recoverable_share=recoverable_share,
                              detail_share=detail_share, detail_groups=detail_groups,
                              real_damage=real_damage,
                              mask_dropout=mask_dropout, false_alarms=false_alarms,
                              thin_content=thin_content)  # fmt: skip
    if grow_from and trainer.step == 0:
        trainer.grow_from(grow_from)
    click.echo(json.dumps(trainer.run()))


@train.command("face-restorer")
@click.option("--faces", "faces_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Aligned face portraits (e.g. ../shared/data/faces; research use).")  # fmt: skip
@click.option("--init-from", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Start from these restorer weights (default: the shipped restorer).")  # fmt: skip
@click.option("--clean-share", default=0.2, show_default=True, type=click.FloatRange(0, 1),
              help="Share of intact faces (target = input: do no harm).")  # fmt: skip
@click.option("--damage-only-share", default=0.1, show_default=True, type=click.FloatRange(0, 1),
              help="Share of intact faces with damage alone.")  # fmt: skip
@click.option("--mild-share", default=0.4, show_default=True, type=click.FloatRange(0, 1),
              help="Share of mildly damaged faces; the rest get the full damage mix.")  # fmt: skip
@mask_dropout_option(0.4)
@common_options
def face_restorer(faces_dir, init_from, clean_share, damage_only_share, mild_share,
                  mask_dropout, opts):  # fmt: skip
    """The restorer trained further on faces (the `restorer` face enhancer).

    Same inputs, targets and losses as `train restorer`, on --crop windows of the faces at
    their own scale. The weights are for research use (trained on faces derived from
    FFHQ); their metadata says so. Export: <out>/face_restorer.safetensors.
    """
    check_spectrum(clean_share, mild_share, damage_only=damage_only_share)
    from oldphoto_cli.train.restorer import FaceRestorerTrainer
    from oldphoto_cli.weights import find_weights

    if init_from is None:
        init_from = str(find_weights("restorer"))
    trainer = FaceRestorerTrainer(opts, faces_dir, init_from=init_from, clean_share=clean_share,
                                  damage_only_share=damage_only_share, mild_share=mild_share,
                                  mask_dropout=mask_dropout)  # fmt: skip
    click.echo(json.dumps(trainer.run()))


@train.command()
@click.option("--faces", "faces_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Aligned face portraits (e.g. ../shared/data/faces; research use).")  # fmt: skip
@click.option("--width", default=32, show_default=True, help="Channels at full resolution.")
@click.option("--max-width", default=192, show_default=True, help="Channels at coarse scales.")
@click.option("--n-up", default=4, show_default=True, help="SPADE blocks (each doubles the size).")
@click.option("--l1", "l1_weight", default=10.0, show_default=True)
@click.option("--gan-weight", default=1.0, show_default=True)
@click.option("--fm-weight", default=10.0, show_default=True, help="Feature matching.")
@click.option("--face-size", default=256, show_default=True,
              help="Faces are resized to this (the face stage aligns to 256) and degraded; "
              "--crop takes a random window of that, validation scores whole faces.")  # fmt: skip
@click.option("--clean-share", default=0.15, show_default=True,
              help="Share of intact faces whose target is themselves (do no harm).")  # fmt: skip
@click.option("--mild-share", default=0.35, show_default=True,
              help="Share of faces with the mild damage mix (real old faces are mostly mild).")
@common_options
def face(faces_dir, width, max_width, n_up, l1_weight, gan_weight, fm_weight, face_size,
         clean_share, mild_share, opts):  # fmt: skip
    """Face refinement network (SPADE) on degraded aligned faces.

    The weights are for research use (trained on faces derived from FFHQ); their metadata
    says so. Export: <out>/face.safetensors; put it in --weights-dir or $OLDPHOTO_WEIGHTS.
    """
    from oldphoto_cli.archs.face_arch import FaceConfig
    from oldphoto_cli.train.face import FaceTrainer

    cfg = FaceConfig(base_width=width, max_width=max_width, n_up=n_up)
    trainer = FaceTrainer(opts, faces_dir, cfg, l1_weight=l1_weight, gan_weight=gan_weight,
                          fm_weight=fm_weight, face_size=face_size,
                          clean_share=clean_share, mild_share=mild_share)  # fmt: skip
    click.echo(json.dumps(trainer.run()))


@train.command()
@click.option("--clean", "clean_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--knots", default=16, show_default=True, help="Segments of each channel's curve.")
@click.option("--thumbnail", default=64, show_default=True,
              help="Side of the thumbnail of the whole photo that the network sees.")  # fmt: skip
@click.option("--levels/--no-levels", default=True, show_default=True,
              help="Also learn black and white points (absolute tone, trained toward the "
                   "clean photo's own tone), not only the curve's shape.")  # fmt: skip
@click.option("--harm-weight", default=3.0, show_default=True,
              help="With levels: a photo made worse counts this many times its loss of "
                   "PSNR (a light, hazy photo looks faded).")  # fmt: skip
@common_options
def tone(clean_dir, knots, thumbnail, levels, harm_weight, opts):
    """Global tone curve (a faded print's curve undone) on clean photos given tone damage.

    Export: <out>/tone_curve.safetensors; restore finds it as tone_curve.safetensors in
    --weights-dir, $OLDPHOTO_WEIGHTS or the shipped weights.
    """
    from oldphoto_cli.archs.tone_arch import ToneCurveConfig
    from oldphoto_cli.train.tone import ToneTrainer

    cfg = ToneCurveConfig(knots=knots, thumbnail=thumbnail, levels=levels)
    trainer = ToneTrainer(opts, clean_dir, cfg, harm_weight=harm_weight)
    click.echo(json.dumps(trainer.run()))


COMMANDS = [train]
