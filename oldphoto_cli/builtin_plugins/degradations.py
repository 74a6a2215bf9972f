"""Built-in degradations (synthetic old-photo damage for training data).

``p`` here is each op's weight within its group; group probabilities are the defaults of
:class:`oldphoto_cli.degrade.DegradeConfig`. Functions are registered by name and imported
on first use: listing plugins must not import numpy and OpenCV.
"""

from __future__ import annotations

from oldphoto_cli.hookspecs import hookimpl


@hookimpl
def oldphoto_register_degradations(register):
    u = "oldphoto_cli.degrade.unstructured:"
    s = "oldphoto_cli.degrade.structured:"
    unstructured = [
        ("gaussian_blur", u + "gaussian_blur", "blur", 0.5),
        ("defocus_blur", u + "defocus_blur", "blur", 0.3),
        ("motion_blur", u + "motion_blur", "blur", 0.2),
        ("gaussian_noise", u + "gaussian_noise", "noise", 0.4),
        ("speckle_noise", u + "speckle_noise", "noise", 0.2),
        ("poisson_noise", u + "poisson_noise", "noise", 0.25),
        ("salt_pepper_noise", u + "salt_pepper_noise", "noise", 0.15),
        ("film_grain", u + "film_grain", "grain", 1.0),
        ("jpeg", u + "jpeg", "jpeg", 1.0),
        ("low_resolution", u + "low_resolution", "resize", 1.0),
        ("fade", u + "fade", "fade", 1.0),
        ("tint", u + "tint", "tint", 1.0),
        ("contrast_gamma", u + "contrast_gamma", "tone", 1.0),
        ("vignette", u + "vignette", "vignette", 1.0),
        ("grayscale", u + "grayscale", "grayscale", 1.0),
        ("paper_texture", u + "paper_texture", "texture", 1.0),
        # recoverable damage for the restorer; their groups are off (p = 0) by default
        ("soft_blur", u + "soft_blur", "soft_blur", 1.0),
        ("resample", u + "resample", "resample", 1.0),
        ("jpeg_strong", u + "jpeg_strong", "jpeg_strong", 1.0),
    ]
    for name, fn, group, p in unstructured:
        register(name, fn, group=group, structured=False, p=p)

    structured = [
        ("scratches", s + "scratches", "scratch"),
        ("cracks", s + "cracks", "crack"),
        ("dust", s + "dust", "dust"),
        ("stains", s + "stains", "stain"),
        ("worn_edges", s + "worn_edges", "edge"),
        ("fold_lines", s + "fold_lines", "fold"),
        # wider distributions; their groups are off (p = 0) in the default config
        ("scratches_varied", s + "scratches_varied", "scratch_varied"),
        ("film_scratches", s + "film_scratches", "scratch_film"),
        ("cracks_varied", s + "cracks_varied", "crack_varied"),
        ("hairs", s + "hairs", "hair"),
        ("flaking", s + "flaking", "flake"),
        # real damage: film-damage overlays (a data folder) and print cracks and tears
        ("film_overlays", "oldphoto_cli.degrade.film_overlays:film_overlays", "overlay"),
        ("print_cracks", "oldphoto_cli.degrade.print_damage:print_cracks", "crack_print"),
        ("tears", "oldphoto_cli.degrade.print_damage:tears", "tear"),
        # one crack on a sound print: the detector's sparse-damage crops (data.SPARSE_GROUP_P)
        ("lone_crack", "oldphoto_cli.degrade.print_damage:lone_crack", "crack_lone"),
    ]
    for name, fn, group in structured:
        register(name, fn, group=group, structured=True, p=1.0)
