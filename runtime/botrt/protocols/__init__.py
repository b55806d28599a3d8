"""Platforms botrt speaks: each subpackage turns one platform's wire format into events.

Platforms depend on `botrt.adapter` only; they never import the plugin machinery.
"""
