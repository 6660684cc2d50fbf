"""Prompt sets: synthetic object x modifier prompts, PartiPrompts, and COCO dense captions.

Every set is a list of prompt rows (``{"id", "text", "set", "meta"}``) written as JSONL by
:mod:`seedscope.prompts.rows`.
"""
