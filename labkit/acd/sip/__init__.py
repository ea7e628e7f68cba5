"""A small RFC 3261 SIP stack over UDP on asyncio: what the ACD, its phones and its tests need."""
