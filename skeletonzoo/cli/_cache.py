"""``skeletonzoo cache ls|verify|clear``."""

from __future__ import annotations

import argparse


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def _run(args: argparse.Namespace) -> int:
    from ..hub import clear_cache, existing_cache_root, list_cache, verify_cache

    root = existing_cache_root(args.cache_dir)
    if args.action == "clear":
        freed = clear_cache(args.cache_dir)
        print(f"cleared skeletonzoo's downloads from {root}: {_size(freed)} freed")
        others = len(list_cache(args.cache_dir))
        if others:
            print(f"left {others} file{'s' if others != 1 else ''} that skeletonzoo did not download "
                  "(skeletonzoo cache ls lists them)")  # fmt: skip
        return 0
    if args.action == "ls":
        files = list_cache(args.cache_dir)
        print(f"cache: {root}")
        for f in files:
            models = ", ".join(f.models) if f.models else "(not in the manifest)"
            print(f"  {models}  {_size(f.size_bytes)}  {f.source}  {f.path}")
        total = sum(f.size_bytes for f in files)
        print(f"{len(files)} file{'s' if len(files) != 1 else ''}, {_size(total)}")
        return 0
    results = verify_cache(args.cache_dir, remove_bad=args.remove_bad)
    bad = 0
    for cached, status in results:
        models = ", ".join(cached.models) if cached.models else "(not in the manifest)"
        print(f"  {status if status in ('ok', 'unknown') else 'BAD'}  {models}  {cached.path}")
        if status not in ("ok", "unknown"):
            bad += 1
            print(f"      {status}")
    print(f"{len(results)} cached file(s) in {root}, {bad} failed verification")
    if bad and not args.remove_bad:
        print("bad files are never loaded (they are replaced on the next load); --remove-bad deletes them now")
    return 1 if bad else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cache",
        help="list, verify or clear downloaded weights",
        description="Downloaded weights live in $SKELETONZOO_CACHE, else $HF_HOME/skeletonzoo "
        "(~/.cache/huggingface/skeletonzoo): Hub downloads under hub/, mirror downloads under mirrors/.",
    )
    p.add_argument("action", choices=["ls", "verify", "clear"],
                   help="ls: cached files and their models; verify: re-check sizes and sha256; clear: delete "
                   "skeletonzoo's downloads (other files in the folder are kept)")  # fmt: skip
    p.add_argument("--cache-dir", help="cache root to use instead of the default")
    p.add_argument("--remove-bad", action="store_true", help="verify: delete files that fail")
    p.set_defaults(handler=_run)
