"""The ACD lab's PBX: the seed's Asterisk dial plan, read into a model that Kamailio runs.

The seed (a 2012 blog post) routed its ACD's calls with Asterisk: peers in `sip.conf`,
routes in `extensions.conf`. labkit runs Kamailio instead; `labkit.pbx.dialplan`
reads a supported subset of those two files into a model (peers, contexts, extensions
in Asterisk's match order, each pattern also as a POSIX regular expression) and
reports every mistake as FILE:LINE, and `labkit.pbx.kamailio` translates that model
into Kamailio routing. This package imports no submodule on purpose: import the one
you need.
"""
