"""Data for the cases: one module per case, plus shared loaders for real data sets.

Every loader takes ``seed``: ``None`` gives the course-wide default data (for real data sets,
the data exactly as published); an integer gives a reproducible per-student variant.
"""
