"""The seed's puzzle: why must virtual_alias_domains not list the mailbox domains?

The author found it by trial ("I'm not sure why"). Running it answers it. Postfix's
trivial-rewrite gives every recipient domain exactly ONE address class, tried in a fixed
order: local (mydestination), then virtual alias (virtual_alias_domains), then virtual
mailbox (virtual_mailbox_domains), then relay, then default. A domain in both lists is
therefore a virtual alias domain, and that class has no mailboxes: each of its addresses
must be rewritten by virtual_alias_maps, or it is "User unknown in virtual alias table".
So admin@ and test@, which are only in vmbox, are rejected with 550 5.1.1, while user1@
(an alias) still works. Postfix says so in its log on every lookup:

    warning: do not list domain exampledomain.ca in BOTH virtual_alias_domains and
    virtual_mailbox_domains

The seed's setup works without virtual_alias_domains because virtual_alias_maps is
applied (by cleanup) to EVERY recipient, whatever its domain class: the aliases need no
alias domain as long as the domain is a mailbox domain.

The post also says to "only list the domains in virtual_mailbox_maps". That is a slip: the
seed's own main.cf lists its domains in virtual_mailbox_domains (the vdomains map), and
virtual_mailbox_maps (vmbox) maps addresses to mailboxes (postconf(5), VIRTUAL_README).
`run(slip=True)` takes the words literally: the domain moves from vdomains to vmbox, and
Postfix is no longer its final destination ("Relay access denied").
"""
from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from labkit.mail.postfix import SEED_DIR, LoopbackPostfix
from labkit.procs import WaitTimeout, wait_until

EXPLANATION = __doc__
_WARNING = re.compile(r"warning: (do not list domain .*)")


@dataclass
class PuzzleResult:
    """What Postfix does with a config; replies are (code, text) of RCPT TO."""

    both_listed: bool
    replies: dict[str, tuple[int, str]]
    warnings: list[str]

    def table(self) -> str:
        """A small deterministic table for a notebook cell."""
        rows = [f"{'recipient':<26} {'code':>4}  reply"]
        for rcpt, (code, text) in self.replies.items():
            short = re.sub(r"^[0-9.]+ <[^>]+>: ", "", text)
            rows.append(f"{rcpt:<26} {code:>4}  {short}")
        return "\n".join(rows)


RECIPIENTS = ("admin@exampledomain.ca", "test@exampledomain.ca", "user1@exampledomain.ca",
              "nobody@exampledomain.ca")


def run(both: bool = True, recipients: tuple[str, ...] = RECIPIENTS, slip: bool = False) -> PuzzleResult:
    """Start a loopback Postfix from the seed (optionally adding the domain to
    virtual_alias_domains too; or, with ``slip``, with the domain listed in vmbox instead of
    vdomains), ask RCPT TO for each recipient, collect the log warning."""
    extra = {"virtual_alias_domains": "exampledomain.ca"} if both else {}
    with tempfile.TemporaryDirectory(prefix="lk-puzzle-") as tmp:
        seed = slipped_seed(Path(tmp)) if slip else SEED_DIR
        with LoopbackPostfix(extra=extra, sinks=(), postmapd=False, seed_dir=seed) as pf:
            replies = {r: pf.rcpt_status(r) for r in recipients}
            if both:
                # the warning reaches the maillog through postlogd, after the replies: wait
                # for it (bounded; if it never comes, the result says so by its absence)
                try:
                    wait_until(lambda: _WARNING.search(pf.log_text()), 10, what="the BOTH warning")
                except WaitTimeout:
                    pass
            warnings = sorted({m.group(1) for m in _WARNING.finditer(pf.log_text())})
    return PuzzleResult(both, replies, warnings)


def slipped_seed(tmp: Path, domain: str = "exampledomain.ca") -> Path:
    """A copy of the seed's main.cf and maps in ``tmp`` with ``domain`` moved from vdomains
    (virtual_mailbox_domains) to vmbox (virtual_mailbox_maps), as the post's words say."""
    seed = tmp / "seed"
    seed.mkdir()
    for name in ("main.cf", "vdomains", "vmbox", "valias"):
        shutil.copyfile(SEED_DIR / name, seed / name)
    kept = [ln for ln in (seed / "vdomains").read_text().splitlines() if ln.split()[:1] != [domain]]
    (seed / "vdomains").write_text("\n".join(kept) + "\n")
    with open(seed / "vmbox", "a") as f:
        f.write(f"{domain} {domain}\n")
    return seed
