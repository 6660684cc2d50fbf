"""Inpainting text artifacts: OCR of inpainted regions and the ``ocr`` feature
extractor (:mod:`seedscope.inpainting.ocr`), per-seed text statistics and the ``text`` tag
(:mod:`seedscope.inpainting.perseed`).

Nothing is imported here, so that reading the pair set does not load the OCR runtime.
"""
