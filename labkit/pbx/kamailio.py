"""The seed's Asterisk dial plan as a Kamailio 5.6 configuration, and what Kamailio needs beside it.

`render(plan, addr, port, run_dir)` returns the text of ``kamailio.cfg``; `make_db` writes the
SQLite files it reads (the subscriber table the PBX authenticates against, and the tables
Kamailio's presence client checks for). The translation, decided here:

- **Who is calling.** A request from a static peer's address (``host=192.168.2.2``) is that
  peer, unauthenticated, like Asterisk's ``insecure=invite``. Every other request must
  authenticate with digest against the subscriber table (one row per peer with a ``secret``):
  REGISTER with 401/WWW-Authenticate, everything else with 407/Proxy-Authenticate. The
  realm is the PBX's address.
- **Registration.** A peer registers its own name, and may register any AOR that is not
  another peer's name (the ACD registers ``queue1``, ``acdlogin``, ...); another peer's name
  is refused with 403. Registrations and presence subscriptions are kept in memory and
  written back to SQLite every second by one timer process per module, each module with a
  file of its own in WAL mode, so no writer waits on another and the workers reading
  credentials never wait at all. (With writers sharing one file, SQLite's lock turned
  REGISTERs into 500s and credential checks into false 401s.)
  So a restarted PBX, after a crash or a changed dial plan, still knows who registered and
  who watches whom, as Asterisk does after a restart.
- **Contexts.** An INVITE is routed in the calling peer's ``context``; a SUBSCRIBE in its
  ``subscribecontext`` (else its context). Extensions are tried in Asterisk's match order
  (labkit.pbx.dialplan); no match is a 404 naming the context.
- **Dial(SIP/NAME)** sends the call to the AOR NAME in the registrar (404 when nobody
  registered it), or to a static peer's address. **Dial(SIP/PEER/USER)** sends it to the
  contact PEER registered (or PEER's address), with USER as the request's user part.
- **hint** answers the SUBSCRIBE from Kamailio's presence server for the hinted device: the
  `dialog` module tracks every call the PBX routes, and `pua_dialoginfo` PUBLISHes each state
  change (RFC 4235 dialog-info) for the device ends of it, a sip.conf peer that registers;
  `presence_dialoginfo` turns those into NOTIFYs to the watchers. Calls between AORs that are
  not devices (gateway to ``queue1``) are not published: nobody can watch them, and a busy
  queue would otherwise be one presentity updated hundreds of times a second.
- **In-dialog requests** follow the Record-Route the PBX inserted. A UA that ignores
  Record-Route (stock ``sipp -sn uac`` sends its ACK and BYE to the PBX with no Route, as
  it would to Asterisk, a B2BUA) is sent on to the other end of the dialog the dialog module
  matched by Call-ID and tags.
- **Media** is untouched: SDP passes end to end, RTP flows between the endpoints.
- ``OPTIONS`` to the PBX itself (no user part) gets 200: that is the readiness probe.
- **One SIP worker** (``children=1``): messages leave in the order they came. With two, a
  180 could overtake the 200 it preceded, or a BYE the ACK before it (both seen at 1,000
  calls/s in bench/pbx.py), and peers such as sipp's stock uac count that as a failed call.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from .dialplan import EXTEN, Dialplan, Exten

#: Where Debian's kamailio-sqlite-modules package installs Kamailio's own table definitions.
SQLITE_SCHEMA = Path("/usr/share/kamailio/db_sqlite")
#: Kamailio's control socket (kamcmd talks to it), in the run directory
CTL_SOCKET = "kamailio_ctl"
#: One SQLite file per module that writes, so each file has one writer (SQLite locks a whole
#: file): the schema files (Kamailio's own) each is made from.
DB_FILES = {"auth.sqlite": ("standard-create.sql", "auth_db-create.sql"),
            "location.sqlite": ("standard-create.sql", "usrloc-create.sql"),
            "presence.sqlite": ("standard-create.sql", "presence-create.sql")}
MODULES = ("kex", "corex", "tm", "tmx", "sl", "rr", "pv", "maxfwd", "textops", "siputils", "xlog",
           "sanity", "regex", "ctl", "usrloc", "registrar", "db_sqlite", "auth", "auth_db", "dialog",
           "presence", "presence_dialoginfo", "pua", "pua_dialoginfo")


def quote(text: str) -> str:
    """`text` as a Kamailio string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _name(ctx: str) -> str:
    """A context name as part of a Kamailio route name (letters, digits and _ only)."""
    return "".join(c if c.isalnum() else f"_{ord(c):x}_" for c in ctx)


