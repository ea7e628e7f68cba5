"""Pictures: topology drawings, SIP ladders and plots."""
