"""The SIP ACD server of the seed post "ACD Server with resiprocate", rebuilt on asyncio.

Sub-parts: ``sip`` (messages, transactions, dialogs, UDP endpoint), ``core`` (queues and
agents), ``server`` (the ACD on top of both), ``rest`` (the JSON API), ``phone`` (labkit agent
phones and callers). The seed's JSON class is ``labkit.jsondoc``; G.711 µ-law RTP is ``labkit.rtp``.
"""