def _match(ext: Exten) -> str:
    """The test for one extension. Patterns use the regex module's pcre_match, which keeps
    letter case as Asterisk does (Kamailio's own =~ ignores it, so `_pho[n]e.` would also
    match PHONE1). Asterisk also drops '-' from a dialled number before matching; labkit's
    extensions never contain one, so the PBX compares the request's user part as it is."""
    if ext.pattern.startswith("_"):
        # the argument may hold pseudo-variables, so a '$' anchor would read as one: PCRE's \z
        regex = ext.regex[:-1] + "\\z" if ext.regex.endswith("$") else ext.regex
        return f'pcre_match("$rU", {quote(regex)})'
    return f"$rU == {quote(ext.pattern)}"


def _value(token: str | None) -> str:
    """A Dial field as a Kamailio expression: the dialled extension, a literal, or empty."""
    if token is None:
        return '""'
    return "$rU" if token == EXTEN else quote(token)


def _context_route(plan: Dialplan, ctx: str, app: str) -> list[str]:
    """One context as a route: its Dial extensions as route[CTX_name] (app "dial"), or its
    hints as route[SUB_name] (app "hint"), tried in Asterisk's order; no match is a 404."""
    prefix, what = ("CTX", "extension") if app == "dial" else ("SUB", "hint")
    out = [f"route[{prefix}_{_name(ctx)}] {{  # {what}s of [{ctx}]"]
    for ext in plan.contexts[ctx].extens:
        if ext.app != app:
            continue
        if app == "dial":
            then = [f"        $var(dpeer) = {_value(ext.target.peer)};",
                    f"        $var(duser) = {_value(ext.target.user)};", "        route(DIAL);"]
        else:
            then = [f"        $rU = {_value(ext.target.peer)};", "        route(PRESENCE);"]
        out += [f"    if ({_match(ext)}) {{  # {ext.where}", *then, "        exit;", "    }"]
    out += [f'    sl_send_reply("404", {quote(f"No {what} in context {ctx}")});', "    exit;", "}"]
    return out


