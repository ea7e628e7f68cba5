"""Mail host of the seed's EC2 VM: Postfix from the seed main.cf, mailbox automation
(locked files + batched postmap, or SQLite), remote MX sinks, and the seed's puzzle."""
