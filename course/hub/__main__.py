"""``python -m course.hub provision HUB_TOML [--passwords FILE]``: prepare this machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course.hub.provision import ProvisionError, provision
from course.hub.settings import SettingsError, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    prov = sub.add_parser("provision", help="accounts, groups, course, exchange, gradebook, config (idempotent)")
    prov.add_argument("settings", type=Path, help="the hub's settings (deploy/onemachine/hub.example.toml)")
    prov.add_argument("--passwords", type=Path, help="file of user:password lines to set (chpasswd)")
    args = parser.parse_args(argv)
    try:
        settings = load(args.settings)
        lines = args.passwords.read_text(encoding="utf-8").splitlines() if args.passwords else None
        provision(settings, passwords=lines)
    except (SettingsError, ProvisionError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"ready: jupyterhub -f deploy/onemachine/jupyterhub_config.py with BIZCASES_HUB_SETTINGS={args.settings}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