def render(plan: Dialplan, addr: str, port: int, run_dir: Path, source: str = "") -> str:
    """The kamailio.cfg for `plan`, listening on udp:addr:port, its files under `run_dir`."""
    static = {p.name: p for p in plan.peers.values() if p.host}
    dynamic = sorted(p.name for p in plan.peers.values() if not p.host)
    devices = " || ".join(f"$var(x) == {quote(n)}" for n in dynamic) or "0"
    auth, location, presence = (f"sqlite://{run_dir / name}" for name in DB_FILES)
    lines = ["#!KAMAILIO", f"# Rendered by labkit.pbx from {source or 'a dial plan'}; edits are overwritten.",
             "debug=2", "log_stderror=yes", "fork=yes", "children=1", "disable_tcp=yes",
             "auto_aliases=no", f"listen=udp:{addr}:{port}", f"alias={addr}:{port}", f"alias={addr}", ""]
    lines += [f'loadmodule "{m}.so"' for m in MODULES] + [""]
    params = [("ctl", "binrpc", f"unix:{run_dir / CTL_SOCKET}"),
              ("usrloc", "db_mode", 2), ("usrloc", "db_url", location), ("usrloc", "timer_interval", 1),
              *[("db_sqlite", "db_set_journal_mode", f"{run_dir / name}=WAL;") for name in DB_FILES],
              ("registrar", "min_expires", 5), ("registrar", "max_expires", 3600),
              ("auth_db", "db_url", auth), ("auth_db", "calculate_ha1", 1),
              ("auth_db", "password_column", "password"), ("auth_db", "load_credentials", ""),
              ("rr", "append_fromtag", 1), ("dialog", "dlg_match_mode", 1),
              ("presence", "subs_db_mode", 2), ("presence", "db_url", presence),
              ("presence", "db_update_period", 1), ("presence", "publ_cache", 2),
              ("presence", "server_address", f"sip:{addr}:{port}"),
              ("pua", "db_mode", 0), ("pua", "db_url", presence),
              ("pua_dialoginfo", "use_pubruri_avps", 1),
              ("pua_dialoginfo", "pubruri_caller_avp", "$avp(pub_caller)"),
              ("pua_dialoginfo", "pubruri_callee_avp", "$avp(pub_callee)")]
    lines += [f"modparam({quote(m)}, {quote(k)}, {v if isinstance(v, int) else quote(v)})" for m, k, v in params]
    realm = quote(addr)
    lines += ["", "request_route {",
              '    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }',
              "    if (!sanity_check()) { exit; }",
              '    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }',
              "    if (has_totag()) { route(WITHINDLG); exit; }",
              "    t_check_trans();",
              '    if (is_method("OPTIONS") && $rU == $null && uri == myself) { sl_send_reply("200", "OK"); exit; }',
              '    if (is_method("PUBLISH")) { route(PUBLISH); exit; }',
              "    route(IDENTIFY);",
              '    if (is_method("REGISTER")) { route(REGISTRAR); exit; }',
              '    if (is_method("SUBSCRIBE")) { route(SUBSCRIBE); exit; }',
              '    if (is_method("INVITE")) { route(CONTEXT); exit; }',
              '    append_to_reply("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REGISTER, SUBSCRIBE, NOTIFY\\r\\n");',
              '    sl_send_reply("405", "Method Not Allowed");',
              "}", "",
              "route[IDENTIFY] {  # $var(peer): the sip.conf peer sending this request"]
    for name, peer in sorted(static.items()):
        lines.append(f'    if (!is_method("REGISTER") && $si == {quote(peer.host or "")}) '
                     f'{{ $var(peer) = {quote(name)}; return; }}  # {peer.where}')
    lines += ['    if (is_method("REGISTER")) {',
              f'        if (!www_authorize({realm}, "subscriber")) {{ www_challenge({realm}, "0"); exit; }}',
              "    } else {",
              f'        if (!proxy_authorize({realm}, "subscriber")) {{ proxy_challenge({realm}, "0"); exit; }}',
              "    }",
              "    $var(peer) = $au;",
              "    consume_credentials();",
              "}", "",
              "route[REGISTRAR] {"]
    if plan.peers:
        others = " || ".join(f"$tU == {quote(n)}" for n in sorted(plan.peers))
        lines.append(f'    if ($tU != $au && ({others})) {{ sl_send_reply("403", "That AOR is another peer\'s"); exit; }}')
    lines += ['    if (!save("location")) { sl_reply_error(); }', "    exit;", "}", "",
              "route[CONTEXT] {  # each peer's context= (sip.conf)"]
    for peer in sorted(plan.peers.values(), key=lambda p: p.name):
        lines.append(f"    if ($var(peer) == {quote(peer.name)}) {{ route(CTX_{_name(peer.context)}); exit; }}")
    lines += ['    sl_send_reply("403", "No context for this peer");', "    exit;", "}", "",
              "route[SUBSCRIBE] {  # each peer's subscribecontext= (else its context)"]
    for peer in sorted(plan.peers.values(), key=lambda p: p.name):
        lines.append(f"    if ($var(peer) == {quote(peer.name)}) "
                     f"{{ route(SUB_{_name(peer.subscribecontext or peer.context)}); exit; }}")
    lines += ['    sl_send_reply("403", "No subscribe context for this peer");', "    exit;", "}", ""]
    for ctx in sorted(plan.contexts):
        lines += _context_route(plan, ctx, "dial") + [""] + _context_route(plan, ctx, "hint") + [""]
    lines += ["route[DIAL] {  # $var(dpeer): an AOR or a peer; $var(duser): the user part to put, or \"\""]
    for name, peer in sorted(static.items()):
        lines += [f"    if ($var(dpeer) == {quote(name)}) {{",
                  '        if ($var(duser) == "") { $var(duser) = $rU; }',
                  f'        $ru = "sip:" + $var(duser) + "@{peer.host}:{peer.port}";',
                  "        route(RELAY);", "        exit;", "    }"]
    lines += [f'    $var(aor) = "sip:" + $var(dpeer) + "@{addr}";',
              '    if (!lookup("location", "$var(aor)")) { sl_send_reply("404", "Not registered"); exit; }',
              '    if ($var(duser) != "") { $rU = $var(duser); }',
              "    route(RELAY);", "}", "",
              "route[RELAY] {  # dialog states are published for the devices (peers that register) at each end",
              "    $var(x) = $var(peer);",
              f"    if (($var(x) == $fU) && ({devices})) {{ $avp(pub_caller) = \"sip:\" + $var(x) + \"@{addr}\"; }}",
              "    $var(x) = $var(dpeer);",
              f"    if (($var(x) == $tU) && ({devices})) {{ $avp(pub_callee) = \"sip:\" + $var(x) + \"@{addr}\"; }}",
              "    dlg_manage();", "    record_route();",
              "    if (!t_relay()) { sl_reply_error(); }", "    exit;", "}", "",
              "route[PRESENCE] {",
              "    if (!t_newtran()) { sl_reply_error(); exit; }",
              "    handle_subscribe();", "    t_release();", "    exit;", "}", "",
              "route[PUBLISH] {  # only pua_dialoginfo, inside this PBX, publishes",
              "    if (src_ip != myself) { sl_send_reply(\"403\", \"PUBLISH only from the PBX itself\"); exit; }",
              "    if (!t_newtran()) { sl_reply_error(); exit; }",
              "    handle_publish();", "    t_release();", "    exit;", "}", "",
              "route[WITHINDLG] {",
              "    if (loose_route()) {",
              "        dlg_manage();",
              "        if (!t_relay()) { sl_reply_error(); }",
              "        exit;",
              "    }",
              "    if (uri == myself) {",
              '        if (is_method("SUBSCRIBE")) { route(PRESENCE); exit; }',
              "        # a UA that ignored our Record-Route: the other end of the dialog it belongs to",
              "        dlg_manage();",
              "        if (dlg_set_ruri()) { if (!t_relay()) { sl_reply_error(); } exit; }",
              "    }",
              '    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }',
              '    sl_send_reply("404", "Not here");',
              "}", ""]
    return "\n".join(lines)


