"""Security building blocks: host checks, proxies, events, signing, SSRF guard and more.

Each module owns one defence; the app wires them into the request pipeline (see app.py).
"""
