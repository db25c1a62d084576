"""Verbatim copies of auditcore/ingest/{validation,redaction,pipeline}.py before the speed work.

Frozen on purpose: test_speed_equivalence.py checks the live modules against them. Do not edit.
"""
