"""Quantum signal processing: the inverse polynomial and its phase factors (numpy/scipy only)."""
