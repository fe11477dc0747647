"""``mmrl-desktop exclude`` and ``include``: set bad items aside, and bring them back.

    mmrl-desktop exclude --project DIR ITEM_ID [ITEM_ID ...] [--reason TEXT] [--json]
    mmrl-desktop exclude --project DIR --list [--json]
    mmrl-desktop include --project DIR ITEM_ID [ITEM_ID ...] [--json]

An excluded item leaves the queue, training, ``simulate`` and ``evaluate``; nothing is deleted
(its answers stay in the log, unused) and ``include`` undoes it (``core/data/exclusions.py``). An
unknown id is one sentence and exit 2, and then nothing is written.
"""

from __future__ import annotations

import json
import sys
import time

from mmrl_desktop.core.errors import UserError


def run(args) -> int:
    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.core.labelling.session import default_annotator

    listing = getattr(args, "list", False)
    if listing and args.item_ids:
        raise UserError("--list takes no item ids; give either ids to exclude or --list.")
    if not listing and not args.item_ids:
        raise UserError(f"name at least one item id to {args.command}.")
    project = resolve_project(args.project)
    with project.open_store() as store:
        if listing:
            result = {"project": str(project.root), "exclusions": _listed(store.exclusions())}
        elif args.command == "exclude":
            done = store.exclude_items(args.item_ids, args.reason, default_annotator())
            result = {
                "project": str(project.root),
                "excluded": done,
                "already_excluded": [i for i in dict.fromkeys(args.item_ids) if i not in done],
                "reason": args.reason,
            }
        else:
            done = store.include_items(args.item_ids, default_annotator())
            result = {
                "project": str(project.root),
                "included": done,
                "not_excluded": [i for i in dict.fromkeys(args.item_ids) if i not in done],
            }
    print(json.dumps(result, ensure_ascii=False) if args.json else _text(result, args))
    return 0


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _listed(exclusions) -> list[dict]:
    return [
        {
            "item_id": e.item_id,
            "reason": e.reason,
            "annotator": e.annotator,
            "excluded_at": _iso(e.timestamp),
        }
        for e in exclusions
    ]


def _ids(ids: list[str]) -> str:
    return ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


def _text(result: dict, args) -> str:
    if "exclusions" in result:
        rows = result["exclusions"]
        if not rows:
            return "no item is excluded."
        return "\n".join(
            f"{r['item_id']}\t{r['excluded_at']}\t{r['annotator']}\t{r['reason']}" for r in rows
        )
    lines = []
    if "excluded" in result:
        if result["excluded"]:
            lines.append(
                f"excluded {len(result['excluded'])} item(s): {_ids(result['excluded'])}; "
                "their answers stay in the log, unused. "
                f"`mmrl-desktop include --project {args.project} ID` brings one back."
            )
        if result["already_excluded"]:
            lines.append(f"already excluded: {_ids(result['already_excluded'])}.")
    else:
        if result["included"]:
            lines.append(
                f"included {len(result['included'])} item(s) again: {_ids(result['included'])}."
            )
        if result["not_excluded"]:
            lines.append(f"not excluded, nothing to do: {_ids(result['not_excluded'])}.")
    return "\n".join(lines)


def warn_unreadable(bad: list[dict], project_arg: str) -> None:
    """A warning line on stderr per item none of whose files could be read (``train``,
    ``simulate``, ``evaluate``): it was left out, the others went on; and how to set it aside."""
    for b in bad[:10]:
        sys.stderr.write(f"warning: left out {b['item_id']}: {b['reason']}\n")
    if len(bad) > 10:
        sys.stderr.write(f"warning: left out {len(bad) - 10} more unreadable items\n")
    if bad:
        ids = " ".join(b["item_id"] for b in bad[:3]) + (" …" if len(bad) > 3 else "")
        sys.stderr.write(
            f"warning: to set them aside for good: mmrl-desktop exclude --project {project_arg} "
            f"{ids}\n"
        )
