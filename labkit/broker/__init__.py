"""The lab broker (issue 16): unprivileged students bring up and use labs of their own.

A root daemon on a Unix socket. It identifies each caller by the kernel's peer credentials
(`SO_PEERCRED`, never by anything the caller says), gives each user the instance prefix of
labkit.lab.state.scoped (`u<uid in base 36>-`), so a user's labs are named apart and its
requests can reach no other lab, and keeps per-user quotas. docs/notes/class.md records why
a broker and not rootless namespaces, and the rules it keeps.

    protocol   a request: JSON, checked in full (op, names, argv, sizes) before anything runs
    quota      labs and nodes per user, with the message a refused student reads
"""
