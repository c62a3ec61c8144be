"""Reusable widgets of the wizard's TUI: a labelled answers field with its error line, the
step bar, and a log view fed in batches. They know nothing about screens or the pipeline."""
