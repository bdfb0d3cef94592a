"""``ethojoint rules``: store behaviour rule documents, list the rule sets, show one.

::

    ethojoint rules add my_rules.yaml [--name NAME]   # or a preset: ethojoint rules add deepof-0.9
    ethojoint rules list
    ethojoint rules show NAME                          # name or id

``add`` validates the document (errors name the file, the behaviour and the
field) and stores it content-hashed: adding the same rules again changes
nothing and prints the same id.  ``populate`` then scores every pose with it.
"""

from __future__ import annotations

import json


def add_parsers(sub) -> None:
    """Add the ``rules`` subcommand (``add``, ``list``, ``show``) to an argparse subparsers object."""
    rules = sub.add_parser("rules", help="behaviour rule sets: store a rule document, list them, show one")
    actions = rules.add_subparsers(dest="rules_action", required=True)

    add = actions.add_parser("add", help="validate and store a rule document (YAML/JSON file or preset name)")
    add.add_argument("file", help="rule document (.yaml, .yml, .json) or a preset name, e.g. deepof-0.9")
    add.add_argument("--name", default=None, help="rule-set name (default: the document's name)")
    add.add_argument("--bin-s", type=float, default=60.0, help="time-bin length of the TimeBin rows (60 s)")
    add.add_argument("--n-bins", type=int, default=3, help="number of time bins (3)")
    add.set_defaults(func=cmd_rules_add)

    lst = actions.add_parser("list", help="stored rule sets, with how many recordings each scored")
    lst.set_defaults(func=cmd_rules_list)

    show = actions.add_parser("show", help="one rule set: its document (or fixed rules) and counts")
    show.add_argument("name", help="rule-set name or id")
    show.set_defaults(func=cmd_rules_show)


def _activate(args):
    import schemas

    return schemas.activate(getattr(args, "prefix", None))


def cmd_rules_add(args) -> int:
    from schemas import behavior

    _activate(args)
    before = len(behavior.SocialRuleSet())
    rule_set = behavior.SocialRuleSet.add_document(args.file, name=args.name, bin_s=args.bin_s, n_bins=args.n_bins)
    row = (behavior.SocialRuleSet & {"rule_set": rule_set}).fetch1()
    behaviors = [b["name"] for b in row["params"]["document"]["behaviors"]]
    new = len(behavior.SocialRuleSet()) > before
    print(f"{'stored' if new else 'already stored'}: rule set {row['rule_set_name']!r} (id {rule_set}), "
          f"units {row['units']}, behaviours {', '.join(behaviors)}")
    if not new and args.name and args.name != row["rule_set_name"]:
        print(f"note: these rules are stored under the name {row['rule_set_name']!r}; the name is kept")
    return 0


def rule_sets():
    """One row per stored rule set: name, id, kind, units, behaviours, recordings scored and not scorable."""
    import pandas as pd

    from schemas import behavior

    rows = behavior.SocialRuleSet.to_dicts(order_by="rule_set_name")
    scored = _count(behavior.SocialBouts)
    unscorable = _count(behavior.NotScorable)
    out = []
    for r in rows:
        out.append({"name": r["rule_set_name"], "id": r["rule_set"], "kind": r["kind"], "units": r["units"],
                    "behaviours": ", ".join(_behaviors(r)),
                    "scored": scored.get(r["rule_set"], 0), "not_scorable": unscorable.get(r["rule_set"], 0)})
    return pd.DataFrame(out, columns=["name", "id", "kind", "units", "behaviours", "scored", "not_scorable"])


def _count(table) -> dict:
    import collections

    return dict(collections.Counter(table.to_arrays("rule_set").tolist())) if len(table()) else {}


def _behaviors(row) -> list:
    if row["kind"] == "document":
        return [b["name"] for b in row["params"]["document"]["behaviors"]]
    from pipeline.behavior import RuleSet

    return list(RuleSet.from_dict(row["params"]["rules"]).behaviors)


def cmd_rules_list(args) -> int:
    from pipeline.behavior.ruledoc import list_presets

    _activate(args)
    table = rule_sets()
    if table.empty:
        print("no rule sets stored")
    else:
        print(table.to_string(index=False))
    stored = set(table["name"]) if not table.empty else set()
    presets = [p for p in list_presets() if p not in stored]
    if presets:
        print(f"presets not stored yet (ethojoint rules add NAME): {', '.join(presets)}")
    return 0


def find_rule_set(name: str) -> dict:
    """The SocialRuleSet row with this id or name; InputError when none or several match."""
    from pipeline.errors import InputError
    from schemas import behavior

    rows = (behavior.SocialRuleSet & [{"rule_set": name}, {"rule_set_name": name}]).to_dicts()
    if len(rows) == 1:
        return rows[0]
    if rows:
        ids = ", ".join(f"{r['rule_set']} ({r['kind']})" for r in rows)
        raise InputError(f"rule set {name!r}", f"{len(rows)} rule sets have this name: {ids}; give an id")
    known = sorted(set(behavior.SocialRuleSet.to_arrays("rule_set_name").tolist()))
    raise InputError(f"rule set {name!r}", f"no rule set has this id or name; known names: {known}")


def cmd_rules_show(args) -> int:
    import yaml

    from schemas import behavior

    _activate(args)
    row = find_rule_set(args.name)
    key = {"rule_set": row["rule_set"]}
    params = row["params"]
    print(f"rule set {row['rule_set_name']!r}")
    print(f"  id:            {row['rule_set']}")
    print(f"  kind:          {row['kind']}")
    print(f"  units:         {row['units']}")
    if row["document_sha256"]:
        print(f"  content hash:  sha256 {row['document_sha256']}")
    print(f"  time bins:     {int(params['n_bins'])} x {float(params['bin_s']):g} s")
    print(f"  pose versions: {len(behavior.SocialBouts & key)} scored, "
          f"{len(behavior.NotScorable & key)} not scorable")
    for r in (behavior.NotScorable & key).to_dicts():
        print(f"    not scorable {r['session']}/{r['pose_version']}: {r['reason']}")
    body = params["document"] if row["kind"] == "document" else {k: v for k, v in params.items()
                                                                  if k not in ("bin_s", "n_bins")}
    print("---")
    print(yaml.safe_dump(json.loads(json.dumps(body)), sort_keys=False, allow_unicode=True).rstrip())
    return 0
