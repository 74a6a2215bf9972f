"""What the plugins registered, kind by kind: the rows of ``oldphoto stages`` and of
``oldphoto degrade --list``.

Nothing here imports torch, numpy or OpenCV except :func:`degradation_table` (it reads the
default damage mix): listing stays fast.
"""

from __future__ import annotations

from typing import Any

from oldphoto_cli.registry import FACE_DETECTOR, default_of

DEGRADE = "degrade"  # the kind under which degradations are listed
FALLBACK_FACE_DETECTOR = "haar"  # built in; used when no plugin claims the default


def _row(spec: Any, default: str | None) -> dict[str, Any]:
    return {"name": spec.name, "plugin": spec.plugin, "default": spec.name == default,
            "description": spec.description}  # fmt: skip


def degradation_rows() -> list[dict[str, Any]]:
    """One row per registered degradation (none is a default: ``degrade`` draws a mix)."""
    from oldphoto_cli.degrade.registry import get_degradations

    return [
        {"name": spec.name, "plugin": spec.plugin, "default": False,
         "description": f"{'structured' if spec.structured else 'unstructured'}, "
                        f"group {spec.group}",
         "group": spec.group, "structured": spec.structured}
        for spec in get_degradations().values()
    ]  # fmt: skip


def stage_rows() -> dict[str, list[dict[str, Any]]]:
    """Every kind plugins register, in pipeline order, then face detectors and
    degradations: kind -> [{name, plugin, default, description}, ...]."""
    from oldphoto_cli import faces, stages

    rows: dict[str, list[dict[str, Any]]] = {}
    for kind in stages.KINDS:
        default = stages.default_name(kind)
        rows[kind] = [_row(spec, default) for spec in stages.stages_of(kind)]
    detectors = faces.face_detectors()
    chosen = default_of([spec for spec in detectors if spec.default])
    default = chosen.name if chosen else FALLBACK_FACE_DETECTOR
    rows[FACE_DETECTOR] = [_row(spec, default) for spec in detectors]
    rows[DEGRADE] = degradation_rows()
    return rows


def degradation_table() -> list[dict[str, Any]]:
    """:func:`degradation_rows` with ``p``: how likely the degradation's group is to fire
    in ``oldphoto degrade``'s default mix (0: off unless named with ``--only`` and
    ``--always``). A group the default mix does not name fires with the largest ``p`` its
    degradations registered (:class:`oldphoto_cli.degrade.DegradeConfig`)."""
    from oldphoto_cli.degrade import DegradeConfig, get_degradations

    specs = get_degradations().values()
    group_p = DegradeConfig().group_p
    rows = degradation_rows()
    for row in rows:
        members = [spec.p for spec in specs if spec.group == row["group"]]
        row["p"] = group_p.get(row["group"], max(members))
    return rows