def make_db(plan: Dialplan, run_dir: Path, realm: str, schema: Path = SQLITE_SCHEMA) -> None:
    """Write the SQLite files the config reads (DB_FILES): Kamailio's own table definitions
    (from its Debian package) for a file that is new, and the subscriber rows (user, realm,
    password), one per peer with a secret, every time. Registrations and subscriptions
    already in existing files are kept (a restart of the PBX in the same lab)."""
    for name, scripts in DB_FILES.items():
        path = run_dir / name
        new = not path.exists()
        with sqlite3.connect(path) as db:
            if new:
                for script in scripts:
                    db.executescript((schema / script).read_text())
            if name == "auth.sqlite":
                db.execute("DELETE FROM subscriber")
                db.executemany("INSERT INTO subscriber (username, domain, password) VALUES (?, ?, ?)",
                               [(p.name, realm, p.secret) for p in plan.peers.values() if p.secret])
        db.close()


def kamcmd(ctl_socket: Path, *command: str) -> str:
    """A Kamailio RPC over its control socket (a Unix socket: no lab traffic), as kamcmd
    prints it; RuntimeError with kamcmd's message when it fails (Kamailio not running)."""
    import subprocess

    p = subprocess.run(["kamcmd", "-s", f"unix:{ctl_socket}", *command], capture_output=True, text=True,
                       timeout=10)
    if p.returncode != 0:
        why = (p.stderr or p.stdout).strip().splitlines()
        raise RuntimeError(f"kamcmd {' '.join(command)} failed: {why[-1][:200] if why else f'exit {p.returncode}'}")
    return p.stdout


def parse_kamcmd(text: str) -> object:
    """kamcmd's printed RPC result as Python: ``{ k: v ... }`` blocks become dicts (a key
    seen twice becomes a list), scalars stay strings. Used for ``ul.dump``."""
    stack: list[tuple[dict, str | None]] = []
    root: dict = {}
    cur, pending = root, None

    def put(d: dict, k: str, v: object) -> None:
        if k in d:
            d[k] = d[k] + [v] if isinstance(d[k], list) else [d[k], v]
        else:
            d[k] = v

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "{" or line.endswith(": {"):
            key = line[:-3].strip() if line.endswith(": {") else (pending or "")
            stack.append((cur, key))
            cur, pending = {}, None
        elif line == "}":
            parent, key = stack.pop()
            put(parent, key, cur)
            cur = parent
        elif ": " in line or line.endswith(":"):
            k, _, v = line.partition(":")
            put(cur, k.strip(), v.strip())
        else:
            pending = line
    return root


def registrations(ul_dump: str) -> dict[str, list[str]]:
    """AOR -> the contacts registered for it, from ``kamcmd ul.dump`` output."""
    out: dict[str, list[str]] = {}

    def walk(node: object) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict):
            if "AoR" in node:                 # one record: AoR, HashID, Contacts {Contact ...}
                contacts = node.get("Contacts", {})
                items = contacts.get("Contact", []) if isinstance(contacts, dict) else []
                items = items if isinstance(items, list) else [items]
                out[str(node["AoR"])] = sorted(c.get("Address", "") for c in items if isinstance(c, dict))
                return
            for v in node.values():
                walk(v)

    walk(parse_kamcmd(ul_dump))
    return dict(sorted(out.items()))
