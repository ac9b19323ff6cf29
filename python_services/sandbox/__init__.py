"""The sandbox: an Evolution-compatible gateway with a two-phone web page, for
trying HybridFlow without WhatsApp and as the fake Evolution of the tests."""
